// Where an experiment's time goes: training steps, the teacher's forward, evaluation, data and
// augmentation, and the rest (loading, setup, writing).
//
// A phase's time is exclusive: a teacher forward measured inside a training step counts as
// teacher time only. Runs side by side (SideBySide) each measure their own phases, so the
// phases add up to "lane seconds": the wall clock times the runs it held at once (a lane that
// ran out of jobs ends, and the run left takes its core). The rest is the lane seconds no phase
// claims.
import Foundation

public enum Phase: String, CaseIterable, Sendable {
    case trainingSteps = "training_steps"        // forward, backward and update of the trained model(s)
    case teacherForward = "teacher_forward"      // a separate teacher's forward inside a step (DeiT's, DINO's EMA teacher)
    case evaluation = "evaluation"               // test accuracy, k-NN, throughput and attention measurements
    case dataAndAugmentation = "data_and_augmentation"  // gathering a batch, crops, RandAugment, mixing, normalizing
}

public final class TimeBreakdown: @unchecked Sendable {
    /// The process's: what every experiment's summary reports.
    public static let process = TimeBreakdown()

    public init() {}

    private let lock = NSLock()
    private var seconds: [Phase: Double] = [:]
    private var extraLaneSeconds: Double = 0
    private static let stackKey = "vitdistill.TimeBreakdown.stack"

    /// An open phase on this thread: when it began and how long its nested phases took.
    private final class Frame { let start = Date(); var nested: Double = 0 }
    /// This thread's open phases, innermost last.
    private final class Stack { var frames: [Frame] = [] }

    /// Runs `body`, counting its time, minus that of phases measured inside it, as `phase`.
    public static func measure<T>(_ phase: Phase, _ body: () throws -> T) rethrows -> T {
        try process.measure(phase, body)
    }

    @discardableResult
    public func measure<T>(_ phase: Phase, _ body: () throws -> T) rethrows -> T {
        let stack = Self.threadStack()
        let frame = Frame()
        stack.frames.append(frame)
        defer {
            stack.frames.removeLast()
            let elapsed = Date().timeIntervalSince(frame.start)
            stack.frames.last?.nested += elapsed
            lock.withLock { seconds[phase, default: 0] += max(elapsed - frame.nested, 0) }
        }
        return try body()
    }

    /// SideBySide reports each set of concurrent runs: lanes busy for `laneSeconds` in all, over
    /// `wallSeconds` of wall clock.
    static func ranSideBySide(laneSeconds: Double, wallSeconds: Double) {
        process.lock.withLock { process.extraLaneSeconds += max(laneSeconds - wallSeconds, 0) }
    }

    /// Each phase's seconds so far.
    public var totals: [Phase: Double] { lock.withLock { seconds } }

    /// The process so far, in seconds and as shares of the lane seconds, for a summary's "timings".
    public static func summary() -> [String: Any] {
        let wall = secondsSinceProcessStart()
        let (phases, extra) = process.lock.withLock { (process.seconds, process.extraLaneSeconds) }
        let laneSeconds = wall + extra
        var entries = Phase.allCases.map { ($0.rawValue, phases[$0] ?? 0) }
        entries.append(("rest", max(laneSeconds - entries.reduce(0) { $0 + $1.1 }, 0)))
        return ["wall_seconds": wall, "lane_seconds": laneSeconds,
                "seconds": Dictionary(uniqueKeysWithValues: entries),
                "share": Dictionary(uniqueKeysWithValues: entries.map { ($0.0, $0.1 / max(laneSeconds, 1e-9)) })]
    }

    /// The process's age: /proc/uptime less its start (field 22 of /proc/self/stat, in clock
    /// ticks after boot), so the dataset load before the first phase counts too.
    public static func secondsSinceProcessStart() -> Double {
        guard let uptime = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8).split(separator: " ").first.flatMap({ Double($0) }),
              let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 19,
              let ticks = Double(fields[19]) else { return .nan }
        return uptime - ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private static func threadStack() -> Stack {
        let dictionary = Thread.current.threadDictionary
        if let stack = dictionary[stackKey] as? Stack { return stack }
        let stack = Stack()
        dictionary[stackKey] = stack
        return stack
    }
}
