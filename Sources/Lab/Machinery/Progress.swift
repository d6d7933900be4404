// Progress of a long run. On a terminal, one line rewritten in place (step, loss, images/s, ETA);
// otherwise (CI, a pipe, a log file) one line per epoch, and within a long epoch one a minute.
import Foundation

public final class Progress {
    public let label: String
    let totalSteps: Int
    let interactive: Bool
    private var stepsDone = 0       // in this process
    private let stepsBefore: Int    // by the run this one resumes
    private var images = 0
    private let start = Date()
    private var lastDraw: Date      // a terminal's first line at once; a log's after a minute

    /// `totalSteps`: optimizer steps in the whole run, for the ETA; `done`: those a resumed run
    /// has behind it.
    public init(_ label: String, totalSteps: Int, done: Int = 0) {
        self.label = label
        self.totalSteps = max(totalSteps, 1)
        stepsBefore = done
        let env = ProcessInfo.processInfo.environment
        interactive = isatty(STDOUT_FILENO) != 0 && env["CI"] == nil && env["TERM"] != "dumb"
        lastDraw = interactive ? .distantPast : Date()
    }

    public var elapsed: TimeInterval { Date().timeIntervalSince(start) }
    public var imagesPerSecond: Double { Double(images) / max(elapsed, 1e-9) }

    /// The time the remaining steps will take at this process's pace so far.
    var eta: TimeInterval { elapsed / Double(max(stepsDone, 1)) * Double(totalSteps - stepsBefore - stepsDone) }

    /// After each step: redraws the status line at most five times a second on a terminal; in a
    /// log, writes it at most once a minute.
    public func step(epoch: Int, epochs: Int, loss: Float, images batch: Int) {
        stepsDone += 1
        images += batch
        let step = stepsBefore + stepsDone
        let since = Date().timeIntervalSince(lastDraw)
        guard interactive ? since > 0.2 || step == totalSteps : since > 60 && step < totalSteps else { return }
        lastDraw = Date()
        let line = "\(label)  epoch \(epoch)/\(epochs)  step \(step)/\(totalSteps)  loss \(String(format: "%.4f", loss))"
            + "  \(String(format: "%.0f", imagesPerSecond)) img/s  ETA \(Progress.clock(eta))"
        print(interactive ? "\r\u{1B}[2K" + line : line, terminator: interactive ? "" : "\n")
        fflush(nil)
    }

    /// At the end of an epoch: one permanent line, with the time left if steps remain.
    public func epoch(_ summary: String) {
        if interactive { print("\r\u{1B}[2K", terminator: "") }
        let left = stepsBefore + stepsDone < totalSteps ? ", ETA \(Progress.clock(eta))" : ""
        print("\(label)  \(summary)  [\(Progress.clock(elapsed)), \(String(format: "%.0f", imagesPerSecond)) img/s\(left)]")
        fflush(nil)
        if !interactive { lastDraw = Date() }
    }

    /// 75 → "1:15", 3700 → "1:01:40"
    public static func clock(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
