// Mixup and CutMix mix the pixels and report the weight of each label exactly.
import Foundation
import Testing
import Data
import Tensor

@Suite("Mixup and CutMix") struct MixingTests {
    /// Image i is the constant i + 1, so every output pixel tells whose it is.
    static func constants(_ b: Int, h: Int = 8, w: Int = 8) -> Tensor {
        Tensor((0..<b).flatMap { [Float](repeating: Float($0 + 1), count: h * w) }, shape: [b, 1, h, w])
    }

    @Test func offLeavesTheBatchAlone() {
        var rng = RNG(seed: 1)
        let x = Self.constants(4)
        let mixed = mixBatch(x, config: .off, rng: &rng)
        #expect(mixed.kind == .none && mixed.lambda == 1 && mixed.images.scalars == x.scalars)
        #expect(mixed.dominantLabels([3, 1, 4, 1]) == [3, 1, 4, 1])
    }

    @Test func mixupBlendsEachImageWithItsMirror() {
        var config = MixConfig()
        config.cutmixAlpha = 0
        var rng = RNG(seed: 2)
        let x = Self.constants(5)
        let m = mixBatch(x, config: config, rng: &rng)
        #expect(m.kind == .mixup && m.partner == [4, 3, 2, 1, 0] && (0...1).contains(m.lambda))
        for i in 0..<5 {
            let expected = m.lambda * Float(i + 1) + (1 - m.lambda) * Float(5 - i)
            #expect(abs(m.images.scalars[i * 64 + 17] - expected) < 1e-5)
        }
        #expect(m.partnerLabels([0, 1, 2, 3, 4]) == [4, 3, 2, 1, 0])
    }

    @Test func cutmixPastesABoxWhoseAreaIsTheLabelWeight() {
        var config = MixConfig()
        config.mixupAlpha = 0
        var rng = RNG(seed: 3)
        for _ in 0..<20 {
            let x = Self.constants(4, h: 10, w: 12)
            let m = mixBatch(x, config: config, rng: &rng)
            #expect(m.kind == .cutmix)
            for i in 0..<4 {
                let pixels = m.images.scalars[(i * 120)..<((i + 1) * 120)]
                let own = pixels.filter { $0 == Float(i + 1) }.count, other = pixels.filter { $0 == Float(4 - i) }.count
                #expect(own + other == 120 || i + 1 == 4 - i)
                if i + 1 != 4 - i { #expect(abs(Float(own) / 120 - m.lambda) < 1e-6) }
            }
        }
    }

    /// Over many batches: half CutMix, half Mixup, and λ averages ½ for both (Beta(α, α) is
    /// symmetric; CutMix's clipped boxes only raise the kept area).
    @Test func theDrawsFollowTheConfig() {
        var rng = RNG(seed: 4)
        let x = Self.constants(2, h: 16, w: 16)
        var kinds: [MixKind: Int] = [:], mixupLambda: [Float] = []
        for _ in 0..<2000 {
            let m = mixBatch(x, config: MixConfig(), rng: &rng)
            kinds[m.kind, default: 0] += 1
            if m.kind == .mixup { mixupLambda.append(m.lambda) }
        }
        #expect(kinds[.none] == nil && abs(kinds[.cutmix, default: 0] - 1000) < 100)
        #expect(abs(mixupLambda.reduce(0, +) / Float(mixupLambda.count) - 0.5) < 0.03)
    }

    /// α = 0.001 (accepted: any finite α ≥ 0): both gamma draws of Beta(α, α) underflow, and the
    /// mix must still be a weight in [0, 1] with a finite batch.
    @Test func tinyAlphasStillMix() {
        var rng = RNG(seed: 5)
        let x = Self.constants(2, h: 16, w: 16)
        var config = MixConfig()
        (config.mixupAlpha, config.cutmixAlpha) = (0.001, 0.001)
        for _ in 0..<200 {
            let m = mixBatch(x, config: config, rng: &rng)
            #expect(m.lambda.isFinite && m.lambda >= 0 && m.lambda <= 1)
            #expect(m.images.isFinite)
        }
    }
}
