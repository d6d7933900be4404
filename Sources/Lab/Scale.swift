// The run-size convention every experiment takes, and the options they share.
import ArgumentParser
import Foundation
import Tensor

/// How much work a run does.
/// - quick: seconds to a minute; tests and CI smoke runs; numbers mean nothing.
/// - default: what `make figures` runs and the committed figures come from.
/// - full: longer training, closer to the papers' trends; an hour or more.
public enum Scale: String, CaseIterable, Codable, Sendable, ExpressibleByArgument {
    case quick, `default`, full
}

/// Options every experiment executable has.
public struct ExperimentOptions: ParsableArguments {
    @Option(help: "Run size: quick (seconds, numbers meaningless), default (the committed figures), full (hours).")
    public var scale: Scale = .default

    @Option(help: "Seed of the run's one random generator; every random choice derives from it.")
    public var seed: UInt64 = 0

    @Option(help: "Folder for the data files the figures are drawn from.")
    public var output: String = "figures/data"

    @Option(help: "Folder for cached models (teachers, students), reused across runs, and for the checkpoints of interrupted runs.")
    public var cache: String = ".cache"

    @Flag(help: "Continue from the checkpoints an interrupted run of the same command left in the cache folder.")
    public var resume = false

    @Option(help: "Folder holding the Fashion-MNIST IDX files (default: $FASHION_MNIST_DIR or Debian's).")
    public var data: String?

    public init() {}

    public var outputURL: URL { URL(fileURLWithPath: output, isDirectory: true) }
    public var cacheURL: URL { URL(fileURLWithPath: cache, isDirectory: true) }
}
