// What an experiment declares — its name, its config with a preset per scale, the flags that
// change it, and a run that returns what to write — and the one runner that does the rest: the
// kernel choice, the flags checked whole before any work, interruption, the checkpoints, the
// dataset, the banner, the data files written atomically once every run is done, and cleanup.
import ArgumentParser
import Data
import Foundation
import Tensor

/// An experiment's settings: the scale's preset, flags applied on top, then checked whole.
public protocol ExperimentConfig: Codable {
    static func preset(_ scale: Scale) -> Self
    /// Every impossible or meaningless value, with the flag that sets it and the fix. The only
    /// place a config is checked.
    func validate() throws
}

/// A config that trains by one recipe: the recipe's flag group reads the default scale's for its
/// help, so `--help` shows the value that runs.
public protocol RecipeConfig: ExperimentConfig {
    associatedtype Recipe
    var recipe: Recipe { get set }
}

/// Flags that change a config: each only sets a field (or refuses text it cannot read). `scale`
/// is the run's, for a value derived from the scale's presets.
public protocol ConfigFlags: ParsableArguments {
    associatedtype Config
    func apply(to config: inout Config, scale: Scale) throws
    /// Flags that need not know the scale implement this one instead.
    func apply(to config: inout Config) throws
}

extension ConfigFlags {
    public func apply(to config: inout Config) throws {}
    public func apply(to config: inout Config, scale: Scale) throws { try apply(to: &config) }
}

/// For an experiment whose only flags are the shared ones.
public struct NoFlags<Config>: ConfigFlags {
    public init() {}
}

public protocol Experiment {
    associatedtype Config: ExperimentConfig
    associatedtype Options: ConfigFlags = NoFlags<Config> where Options.Config == Config
    /// The executable's name, its data files' prefix and its checkpoints' folder.
    static var name: String { get }
    /// One line for --help: the question it answers and where in the papers.
    static var abstract: String { get }
    init()
    /// The experiment on a validated config; returns the files to write.
    func run(_ config: Config, _ context: ExperimentContext) throws -> Report
}

/// What a run has to hand: the shared options, the dataset, and its checkpoints.
public struct ExperimentContext {
    public let options: ExperimentOptions
    public let data: FashionMNIST
    public let checkpoints: Checkpoints

    public var scale: Scale { options.scale }
    public var seed: UInt64 { options.seed }
    public var cache: URL { options.cacheURL }
    /// The `count` seeds of a multi-seed experiment: seed, seed &+ 1, …
    public func seeds(_ count: Int) -> [UInt64] { options.seeds(count) }
    /// The comment line every data file carries: the code's revision and the machine.
    public var provenance: String { "git \(Provenance.current.gitRevision), \(Provenance.current.cpu), OpenBLAS \(Provenance.current.blasKernel), \(Provenance.current.convolutionKernel)" }
}

/// The files an experiment writes: tables and text files, then the JSON summary.
public struct Report {
    public var files: [(name: String, text: String)] = []
    /// The summary's "results": what the seed and scale determine.
    public var results: any Encodable
    /// The summary's "config"; the experiment's config when nil.
    public var config: (any Encodable)?
    /// Measurements of speed, an object under the summary's "timings" beside the time breakdown.
    public var timings: (any Encodable)?
    /// The summary's file name without ".json": the experiment's name when nil (a second study
    /// of the same executable names its own).
    public var summaryName: String?

    public init(results: any Encodable, config: (any Encodable)? = nil, timings: (any Encodable)? = nil) {
        (self.results, self.config, self.timings) = (results, config, timings)
    }

    public mutating func add(_ name: String, _ table: Table, comments: [String]) {
        files.append((name, table.tsv(comments: comments)))
    }

    public mutating func add(_ name: String, text: String) { files.append((name, text)) }
}

/// The command line of experiment `E`: `ExperimentRunner<E>.main()` is an executable's whole
/// entry point.
public struct ExperimentRunner<E: Experiment>: ParsableCommand {
    public static var configuration: CommandConfiguration { CommandConfiguration(commandName: E.name, abstract: E.abstract, version: "git \(Provenance.current.gitRevision)") }

    @OptionGroup var options: ExperimentOptions
    @OptionGroup var flags: E.Options
    @OptionGroup var lanes: LanesFlag

    @Flag(name: [.customLong("show-config"), .customLong("print-config")],
          help: "Print the configuration this command would run (the scale's preset with the flags applied; the summary's \"config\"), with its seed and output folder, as JSON, and exit without training.")
    var showConfig = false

    public init() {}

    /// The scale's preset with the flags applied, checked whole.
    func config() throws -> E.Config {
        var config = E.Config.preset(options.scale)
        try flags.apply(to: &config, scale: options.scale)
        try lanes.apply(to: &config, experiment: E.name)
        try Lab.Flags.validating {
            try config.validate()
            try (config as? any SideBySideConfig)?.checkMemory()
        }
        return config
    }

    public mutating func validate() throws { _ = try config() }

    public mutating func run() throws {
        let config = try config()
        if showConfig {
            let shown: [String: Any] = ["experiment": E.name, "scale": options.scale.rawValue, "seed": options.seed,
                                        "output": options.outputURL.path, "config": Results.jsonObject(config)]
            let json = try JSONSerialization.data(withJSONObject: shown, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: json, as: UTF8.self))
            return
        }
        BLAS.useFastKernels()
        let data = try options.loadData()  // first: a missing dataset leaves no folder behind
        try options.runInterruptibly {
            let checkpoints = try Checkpoints(options, experiment: E.name, config: config, data: data.fingerprint)
            print("\(E.name): scale \(options.scale.rawValue), seed \(options.seed), \(BLAS.summary), git \(Provenance.current.gitRevision)")
            fflush(nil)
            let report = try E().run(config, ExperimentContext(options: options, data: data, checkpoints: checkpoints))
            // The data files only now, when every run is done, and as one set: a stopped or
            // failed run leaves none of them behind, nor half of them.
            Interruption.stopIfRequested(during: "the report, before any data file")
            let summary = try Results.jsonFileText(Results.summary(
                experiment: E.name, scale: options.scale, data: data, seed: options.seed,
                config: report.config.map { Results.jsonObject($0) } ?? Results.jsonObject(config), results: Results.resultObject(report.results, of: E.name),
                timings: report.timings.map { try Results.resultObject($0, of: E.name) as! [String: Any] } ?? [:]))
            try Results.writeSet(report.files.map { (name: $0.0, contents: $0.1) } + [("\(report.summaryName ?? E.name).json", summary)],
                                 in: options.outputURL)
            try checkpoints.finish()
        }
    }
}
