// Stopping an experiment cleanly. SIGINT (Ctrl-C) and SIGTERM (what `kill`, schedulers and CI
// send) only raise a flag; the training loops read it after every step, save a checkpoint, and
// end the run with `Interrupted`; evaluation passes, k-NN and timing loops read it after every
// batch and end the process (`stopIfRequested`). A second signal stops the process at once, saying so. Data files are
// only ever written whole and as a set (Results.writeSet), so either way none is left half written.
import ArgumentParser
import Foundation
import Synchronization
import Tensor

public enum Interruption {
    /// The signal received, 0 before any.
    fileprivate static let received = Atomic<Int32>(0)

    /// Routes SIGINT and SIGTERM to the flag. Call once at the start of an executable. The two
    /// are also unblocked: a child inherits its parent's signal mask, and some parents (test
    /// runners among them) start processes with both blocked.
    public static func install() {
        _ = Glibc.signal(SIGINT, onSignal)
        _ = Glibc.signal(SIGTERM, onSignal)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// The signal that asked the process to stop, if one did.
    public static var signal: Int32? {
        let s = received.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Outside the training steps (evaluation, k-NN, timing) a stop does not wait for a
    /// checkpoint: if a signal came, the process ends here, within a batch, saying what survives.
    /// Each run continues with --resume from its last checkpoint (an epoch's end, or the step a
    /// training run stopped at), and the models already trained load from the cache; no data file
    /// was written (the set is written last, and whole).
    public static func stopIfRequested(during phase: @autoclosure () -> String) {
        guard let signal else { return }
        let note = "\(name(signal)): stopped during \(phase()); no data file was written. Run the same command with --resume: "
            + "each run continues from its last checkpoint, and the models already trained load from the cache.\n"
        fflush(nil)
        FileHandle.standardError.write(Data(note.utf8))
        _exit(128 + signal)
    }

    /// "SIGINT", "SIGTERM", or the number.
    public static func name(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        default: "signal \(signal)"
        }
    }
}

/// The handler may only do async-signal-safe things: store to an atomic, reset the handler,
/// write(2) a constant.
private func onSignal(_ signal: Int32) {
    Interruption.received.store(signal, ordering: .relaxed)
    _ = Glibc.signal(signal, onSecondSignal)
    let note: StaticString = "\nstopping: training after this step, keeping a checkpoint; an evaluation after this batch (send the signal again to stop at once)\n"
    _ = write(STDERR_FILENO, note.utf8Start, note.utf8CodeUnitCount)
}

/// A second signal stops the process now, saying what survives, and dies by the signal (so a
/// shell loop around it stops too): each run's checkpoint of its last finished epoch, and data
/// files either whole or as they were.
private func onSecondSignal(_ signal: Int32) {
    let note: StaticString = "stopped at once: each run continues with --resume from its last saved epoch; data files are whole or untouched\n"
    _ = write(STDERR_FILENO, note.utf8Start, note.utf8CodeUnitCount)
    _ = Glibc.signal(signal, SIG_DFL)
    _ = raise(signal)
}

/// A training run stopped by a signal after saving its state.
public struct Interrupted: Error, CustomStringConvertible {
    public let signal: Int32
    public let run: String             // the run's label
    public let position: String        // "epoch 2, step 17 of 469"
    public let checkpoint: URL

    public var description: String {
        "\(Interruption.name(signal)): \(run) stopped at \(position); its state is in \(checkpoint.path). "
            + "Run the same command with --resume to continue from there."
    }

    /// What a shell reports for a process a signal ended: 128 + the signal.
    public var exitCode: Int32 { 128 + signal }
}

extension ExperimentOptions {
    /// Runs an experiment's body so that SIGINT and SIGTERM stop it after the current training
    /// step with its checkpoint kept, exiting with 128 + the signal and no data file written.
    /// First creates --output and --cache and checks both writable, before any work.
    public func runInterruptibly(_ body: () throws -> Void) throws {
        Interruption.install()
        do {
            for (flag, path) in [("output", outputURL.path), ("cache", cache)] {
                do { try RegularFile.prepareWritableFolder(path) } catch let error as FileError {
                    throw ValidationError("--\(flag): \(error.description)")
                }
            }
            try body()
        } catch let interrupted as Interrupted {
            FileHandle.standardError.write(Data("\(interrupted)\n".utf8))
            throw ExitCode(interrupted.exitCode)
        }
    }
}
