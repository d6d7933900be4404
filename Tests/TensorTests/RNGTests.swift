// The generator: the published algorithm bit for bit, reproducible from a seed, and the
// distributions it draws with the right moments.
import Foundation
import Testing
import Tensor

@Suite("RNG") struct RNGTests {
    /// SplitMix64-seeded xoshiro256**, seed 42: the first outputs of an independent Python
    /// implementation of the reference C code.
    @Test func matchesReferenceXoshiro() {
        var rng = RNG(seed: 42)
        #expect((0..<4).map { _ in rng.next() } == [0x15780b2e0c2ec716, 0x6104d9866d113a7e, 0xae17533239e499a1, 0xecb8ad4703b360a1])
    }

    @Test func sameSeedSameTensors() {
        func draw(_ seed: UInt64) -> [Float] {
            var rng = RNG(seed: seed)
            return Tensor.randn([50], rng: &rng).scalars + Tensor.uniform([50], rng: &rng).scalars
                + Tensor.truncatedNormal([50], std: 0.02, rng: &rng).scalars + rng.permutation(20).map(Float.init)
        }
        #expect(draw(7) == draw(7))
        #expect(draw(7) != draw(8))
    }

    @Test func splitStreamsAreIndependentAndReproducible() {
        var a = RNG(seed: 1), b = RNG(seed: 1)
        var childA = a.split(), childB = b.split()
        #expect(childA.next() == childB.next())
        #expect(a.next() == b.next())
        var c = RNG(seed: 1)
        var child = c.split()
        #expect(child.next() != c.next())
    }

    @Test func distributionsHaveTheirMoments() {
        var rng = RNG(seed: 5)
        let n = 200_000
        let u = (0..<n).map { _ in Double(rng.uniform()) }
        #expect(abs(mean(u) - 0.5) < 0.003 && u.allSatisfy { $0 >= 0 && $0 < 1 })
        let z = (0..<n).map { _ in Double(rng.normal()) }
        #expect(abs(mean(z)) < 0.01 && abs(std(z) - 1) < 0.01)
        // Normal(0, 1) truncated to [−1, 2]: mean (φ(−1) − φ(2))/(Φ(2) − Φ(−1)) = 0.229637.
        let t = (0..<n).map { _ in Double(rng.truncatedNormal(std: 1, low: -1, high: 2)) }
        #expect(t.allSatisfy { $0 >= -1 && $0 <= 2 })
        #expect(abs(mean(t) - 0.229637) < 0.006)
        // Far in a tail, where rejection sampling would stall: still inside the interval.
        #expect((0..<100).allSatisfy { _ in (8...9).contains(rng.truncatedNormal(std: 1, low: 8, high: 9)) })
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[rng.int(below: 7)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
    }

    /// Gamma(k) has mean k and variance k; Beta(a, b) mean a/(a+b) and variance
    /// ab/((a+b)²(a+b+1)), also below shape 1, where the draw takes its other branch.
    @Test(arguments: [(0.8, 0.8), (1.0, 1.0), (0.2, 3.0), (4.0, 2.5)])
    func gammaAndBetaHaveTheirMoments(_ a: Double, _ b: Double) {
        var rng = RNG(seed: 11)
        let n = 100_000
        let g = (0..<n).map { _ in rng.gamma(shape: a) }
        #expect(abs(mean(g) - a) < 0.02 * a + 0.005 && abs(std(g) * std(g) - a) < 0.05 * a + 0.005, "Gamma(\(a))")
        let x = (0..<n).map { _ in rng.beta(a, b) }
        let m = a / (a + b), v = a * b / ((a + b) * (a + b) * (a + b + 1))
        #expect(x.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(abs(mean(x) - m) < 0.005 && abs(std(x) * std(x) - v) < 0.05 * v, "Beta(\(a), \(b)): mean \(mean(x)), var \(std(x) * std(x))")
    }

    /// Tiny α (Mixup at 0.001): both gamma draws underflow to 0, and the ratio must still be a
    /// number in [0, 1], split between the two ends as Beta(α, α) is (half near 0, half near 1).
    /// Where the plain ratio is a number, the draw is X / (X + Y) of the same gamma draws.
    @Test func betaWithTinyShapesIsStillANumber() {
        var rng = RNG(seed: 3)
        let x = (0..<10_000).map { _ in rng.beta(0.001, 0.001) }
        #expect(x.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
        let low = x.filter { $0 < 0.5 }.count
        #expect(abs(Double(low) / 10_000 - 0.5) < 0.03, "\(low) of 10 000 below 1/2")
        // A subnormal shape (--mixup-alpha 1e-320): both logs are −∞ too; the draw is 0 or 1,
        // 1 with probability a / (a + b).
        for (a, b, one) in [(1e-320, 1e-320, 0.5), (1e-320, 3e-320, 0.25)] {
            let y = (0..<10_000).map { _ in rng.beta(a, b) }
            #expect(y.allSatisfy { $0 == 0 || $0 == 1 }, "Beta(\(a), \(b))")
            let ones = Double(y.filter { $0 == 1 }.count) / 10_000
            #expect(abs(ones - one) < 0.03, "Beta(\(a), \(b)): \(ones) ones, expected \(one)")
        }
        var a = RNG(seed: 4), b = RNG(seed: 4)
        for _ in 0..<1000 {
            let gx = b.gamma(shape: 0.8), gy = b.gamma(shape: 0.8)
            #expect(a.beta(0.8, 0.8) == gx / (gx + gy))
        }
    }

    @Test func permutationIsAPermutation() {
        var rng = RNG(seed: 9)
        #expect(rng.permutation(1000).sorted() == Array(0..<1000))
    }

    func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
    func std(_ x: [Double]) -> Double { let m = mean(x); return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count)).squareRoot() }
}
