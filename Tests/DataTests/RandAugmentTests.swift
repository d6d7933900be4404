// RandAugment's operations do what PIL and timm define, on cases worked by hand; the policy keeps
// shapes and range and is reproducible from the seed.
import Foundation
import Testing
import Data
import Tensor

@Suite("RandAugment") struct RandAugmentTests {
    /// One operation on one (h, w) plane given as bytes (0…255), returned as bytes.
    static func apply(_ op: RandAugment.Operation, level: Float, sign: Float = 1, _ bytes: [Float], h: Int, w: Int) -> [Float] {
        let plane = Tensor(bytes.map { $0 / 255 }, shape: [1, 1, h, w])
        return RandAugment().apply(op, level: level, sign: sign, to: plane).scalars.map { ($0 * 255 * 1000).rounded() / 1000 }
    }

    @Test func policyKeepsShapeRangeAndSeed() {
        var rng = RNG(seed: 3)
        let x = Tensor.uniform([8, 1, 28, 28], rng: &rng)
        var policy = RandAugment()
        policy.probability = 1
        var a = RNG(seed: 5), b = RNG(seed: 5), c = RNG(seed: 6)
        let y = policy(x, rng: &a)
        #expect(y.shape == x.shape && y.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(policy(x, rng: &b).scalars == y.scalars)
        #expect(policy(x, rng: &c).scalars != y.scalars)
        var none = RandAugment()
        none.probability = 0
        #expect(none(x, rng: &a).scalars == x.scalars)
    }

    @Test func everyOperationStaysInRangeAtEveryLevel() {
        var rng = RNG(seed: 8)
        let x = Tensor.uniform([1, 1, 12, 10], rng: &rng).scalars.map { $0 * 255 }
        for op in RandAugment.Operation.allCases {
            for level: Float in [0, 0.5, 1] {
                for sign: Float in [-1, 1] {
                    let y = Self.apply(op, level: level, sign: sign, x, h: 12, w: 10)
                    #expect(y.count == x.count && y.allSatisfy { $0 >= -0.001 && $0 <= 255.001 }, "\(op) at \(level), \(sign)")
                }
            }
        }
    }

    @Test func intensityOperationsFollowPIL() {
        let x: [Float] = [10, 60, 130, 200]
        #expect(Self.apply(.invert, level: 0.9, x, h: 2, w: 2) == [245, 195, 125, 55])
        #expect(Self.apply(.autoContrast, level: 0.9, x, h: 2, w: 2) == [0, 67.105, 161.053, 255])  // (x − 10) · 255 / 190
        // Level 0.9 posterizes to 4 − 3 = 1 bit: 0 or 128.
        #expect(Self.apply(.posterize, level: 0.9, x, h: 2, w: 2) == [0, 0, 128, 128])
        // Level 0.9: bytes ≥ 256 − 230 = 26 invert.
        #expect(Self.apply(.solarize, level: 0.9, x, h: 2, w: 2) == [10, 195, 125, 55])
        // Level 0.9: bytes below 128 gain 99.
        #expect(Self.apply(.solarizeAdd, level: 0.9, x, h: 2, w: 2) == [109, 159, 130, 200])
        // Brightness 1 − 0.9·0.5 = 0.55 against black.
        #expect(Self.apply(.brightness, level: 0.5, sign: -1, x, h: 2, w: 2) == [5.5, 33, 71.5, 110])
        // Contrast 1.45 about the rounded mean byte, 100.
        #expect(Self.apply(.contrast, level: 0.5, x, h: 2, w: 2) == [0, 42, 143.5, 245])
        // A flat image has nothing to sharpen; at level 0 the factor is 1.
        #expect(Self.apply(.sharpness, level: 1, [Float](repeating: 77, count: 9), h: 3, w: 3) == [Float](repeating: 77, count: 9))
        let noisy: [Float] = (0..<12).map { Float($0 * 37 % 256) }
        #expect(Self.apply(.sharpness, level: 0, noisy, h: 3, w: 4) == noisy)
    }

    /// 256 black pixels, 256 at 100 and one at 200: step (513 − 1) / 255 = 2, so 0 → 0,
    /// 100 → ⌊257 / 2⌋ = 128, 200 → ⌊513 / 2⌋ clamped to 255.
    @Test func equalizeSpreadsTheHistogramAsPILDoes() {
        let x = [Float](repeating: 0, count: 256) + [Float](repeating: 100, count: 256) + [200]
        let y = Self.apply(.equalize, level: 0.9, x, h: 27, w: 19)
        #expect(y[0] == 0 && y[256] == 128 && y[512] == 255)
    }

    @Test func geometricOperationsMoveThePixels() {
        let (h, w) = (5, 6)
        let x = (0..<h * w).map { Float($0 + 1) }
        // Level 1 translates by 0.45 of the size; this level moves by exactly two columns.
        let shifted = Self.apply(.translateX, level: 2 / (0.45 * Float(w)), x, h: h, w: w)
        for y in 0..<h {
            for c in 0..<w { #expect(abs(shifted[y * w + c] - (c + 2 < w ? x[y * w + c + 2] : 0)) < 0.01, "row \(y) column \(c)") }
        }
        let down = Self.apply(.translateY, level: 1 / (0.45 * Float(h)), sign: -1, x, h: h, w: w)
        for c in 0..<w { #expect(down[c] == 0 && abs(down[w + c] - x[c]) < 0.01) }
        for op in [RandAugment.Operation.rotate, .shearX, .shearY] { #expect(Self.apply(op, level: 0, x, h: h, w: w) == x, "\(op) at level 0") }
        // Rotation turns about the centre: the centre pixel of an odd-sized image stays.
        let odd = (0..<49).map { Float($0 * 5) }
        #expect(abs(Self.apply(.rotate, level: 1, odd, h: 7, w: 7)[24] - odd[24]) < 0.01)
        // 30° counter-clockwise: a bright pixel right of the centre, at (3, 6), moves up.
        var dot = [Float](repeating: 0, count: 49)
        dot[3 * 7 + 6] = 255
        let turned = Self.apply(.rotate, level: 1, dot, h: 7, w: 7)
        let above: Float = turned[0..<21].reduce(0, +), below: Float = turned[28..<49].reduce(0, +)
        #expect(above > 0 && below == 0)
    }
}
