// The project's one source of randomness. Every random choice (initialization, augmentation,
// shuffling, dropout) takes an `inout RNG` derived from the run's seed, so a run is reproduced
// from its seed alone. There is no global generator.
import Foundation

/// xoshiro256** (Blackman & Vigna, 2018): 256-bit state, period 2^256 − 1, passes BigCrush.
/// Seeded through SplitMix64, as its authors recommend, so nearby seeds give unrelated streams.
public struct RNG: Sendable {
    private var s0, s1, s2, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// The generator's position in its stream, for training checkpoints: `RNG(state: g.state)`
    /// continues exactly where `g` is.
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// A generator at a saved position; nil unless `state` is four words, not all zero (the one
    /// state xoshiro never reaches).
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        (s0, s1, s2, s3) = (state[0], state[1], state[2], state[3])
    }

    /// 64 uniformly random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// An independent generator for a sub-task (a worker, an augmentation stream), seeded from
    /// this one's next output; advances this generator by one step.
    public mutating func split() -> RNG { RNG(seed: next()) }

    /// Uniform in [0, 1), 53 random bits.
    public mutating func uniformDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float = 0, _ high: Float = 1) -> Float {
        // Computed in Double and clamped: a Float rounding up to `high` would break [low, high).
        let u = Double(low) + (Double(high) - Double(low)) * uniformDouble()
        return min(Float(u), high.nextDown)
    }

    /// Uniform integer in 0..<bound, without modulo bias (Lemire's multiply-and-reject).
    public mutating func int(below bound: Int) -> Int {
        precondition(bound > 0, "RNG.int(below:): bound must be positive, got \(bound)")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Uniform integer in a closed range.
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + int(below: range.upperBound - range.lowerBound + 1)
    }

    /// True with probability p.
    public mutating func bernoulli(_ p: Double) -> Bool { uniformDouble() < p }

    /// Standard normal (Box–Muller in Double; one of the pair is used, so the stream position
    /// never depends on earlier calls' parity).
    public mutating func normalDouble() -> Double {
        let u1 = 1 - uniformDouble()  // (0, 1]: log is finite
        let u2 = uniformDouble()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    public mutating func normal(mean: Float = 0, std: Float = 1) -> Float {
        mean + std * Float(normalDouble())
    }

    /// Normal(mean, std) restricted to [low, high] — absolute bounds, as PyTorch's and timm's
    /// `trunc_normal_(tensor, mean, std, a, b)`. Both methods below are exact: when the interval
    /// holds at least half the mass (timm's std 0.02 in [−2, 2] holds all of it), normal draws
    /// are rejected until one falls inside; otherwise the CDF is inverted, so narrow intervals far
    /// in the tails cost no more than wide ones.
    public mutating func truncatedNormal(mean: Float = 0, std: Float, low: Float, high: Float) -> Float {
        precondition(std > 0 && low < high, "truncatedNormal: needs std > 0 and low < high")
        let a = (Double(low) - Double(mean)) / Double(std)
        let b = (Double(high) - Double(mean)) / Double(std)
        let pa = standardNormalCDF(a), pb = standardNormalCDF(b)
        if pb - pa >= 0.5 {
            while true {
                let z = normalDouble()
                if z >= a && z <= b { return Float(Double(mean) + Double(std) * z) }
            }
        }
        let u = pa + (pb - pa) * uniformDouble()
        let z = inverseStandardNormalCDF(u)
        let x = Double(mean) + Double(std) * min(max(z, a), b)
        return Float(x)
    }

    /// Gamma(shape, 1), Marsaglia and Tsang's squeeze method (2000); a shape below 1 draws at
    /// shape + 1 and scales by U^(1/shape).
    public mutating func gamma(shape: Double) -> Double { gammaWithLog(shape: shape).value }

    /// A Gamma(shape, 1) draw and its logarithm, from the same numbers: below shape 1 the value
    /// G·U^(1/shape) underflows to 0 for tiny shapes, its log (log G + log U / shape) does not,
    /// until the shape is subnormal and log U / shape is −∞; `logU` keeps log U for that case.
    mutating func gammaWithLog(shape: Double) -> (value: Double, log: Double, logU: Double) {
        precondition(shape > 0 && shape.isFinite, "gamma: needs a finite shape > 0, got \(shape)")
        if shape < 1 {
            let g = gammaWithLog(shape: shape + 1).value, u = 1 - uniformDouble()
            return (g * Foundation.pow(u, 1 / shape), Foundation.log(g) + Foundation.log(u) / shape, Foundation.log(u))
        }
        let x = gammaAtLeastOne(shape: shape)
        return (x, Foundation.log(x), 0)
    }

    private mutating func gammaAtLeastOne(shape: Double) -> Double {
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let z = normalDouble(), v = Foundation.pow(1 + c * z, 3)
            guard v > 0 else { continue }
            let u = 1 - uniformDouble()  // (0, 1]: log is finite
            if Foundation.log(u) < 0.5 * z * z + d - d * v + d * Foundation.log(v) { return d * v }
        }
    }

    /// Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b) (NumPy's `beta`, which timm's
    /// Mixup draws its mixing weight from).
    /// When both draws underflow (α ≈ 0.001), X / (X + Y) is 0/0; their logs still give the
    /// ratio, 1 / (1 + e^(log Y − log X)). When both logs are −∞ too (a subnormal α), the ratio
    /// is 0 or 1: X > Y exactly when log U_X / a > log U_Y / b, so the draw is Bernoulli(a / (a + b)),
    /// Beta's limit as its shapes go to 0.
    public mutating func beta(_ a: Double, _ b: Double) -> Double {
        let x = gammaWithLog(shape: a), y = gammaWithLog(shape: b)
        let ratio = x.value / (x.value + y.value)
        if ratio.isFinite { return ratio }
        let logRatio = y.log - x.log
        if !logRatio.isNaN { return 1 / (1 + Foundation.exp(logRatio)) }
        return x.logU * (b / a) > y.logU ? 1 : 0
    }

    /// Fisher–Yates shuffle.
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, int(below: i + 1))
        }
    }

    /// A random permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }
}

