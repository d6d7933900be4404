// Timing helpers. Shared, noisy machines: every figure is a median of repeats, and comparisons
// are made within one run.
import Dispatch
import Foundation

/// Seconds per call: calls `body` until `minSeconds` pass (after one warm-up call).
func secondsPerCall(minSeconds: Double = 0.25, _ body: () -> Void) -> Double {
    body()
    var calls = 0
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed = 0.0
    repeat {
        body()
        calls += 1
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    } while elapsed < minSeconds
    return elapsed / Double(calls)
}

/// Median and spread (min, max) of `repeats` timings of `body`, after `warmup` untimed calls.
func timed(repeats: Int, warmup: Int = 1, _ body: () -> Void) -> (median: Double, low: Double, high: Double) {
    for _ in 0..<warmup { body() }
    let samples = (0..<repeats).map { _ in
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    }
    return (median(samples), samples.min()!, samples.max()!)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func emit(_ name: String, _ value: Double, _ detail: String) {
    print("\(name)\t\(String(format: "%.2f", value))\t\(detail)")
    fflush(nil)
}
