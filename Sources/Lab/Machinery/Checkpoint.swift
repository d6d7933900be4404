// Training checkpoints, so a stopped experiment continues where it stopped and ends with the
// numbers an uninterrupted run gives. A run's checkpoint is its whole state: the weights, the
// optimizer's moments, every generator (the loop's and the models' drop path), the loop's
// position inside its epoch and the history so far. The batch order of the epoch in progress is
// not stored: it is redrawn from the generator as the epoch began.
import Data
import Foundation
import NN
import Tensor

/// The checkpoints of one experiment's runs, in `<cache>/runs/<experiment>-<scale>-seed<seed>-<hash
/// of the configuration>/`: a changed flag never continues another configuration's runs. The
/// folder is removed once the experiment has written its data files.
public struct Checkpoints {
    public let directory: URL
    public let resume: Bool

    /// The experiment's config as the summary writes it, saved in every checkpoint beside the
    /// models' architectures.
    let config: String
    /// The dataset's fingerprint (`FashionMNIST.fingerprint`), recorded and compared by every run.
    let data: String

    /// Opens the experiment's folder. Checkpoints an earlier run left there are continued with
    /// `--resume` and removed with `--fresh`; without either, the run stops before any work and
    /// keeps them (at the default scale they can hold an hour of training).
    public init(_ options: ExperimentOptions, experiment: String, config: some Encodable, data: String) throws {
        self.config = Results.jsonText(Results.jsonObject(config))
        self.data = data
        let key = ModelCache(root: options.cacheURL, folder: "runs").url(name: experiment, scale: options.scale, seed: options.seed,
                                                                          recipe: config)
        directory = key.deletingPathExtension()
        resume = options.resume
        let manager = FileManager.default
        let left = (try? manager.contentsOfDirectory(atPath: directory.path))?.filter { $0.hasSuffix(".safetensors") } ?? []
        if resume {
            print(left.isEmpty ? "resume: nothing to continue in \(directory.path); starting from the beginning"
                               : "resume: continuing from \(left.count) checkpoint(s) in \(directory.path)")
        } else if !left.isEmpty {
            guard options.fresh else {
                throw TrainingError("an interrupted run of this command left \(left.count) checkpoint(s) in \(directory.path) (\(left.sorted().joined(separator: ", "))); "
                    + "rerun with --resume (make: RESUME=1) to continue from them, or with --fresh (make: FRESH=1) to discard them and start over")
            }
            print("fresh: removed the checkpoints an interrupted run left in \(directory.path)")
            try Checkpoints.remove(directory)
        }
    }

    /// The checkpoint of the run `name` (letters, digits and dashes).
    public func run(_ name: String) -> RunCheckpoint {
        RunCheckpoint(url: directory.appendingPathComponent("\(name).safetensors"), resume: resume, config: config, data: data)
    }

    /// Called after the experiment has written its data: the checkpoints are no longer needed.
    public func finish() throws {
        if FileManager.default.fileExists(atPath: directory.path) { try Checkpoints.remove(directory) }
    }

    /// Removes a run folder; a failure names it and the way out, not Foundation's error object.
    static func remove(_ folder: URL) throws {
        do { try FileManager.default.removeItem(at: folder) } catch {
            let cause = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError).map { String(cString: strerror(Int32($0.code))) }
            throw FileError(folder.path, "cannot be removed (\(cause ?? "permission or a file in use")); remove it by hand")
        }
    }
}

/// Where one training run keeps its state, whether it continues from it, and what tells it to
/// stop (by default a signal; a test passes its own).
public struct RunCheckpoint {
    public let url: URL
    public let resume: Bool
    public var stopRequested: () -> Int32? = { Interruption.signal }
    /// The experiment's config (JSON), saved as the file's `recipe`.
    let config: String?
    /// The dataset's fingerprint, saved as `data_crc32`; a resume on other data is refused, and a
    /// model trained under this checkpoint is cached with it.
    public let data: String?

