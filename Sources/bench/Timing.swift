// Timing helpers. Shared, noisy machines: every figure is a median of repeats, and comparisons
// are made within one run.
import Foundation
import Lab

/// Seconds per call: the mean over calls filling `minSeconds`, after one warm-up call.
func secondsPerCall(minSeconds: Double = 0.25, _ body: () -> Void) -> Double {
    timeRepeatedly(atLeast: 1, seconds: minSeconds, body).mean
}

func emit(_ name: String, _ value: Double, _ detail: String) {
    print("\(name)\t\(String(format: "%.2f", value))\t\(detail)")
    fflush(nil)
}
