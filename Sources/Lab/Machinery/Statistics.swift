// Summaries over seeds, and intervals over images.
import Tensor

/// Mean and sample standard deviation (n − 1; 0 for a single value).
public func meanAndStd(_ values: [Double]) -> (mean: Double, std: Double) {
    guard !values.isEmpty else { return (.nan, .nan) }
    let mean = values.reduce(0, +) / Double(values.count)
    guard values.count > 1 else { return (mean, 0) }
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
    return (mean, variance.squareRoot())
}

/// The middle value (the mean of the two middle ones for an even count): the typical seed or timed
/// run, where one that goes its own way would pull the mean.
public func median(_ values: [Double]) -> Double {
    guard !values.isEmpty, !values.contains(where: \.isNaN) else { return .nan }
    let sorted = values.sorted(), half = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2
}

/// "1 seed", "3 seeds": for the text a run prints and its tables' comments.
public func seedCount(_ n: Int) -> String { n == 1 ? "1 seed" : "\(n) seeds" }

/// "76.37 ± 1.17" over several seeds; "76.37 (1 seed)" over one, where a 0 std would read as
/// a measured spread.
public func meanAndSpread(_ mean: Double, _ std: Double, seeds: Int, decimals: Int = 2) -> String {
    let f = "%.\(decimals)f"
    return seeds > 1 ? String(format: "\(f) ± \(f)", mean, std) : String(format: "\(f) (1 seed)", mean)
}

/// A mean over images and its 95 % bootstrap interval.
public struct Interval: Codable, Sendable, Equatable {
    public var mean: Double, low: Double, high: Double
    public init(mean: Double, low: Double, high: Double) { (self.mean, self.low, self.high) = (mean, low, high) }
}

/// The percentile bootstrap over images (Efron): `resamples` draws of n images with replacement,
/// the same draws for every series, so that a series of per-image differences is paired. Per
/// series: its mean and the 2.5th and 97.5th percentiles of the resampled means. NaN entries
/// (an image the measure does not apply to) are left out of every mean.
public func bootstrap(_ series: [[Double]], resamples: Int = 1000, rng: inout RNG) -> [Interval] {
    guard let n = series.first?.count, n > 0 else { return series.map { _ in Interval(mean: .nan, low: .nan, high: .nan) } }
    precondition(series.allSatisfy { $0.count == n }, "bootstrap: every series needs one value per image")
    func mean(_ values: [Double], _ indices: [Int]) -> Double {
        var sum = 0.0, count = 0
        for i in indices where !values[i].isNaN { sum += values[i]; count += 1 }
        return count == 0 ? .nan : sum / Double(count)
    }
    var means = [[Double]](repeating: [], count: series.count)
    var draw = [Int](repeating: 0, count: n)
    for _ in 0..<resamples {
        for j in 0..<n { draw[j] = rng.int(below: n) }
        for (s, values) in series.enumerated() { means[s].append(mean(values, draw)) }
    }
    return series.indices.map { s in
        let sorted = means[s].filter { !$0.isNaN }.sorted()
        func percentile(_ q: Double) -> Double { sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(q * Double(sorted.count)))] }
        return Interval(mean: mean(series[s], Array(0..<n)), low: percentile(0.025), high: percentile(0.975))
    }
}

/// How much a per-epoch curve still rose over the last fifth of its training: the mean of its last
/// tenth of epochs minus the mean of the tenth that ends where that fifth begins (each at least one
/// epoch, so that one noisy epoch does not decide it). nil below 5 epochs, where a fifth is less
/// than one. The full scale trains each model until this is below 0.5 point of accuracy (0.005 of
/// a KL, which falls: there the drop, −gain, is what must be small).
public func plateauGain(_ curve: [Double]) -> Double? {
    let n = curve.count
    guard n >= 5 else { return nil }
    let window = max(1, n / 10), fifth = n - n / 5
    func mean(_ values: ArraySlice<Double>) -> Double { values.reduce(0, +) / Double(values.count) }
    return mean(curve[(n - window)...]) - mean(curve[(fifth - window)..<fifth])
}

/// Each curve's plateauGain (one curve per seed), or nil unless every curve has one.
public func plateauGains(_ curves: [[Double]]) -> [Double]? {
    let gains = curves.compactMap(plateauGain)
    return gains.count == curves.count ? gains : nil
}
