// Schedules as plain arrays indexed by global iteration (DINO's `utils.cosine_scheduler`): the
// learning rate, the weight decay, DINO's teacher momentum and teacher temperature. An array is
// trivial to check, to plot, and to index on resume.
import Foundation

/// `count` evenly spaced values from `start` to `end`, both included (NumPy's `linspace`).
public func linspace(_ start: Float, _ end: Float, count: Int) -> [Float] {
    guard count > 1 else { return count == 1 ? [start] : [] }
    return (0..<count).map { i in
        Float(Double(start) + (Double(end) - Double(start)) * Double(i) / Double(count - 1))
    }
}

/// DINO's `cosine_scheduler`: a linear warmup from `warmupStart` to `base` over the first
/// `warmupEpochs · iterationsPerEpoch` iterations, then a half cosine from `base` to `final`:
///
///   v_i = final + ½(base − final)(1 + cos(π·i/I)),  i = 0 … I−1 counted after the warmup.
///
/// Length `epochs · iterationsPerEpoch`. Used for the learning rate (warmup, base → min_lr), the
/// weight decay (0.04 → 0.4, no warmup) and the teacher momentum (0.996 → 1). As in the official
/// code the last value stops one step short of `final`; `reachFinal` divides by I − 1 instead,
/// so the last value is `final` (the paper's momentum "increased to 1 during training").
public func cosineSchedule(base: Float, final: Float, epochs: Int, iterationsPerEpoch: Int,
                           warmupEpochs: Int = 0, warmupStart: Float = 0, reachFinal: Bool = false) -> [Float] {
    precondition(epochs >= 0 && iterationsPerEpoch >= 0 && warmupEpochs >= 0 && warmupEpochs <= epochs,
                 "cosineSchedule: needs 0 ≤ warmupEpochs ≤ epochs and non-negative sizes")
    let warmupIterations = warmupEpochs * iterationsPerEpoch
    let total = epochs * iterationsPerEpoch
    let warmup = linspace(warmupStart, base, count: warmupIterations)
    let remaining = total - warmupIterations
    let period = Double(reachFinal ? max(remaining - 1, 1) : remaining)
    let decay = (0..<remaining).map { i in
        Float(Double(final) + 0.5 * (Double(base) - Double(final)) * (1 + cos(Double.pi * Double(i) / period)))
    }
    let schedule = warmup + decay
    assert(schedule.count == total)
    return schedule
}

/// A linear ramp from `start` to `end` over the first `warmupSteps` entries (both ends
/// included), then `end` until `totalSteps`: DINO's teacher-temperature schedule, per epoch,
/// `concatenate(linspace(0.04, 0.07, 30), ones(E − 30)·0.07)`.
public func linearWarmupSchedule(start: Float, end: Float, warmupSteps: Int, totalSteps: Int) -> [Float] {
    precondition(warmupSteps >= 0 && warmupSteps <= totalSteps, "linearWarmupSchedule: needs 0 ≤ warmupSteps ≤ totalSteps")
    return linspace(start, end, count: warmupSteps) + Array(repeating: end, count: totalSteps - warmupSteps)
}
