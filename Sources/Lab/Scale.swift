// The run-size convention every experiment takes, and the options they share.
import ArgumentParser
import Data
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

    // Read as text so that "-1" reaches `validate` as a value, not as an unknown flag.
    @Option(name: .customLong("seed"), parsing: .unconditional,
            help: ArgumentHelp("Seed of the run's one random generator, 0 to 2^64 − 1; every random choice derives from it.", valueName: "seed"))
    var seedText = "0"

    /// The run's seed; experiments with several seeds use seed, seed &+ 1, … (wrapping at 2^64).
    public var seed: UInt64 { UInt64(seedText)! }

    @Option(help: "Folder for the data files the figures are drawn from.")
    public var output: String = "figures/data"

    @Option(help: "Folder for cached models (teachers, students), reused across runs, and for the checkpoints of interrupted runs.")
    public var cache: String = ".cache"

    @Flag(help: "Continue from the checkpoints an interrupted run of the same command left in the cache folder.")
    public var resume = false

    @Option(help: "Folder holding the Fashion-MNIST IDX files (default: $FASHION_MNIST_DIR or Debian's).")
    public var data: String?

    public init() {}

    public func validate() throws {
        guard seedText.allSatisfy(\.isASCII), seedText.allSatisfy(\.isNumber), UInt64(seedText) != nil else {
            throw ValidationError("--seed takes a whole number from 0 to \(UInt64.max), got '\(seedText)'")
        }
        for (flag, path) in [("output", output), ("cache", cache), ("data", data ?? "-")] where path.isEmpty {
            throw ValidationError("--\(flag) needs a folder, got ''")
        }
    }

    /// Fashion-MNIST from --data (or $FASHION_MNIST_DIR, or Debian's), with a note on stderr when
    /// its files are not Debian's: the committed numbers hold only on the same data.
    public func loadData() throws -> FashionMNIST {
        let loaded = try FashionMNIST.load(from: data ?? FashionMNIST.defaultDirectory)
        if let difference = loaded.differenceFromDebian { FileHandle.standardError.write(Data("note: \(difference)\n".utf8)) }
        return loaded
    }

    /// The `count` seeds of a multi-seed experiment: seed, seed &+ 1, …
    public func seeds(_ count: Int) -> [UInt64] { (0..<count).map { seed &+ UInt64($0) } }

    public var outputURL: URL { URL(fileURLWithPath: output, isDirectory: true) }
    public var cacheURL: URL { URL(fileURLWithPath: cache, isDirectory: true) }
}
