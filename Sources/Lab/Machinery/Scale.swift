// The run-size convention every experiment takes, and the options they share.
import ArgumentParser
import Data
import Foundation
import Tensor

/// How much work a run does.
/// - quick: seconds to a minute; tests and CI smoke runs; numbers mean nothing.
/// - default: what `make figures` runs and the committed figures come from.
/// - full: each experiment trained until its monitored measure stops improving (its plateau);
///   committed in figures/full, hours.
public enum Scale: String, CaseIterable, Codable, Sendable, ExpressibleByArgument {
    case quick, `default`, full
}

/// Options every experiment executable has.
public struct ExperimentOptions: ParsableArguments {
    @Option(help: "Run size: quick (seconds, numbers meaningless), default (the committed figures; `make figures`), full (each model to its plateau, committed in figures/full; hours).")
    public var scale: Scale = .default

    // Read as text so that "-1" reaches `validate` as a value, not as an unknown flag.
    @Option(name: .customLong("seed"), parsing: .unconditional,
            help: ArgumentHelp("Seed of the run's one random generator, 0 to 2^64 − 1; every random choice derives from it.", valueName: "seed"))
    var seedText = "0"

    /// The run's seed; experiments with several seeds use seed, seed &+ 1, … (wrapping at 2^64).
    public var seed: UInt64 { UInt64(seedText)! }

    @Option(help: "Folder for the data files the figures are drawn from (default, at seed 0: figures/data at the default scale and figures/full/data at full, which are committed; .build/figures-<scale>[-seed<seed>]/data otherwise, as make writes them).")
    public var output: String?

    @Option(help: "Folder for cached models (teachers, students), reused across runs, and for the checkpoints of interrupted runs.")
    public var cache: String = ".cache"

    @Flag(help: "Continue from the checkpoints an interrupted run of the same command left in the cache folder.")
    public var resume = false

    @Flag(help: "Discard the checkpoints an interrupted run of the same command left, and start over. Without --resume or --fresh, a run that finds them stops and keeps them.")
    public var fresh = false

    @Option(help: "Folder holding the Fashion-MNIST IDX files (default: $FASHION_MNIST_DIR or Debian's).")
    public var data: String?

    public init() {}

    public func validate() throws {
        guard seedText.allSatisfy(\.isASCII), seedText.allSatisfy(\.isNumber), UInt64(seedText) != nil else {
            throw ValidationError("--seed takes a whole number from 0 to \(UInt64.max), got '\(seedText)'")
        }
        for (flag, path) in [("output", output ?? "-"), ("cache", cache), ("data", data ?? "-")] where path.isEmpty {
            throw ValidationError("--\(flag) needs a folder, got ''")
        }
        if resume && fresh { throw ValidationError("--resume continues an interrupted run and --fresh discards it: pass one of them") }
    }

    /// Fashion-MNIST from --data (or $FASHION_MNIST_DIR, or Debian's), with a note on stderr when
    /// its files are not Debian's: the committed numbers hold only on the same data.
    public func loadData() throws -> FashionMNIST {
        let loaded = try FashionMNIST.load(from: data, flag: data == nil ? nil : "--data")
        if let difference = loaded.differenceFromDebian { FileHandle.standardError.write(Data("note: \(difference)\n".utf8)) }
        return loaded
    }

    /// The `count` seeds of a multi-seed experiment: seed, seed &+ 1, …
    public func seeds(_ count: Int) -> [UInt64] { (0..<count).map { seed &+ UInt64($0) } }

    /// Only seed 0 of the default and full scales writes committed data (figures/data and
    /// figures/full/data); any other run writes its own folder under .build (the Makefile's rule),
    /// so a quick try never overwrites them.
    public static func defaultOutput(scale: Scale, seed: UInt64) -> String {
        switch (scale, seed) {
        case (.default, 0): "figures/data"
        case (.full, 0): "figures/full/data"
        default: ".build/figures-\(scale.rawValue)\(seed == 0 ? "" : "-seed\(seed)")/data"
        }
    }

    public var outputURL: URL { URL(fileURLWithPath: output ?? Self.defaultOutput(scale: scale, seed: seed), isDirectory: true) }
    public var cacheURL: URL { URL(fileURLWithPath: cache, isDirectory: true) }
}