/// Φ(x), the standard normal CDF.
func standardNormalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

/// Φ⁻¹(p): Acklam's rational approximation (relative error 1.15e-9), then one Halley step on
/// Φ(x) − p, which brings it to full double precision.
func inverseStandardNormalCDF(_ p: Double) -> Double {
    if p <= 0 { return -.infinity }
    if p >= 1 { return .infinity }
    let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
    let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
             6.680131188771972e+01, -1.328068155288572e+01]
    let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
    let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
             3.754408661907416e+00]
    let pLow = 0.02425
    var x: Double
    if p < pLow {
        let q = (-2 * log(p)).squareRoot()
        x = (((((c[0]*q + c[1])*q + c[2])*q + c[3])*q + c[4])*q + c[5]) /
            ((((d[0]*q + d[1])*q + d[2])*q + d[3])*q + 1)
    } else if p <= 1 - pLow {
        let q = p - 0.5, r = q * q
        x = (((((a[0]*r + a[1])*r + a[2])*r + a[3])*r + a[4])*r + a[5])*q /
            (((((b[0]*r + b[1])*r + b[2])*r + b[3])*r + b[4])*r + 1)
    } else {
        let q = (-2 * log(1 - p)).squareRoot()
        x = -(((((c[0]*q + c[1])*q + c[2])*q + c[3])*q + c[4])*q + c[5]) /
             ((((d[0]*q + d[1])*q + d[2])*q + d[3])*q + 1)
    }
    let e = standardNormalCDF(x) - p
    let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
    x -= u / (1 + x * u / 2)
    return x
}

// MARK: - Random tensors

extension Tensor {
    /// Normal(mean, std) entries.
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RNG,
                             requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.data[i] = rng.normal(mean: mean, std: std) }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Uniform [low, high) entries.
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RNG,
                               requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.data[i] = rng.uniform(low, high) }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Truncated normal entries (absolute bounds, timm's `trunc_normal_`: std 0.02 in [−2, 2]).
    public static func truncatedNormal(_ shape: [Int], mean: Float = 0, std: Float, low: Float = -2,
                                       high: Float = 2, rng: inout RNG, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.data[i] = rng.truncatedNormal(mean: mean, std: std, low: low, high: high) }
        t.requiresGrad = requiresGrad
        return t
    }
}