    public init(url: URL, resume: Bool, config: String? = nil, data: String? = nil,
                stopRequested: @escaping () -> Int32? = { Interruption.signal }) {
        (self.url, self.resume, self.config, self.data, self.stopRequested) = (url, resume, config, data, stopRequested)
    }

    /// What the file belongs to: its experiment, scale, seed and configuration hash (its folder)
    /// and its run (its name). A file copied from another run's place is refused.
    var identity: String { url.deletingLastPathComponent().lastPathComponent + "/" + url.deletingPathExtension().lastPathComponent }

    /// The saved state, when resuming and there is one.
    func saved() throws -> TrainingSnapshot? {
        guard resume, FileManager.default.fileExists(atPath: url.path) else { return nil }
        let snapshot: TrainingSnapshot
        do { snapshot = try TrainingSnapshot(contentsOf: url) } catch let error as SafetensorsError {
            throw TrainingSnapshot.unusable(url.path, error.problem)
        }
        let savedRun: String? = try? snapshot.value("run")
        guard savedRun == identity else {
            throw TrainingSnapshot.unusable(url.path, "it was saved by run '\(savedRun ?? "unnamed")', not by this one ('\(identity)')")
        }
        if let data {
            let savedData: String? = try? snapshot.value("data_crc32")
            guard savedData == data else {
                throw TrainingSnapshot.unusable(url.path, "it was trained on other data (\(savedData ?? "unrecorded")), not on this --data (\(data))")
            }
        }
        if let saved = snapshot.metadata["git"], saved != Provenance.current.gitRevision {
            print("note: \(url.lastPathComponent) was saved by code at git \(saved), this is \(Provenance.current.gitRevision); "
                + "the resumed run matches an uninterrupted one only if the change left training alone")
        }
        return snapshot
    }

    /// Saves `snapshot`; then, if `signal` asked for a stop, ends the run.
    func save(_ snapshot: TrainingSnapshot, label: String, position: String, stoppingFor signal: Int32?) throws {
        var snapshot = snapshot
        try snapshot.put("run", identity)
        if let data { try snapshot.put("data_crc32", data) }
        if let config { snapshot.setRecipe(config) }
        try RegularFile.createFolders(url.deletingLastPathComponent().path)
        try snapshot.write(to: url)
        if let signal { throw Interrupted(signal: signal, run: label, position: position, checkpoint: url) }
    }
}

/// A training run's state as one safetensors file: tensors under prefixes ("model.", "optimizer.")
/// and Codable values as JSON in the metadata.
struct TrainingSnapshot {
    private(set) var tensors: [(name: String, tensor: Tensor)] = []
    private(set) var metadata: [String: String] = ["format": "vitdistill training checkpoint 1", "git": Provenance.current.gitRevision]
    private var source = ""

    init() {}

    init(contentsOf url: URL) throws {
        let (t, m) = try Safetensors.read(url, requireChecksum: true)
        guard m["format"] == metadata["format"] else { throw TrainingSnapshot.unusable(url.path, "it is not a training checkpoint of this version") }
        if let bad = t.first(where: { !$0.tensor.isFinite }) { throw TrainingSnapshot.unusable(url.path, "\(bad.name) holds NaN or infinite values") }
        (tensors, metadata, source) = (t, m, url.path)
    }

    /// The error for a checkpoint that cannot be continued, with both ways on.
    static func unusable(_ path: String, _ problem: String) -> CheckpointError {
        CheckpointError("\(path) cannot be resumed: \(problem). Run with --fresh instead of --resume to start over, or delete the file")
    }

    func unusable(_ problem: String) -> CheckpointError { TrainingSnapshot.unusable(source, problem) }

    mutating func add(_ prefix: String, _ named: [(name: String, tensor: Tensor)]) {
        tensors += named.map { (prefix + $0.name, $0.tensor) }
    }

