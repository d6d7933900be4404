// The one timing loop: the bench, the papers' forward throughputs and the sgemm reference.
import Dispatch
import Tensor

/// Seconds per call of a piece of work: the median, fastest and slowest of its timed calls.
public struct Timing: Sendable {
    public let samples: [Double]
    public var median: Double { Lab.median(samples) }
    public var low: Double { samples.min()! }
    public var high: Double { samples.max()! }
    public var mean: Double { samples.reduce(0, +) / Double(samples.count) }
}

/// Times `body`: `warmup` untimed calls, then timed calls until there are `atLeast` of them and
/// they add up to `seconds`.
public func timeRepeatedly(warmup: Int = 1, atLeast: Int = 3, seconds: Double = 0, _ body: () throws -> Void) rethrows -> Timing {
    precondition(atLeast >= 1, "timeRepeatedly: at least one timed call")
    for _ in 0..<warmup { try body() }
    var samples: [Double] = [], total = 0.0
    repeat {
        Interruption.stopIfRequested(during: "a timing loop")
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        total += samples.last!
    } while samples.count < atLeast || total < seconds
    return Timing(samples: samples)
}

/// A forward pass without a graph, timed as evaluation: one warm-up, then repeats filling
/// `seconds` (at least three).
public func timeForward(seconds: Double, _ body: () -> Void) -> Timing {
    TimeBreakdown.measure(.evaluation) { timeRepeatedly(seconds: seconds) { withNoGrad(body) } }
}
