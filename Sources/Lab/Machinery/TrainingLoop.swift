// The one training loop every trainer runs: main_dino.py's `train_one_epoch` with its
// `MetricLogger`, and its `restart_from_checkpoint`. Batches come in an order drawn from the
// run's generator; the trainer's step returns named values, which are averaged over the epoch;
// progress and the epoch's time are kept; the state is saved after every epoch and when a stop
// is requested, and a resumed run continues to the numbers an uninterrupted one gives.
import Data
import Foundation
import NN
import Tensor

/// Named running sums over an epoch's steps (main_dino.py's MetricLogger), in the loop's saved
/// state so a resumed epoch counts what an uninterrupted one would.
public struct MetricLogger: Codable, Sendable {
    /// How the sums accumulate. DINO's trainer sums in Float, as every committed run did.
    public enum Precision: String, Codable, Sendable { case float, double }

    public let names: [String]
    public let precision: Precision
    private(set) var sums: [Double]

    public init(_ names: [String], precision: Precision = .double) {
        (self.names, self.precision, sums) = (names, precision, Array(repeating: 0, count: names.count))
    }

    /// Adds one step's values; every name the logger holds must be there.
    public mutating func update(_ values: [String: Double]) {
        for (i, name) in names.enumerated() {
            guard let v = values[name] else { preconditionFailure("MetricLogger: the step returned no '\(name)' (it returned \(values.keys.sorted()))") }
            sums[i] = precision == .float ? Double(Float(sums[i]) + Float(v)) : sums[i] + v
        }
    }

    /// The epoch's sum of `name`.
    public func sum(_ name: String) -> Double { sums[index(name)] }

    /// The epoch's mean of `name` over `steps` steps.
    public func mean(_ name: String, steps: Int) -> Double {
        precision == .float ? Double(Float(sum(name)) / Float(steps)) : sum(name) / Double(steps)
    }

    mutating func reset() { sums = sums.map { _ in 0 } }

    var isFinite: Bool { sums.allSatisfy(\.isFinite) }

    private func index(_ name: String) -> Int {
        guard let i = names.firstIndex(of: name) else { preconditionFailure("MetricLogger: no metric '\(name)' among \(names)") }
        return i
    }
}

/// What a trainer hands the loop: the run's shape, what it saves, and its checkpoint.
struct TrainingLoop {
    let label: String
    let epochs: Int
    let stepsPerEpoch: Int
    let batchSize: Int
    let examples: Int                                  // the training images batches are drawn from
    let models: [(prefix: String, module: any Module)] // saved and restored under their prefixes
    let training: [any Module]                         // set to training mode as each epoch begins
    let optimizer: AdamW
    let metrics: MetricLogger                          // the names the step returns, fresh
    let checkpoint: RunCheckpoint?
    /// A trainer's own state beside the loop's and its models' (DINO's step records).
    var saveExtra: (inout TrainingSnapshot) throws -> Void = { _ in }
    /// Checks that state in a checkpoint, given the steps the run had taken, and returns how to
    /// put it back; throws (`snapshot.unusable`) if it does not fit, before anything changes.
    var restoreExtra: (TrainingSnapshot, _ stepsTaken: Int) throws -> () -> Void = { _, _ in {} }

    /// Trains every remaining epoch. `step(batch, epoch, iteration, rng)` runs one optimizer step
    /// (epoch 0-based, iteration the global step; `rng` the run's generator, which also draws
    /// the batch order) and returns its metrics, "loss" among them;
    /// `endEpoch(epoch, metrics, seconds)` (1-based, the training steps' seconds) evaluates and
    /// makes the epoch's record and its progress line.
    func run<Record: Codable>(rng: inout RNG, step: ([Int], _ epoch: Int, _ iteration: Int, inout RNG) throws -> [String: Double],
                              endEpoch: (_ epoch: Int, MetricLogger, _ seconds: Double) throws -> (record: Record, line: String)) throws -> [Record] {
        var loop = LoopState(metrics: metrics)
        var history: [Record] = []
        if let saved = try checkpoint?.saved() {
            (loop, history) = try saved.restoreTraining(models: models, optimizer: optimizer, rng: &rng, epochs: epochs,
                                                        stepsPerEpoch: stepsPerEpoch, metrics: metrics) { try restoreExtra(saved, $0) }
            print("\(label): continuing from \(loop.position(stepsPerEpoch: stepsPerEpoch)) (\(checkpoint!.url.lastPathComponent))")
        }
        // The loss is checked before each update, so an update could leave NaN weights behind
        // unseen: check them before they are evaluated, saved or used.
        func checkFinite(_ position: String) throws {
            for (prefix, module) in models {
                if let bad = module.stateDict(prefix: prefix).first(where: { !$0.tensor.isFinite }) {
                    throw TrainingError("\(label): \(bad.name) holds NaN or infinite values \(position); lower the learning rate (the last was \(optimizer.learningRate)), or raise a temperature that sharpens too much (τ, DINO's teacher temperature)")
                }
            }
        }
        func save(stoppingFor signal: Int32?) throws {
            guard let checkpoint else { return }
            try checkFinite("at \(loop.position(stepsPerEpoch: stepsPerEpoch))")
            var snapshot = try TrainingSnapshot(models: models, optimizer: optimizer, loop: loop, rng: rng, history: history)
            try saveExtra(&snapshot)
            try checkpoint.save(snapshot, label: label, position: loop.position(stepsPerEpoch: stepsPerEpoch), stoppingFor: signal)
        }
        let progress = Progress(label, totalSteps: epochs * stepsPerEpoch, done: loop.epoch * stepsPerEpoch + loop.step)
        while loop.epoch < epochs {
            let epoch = loop.epoch
            for module in training { module.setTraining(true) }
            let start = Date(), stepsLeft = loop.step < stepsPerEpoch
            for batch in loop.remainingBatches(count: examples, batchSize: batchSize, steps: stepsPerEpoch, rng: &rng) {
                let values = try step(batch, epoch, epoch * stepsPerEpoch + loop.step, &rng)
                loop.metrics.update(values)
                loop.step += 1
                progress.step(epoch: epoch + 1, epochs: epochs, loss: Float(values["loss"] ?? .nan), images: batch.count)
                if loop.step < stepsPerEpoch, let signal = checkpoint?.stopRequested() {
                    loop.seconds += Date().timeIntervalSince(start)
                    try save(stoppingFor: signal)
                }
            }
            loop.seconds += Date().timeIntervalSince(start)
            try checkFinite("after epoch \(epoch + 1)")
            // The epoch's steps are saved before its evaluation too (unless they were saved so and
            // resumed): a stop there (which ends the process within a batch) or a crash loses no
            // training; the resumed run evaluates again.
            if stepsLeft { try save(stoppingFor: checkpoint?.stopRequested()) }
            let (record, line) = try endEpoch(epoch + 1, loop.metrics, loop.seconds)
            progress.epoch(line)
            history.append(record)
            loop.finishEpoch()
            try save(stoppingFor: checkpoint?.stopRequested())
        }
        return history
    }
}

