// How every experiment executable starts: its flags make a configuration, checked whole before any
// work (ArgumentParser's `validate`), then the fast kernels, the signal handling and the output
// folders are set up once and the experiment runs on that configuration.
import ArgumentParser
import Tensor

public protocol ExperimentCommand: ParsableCommand {
    associatedtype Settings
    var options: ExperimentOptions { get }
    /// The scale's preset with the flags applied; throws on any impossible value.
    func config() throws -> Settings
    /// The experiment itself, on a configuration `config()` made.
    func experiment(_ config: Settings) throws
}

extension ExperimentCommand {
    public mutating func validate() throws { _ = try config() }

    public mutating func run() throws {
        BLAS.useFastKernels()
        try options.runInterruptibly { try experiment(try config()) }
    }
}

extension ExperimentCommand where Settings == Void {
    /// An experiment whose only settings are the shared options.
    public func config() throws {}
}