    /// The experiment's config, as JSON text (not re-encoded as a string).
    mutating func setRecipe(_ json: String) { metadata["recipe"] = json }

    mutating func put<T: Encodable>(_ key: String, _ value: T) throws {
        metadata[key] = String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    /// What every training loop saves: its models under their prefixes, the optimizer's moments
    /// and steps, the loop with its generator and the models' generators, and the history.
    init<History: Encodable>(models: [(prefix: String, module: any Module)], optimizer: AdamW, loop: LoopState, rng: RNG,
                             history: History) throws {
        var loop = loop
        loop.rng = rng.state
        loop.generators = models.flatMap { $0.module.randomizedModules }.map { $0.generator.state }
        loop.optimizerSteps = optimizer.steps
        for (prefix, module) in models {
            add(prefix, module.stateDict())
            metadata.merge(module.architectureMetadata(prefix: prefix)) { $1 }
        }
        add("optimizer.", optimizer.stateTensors)
        try put("loop", loop)
        try put("history", history)
    }

    /// Puts back what `init(models:optimizer:loop:rng:history:)` saved; returns the loop and
    /// history. Every field is checked against the run (`epochs` of `stepsPerEpoch` steps,
    /// `metrics`), and `extra` checks the trainer's own state and returns how to put it back,
    /// before anything is changed: a damaged checkpoint stops with a message and leaves the
    /// models, optimizer and generator as they were.
    func restoreTraining<History: Decodable & Collection>(models: [(prefix: String, module: any Module)], optimizer: AdamW,
                                                          rng: inout RNG, epochs: Int, stepsPerEpoch: Int, metrics: MetricLogger,
                                                          extra: (_ stepsTaken: Int) throws -> () -> Void) throws -> (loop: LoopState, history: History) {
        let loop: LoopState = try value("loop")
        let history: History = try value("history")
        let modules = models.flatMap { $0.module.randomizedModules }
        try loop.check(epochs: epochs, stepsPerEpoch: stepsPerEpoch, metrics: metrics, historyCount: history.count,
                       generators: modules.count, optimizerSteps: optimizer.steps.count, in: self)
        let moments = Dictionary(tensors("optimizer.").map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        for (name, moment) in optimizer.stateTensors where moments[name]?.shape != moment.shape {
            throw unusable("the optimizer's \(name) is missing or not of shape \(moment.shape)")
        }
        for (prefix, module) in models {
            let saved = Dictionary(tensors(prefix).map { ($0.name, $0.tensor.shape) }, uniquingKeysWith: { a, _ in a })
            for (name, tensor) in module.stateDict() where saved[name] != tensor.shape {
                throw unusable("\(prefix)\(name) is missing or not of shape \(tensor.shape)")
            }
        }
        let restoreExtra = try extra(loop.epoch * stepsPerEpoch + loop.step)
        do {
            for m in models { try m.module.load(tensors(m.prefix), source: source) }
            try optimizer.restore(moments, steps: loop.optimizerSteps)
        } catch let error as CheckpointError {
            throw unusable(error.description)
        }
        for (module, state) in zip(modules, loop.generators) { module.generator = RNG(state: state)! }
        rng = RNG(state: loop.rng)!
        restoreExtra()
        return (loop, history)
    }

    func write(to url: URL) throws { try Safetensors.write(tensors, metadata: metadata, to: url) }

    /// The tensors saved under `prefix`, the prefix removed.
    func tensors(_ prefix: String) -> [(name: String, tensor: Tensor)] {
        tensors.filter { $0.name.hasPrefix(prefix) }.map { (String($0.name.dropFirst(prefix.count)), $0.tensor) }
    }

    func value<T: Decodable>(_ key: String, as type: T.Type = T.self) throws -> T {
        guard let text = metadata[key] else { throw unusable("it has no '\(key)'") }
        do { return try JSONDecoder().decode(T.self, from: Data(text.utf8)) } catch {
            throw unusable("its '\(key)' cannot be read as \(T.self)")
        }
    }
}