/// Where a training loop is: enough to continue it exactly.
struct LoopState: Codable {
    var epoch = 0                  // epochs finished
    var step = 0                   // steps finished in the epoch after them
    var epochStart: [UInt64] = []  // the loop's generator as that epoch began: its batch order is drawn from here
    var rng: [UInt64] = []         // the loop's generator now
    var generators: [[UInt64]] = []  // the models' own (drop path), in `randomizedModules` order
    var metrics: MetricLogger      // the epoch's running sums
    var seconds: Double = 0        // training time of the epoch so far
    var optimizerSteps: [Int] = []

    init(metrics: MetricLogger) { self.metrics = metrics }

    /// The batches of the epoch in progress still to run. At an epoch's first step the order is
    /// drawn from `rng`, as an uninterrupted loop draws it; later, from a copy of the generator as
    /// the epoch began, leaving `rng` where the checkpoint left it.
    mutating func remainingBatches(count: Int, batchSize: Int, steps: Int, rng: inout RNG) -> ArraySlice<[Int]> {
        if step == 0 {
            epochStart = rng.state
            return epochBatches(count: count, batchSize: batchSize, rng: &rng).prefix(steps)[...]
        }
        var start = RNG(state: epochStart)!
        return epochBatches(count: count, batchSize: batchSize, rng: &start).prefix(steps).dropFirst(step)
    }

    /// Throws unless every field fits the run: a position inside it, one history entry per
    /// finished epoch, valid generator states, the run's metrics, and optimizer step counts no
    /// larger than the steps taken (a frozen parameter takes fewer).
    func check(epochs: Int, stepsPerEpoch: Int, metrics expected: MetricLogger, historyCount: Int, generators expectedGenerators: Int,
               optimizerSteps parameters: Int, in snapshot: TrainingSnapshot) throws {
        func require(_ condition: Bool, _ problem: @autoclosure () -> String) throws {
            if !condition { throw snapshot.unusable(problem()) }
        }
        try require((0...epochs).contains(epoch), "its epoch \(epoch) is outside this run's 0…\(epochs)")
        try require((0...stepsPerEpoch).contains(step) && (epoch < epochs || step == 0),
                    "its step \(step) is outside an epoch of \(stepsPerEpoch) steps")
        try require(historyCount == epoch, "it records \(historyCount) finished epochs but stands after epoch \(epoch)")
        try require(RNG(state: rng) != nil, "its generator state is invalid")
        try require(step == 0 || RNG(state: epochStart) != nil, "the generator state of its epoch's start is invalid")
        try require(generators.count == expectedGenerators && generators.allSatisfy { RNG(state: $0) != nil },
                    "its \(generators.count) model generators do not fit this run's \(expectedGenerators)")
        try require(metrics.names == expected.names && metrics.precision == expected.precision
                    && metrics.sums.count == expected.names.count && metrics.isFinite,
                    "its running sums \(metrics.names) do not fit this run's \(expected.names)")
        try require(seconds.isFinite && seconds >= 0, "its epoch time \(seconds) is not a duration")
        let taken = epoch * stepsPerEpoch + step
        try require(optimizerSteps.count == parameters && optimizerSteps.allSatisfy { (0...taken).contains($0) },
                    "its optimizer step counts do not fit \(parameters) parameters after \(taken) steps")
    }

    mutating func finishEpoch() {
        (epoch, step, seconds) = (epoch + 1, 0, 0)
        metrics.reset()
    }

    /// "epoch 2, step 17 of 469" (step 469 of 469: its steps done, its evaluation not), or "the
    /// end of epoch 1"
    func position(stepsPerEpoch: Int) -> String {
        step == 0 ? "the end of epoch \(epoch)" : "epoch \(epoch + 1), step \(step) of \(stepsPerEpoch)"
    }
}

/// A run that cannot go on (a diverged loss, NaN weights, a configuration over budget), with the
/// likely cause and the fix: every training room throws it.
public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
