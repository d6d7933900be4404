// The pieces of the attention-map statistics, against cases worked by hand.
import Foundation
import Testing
import Data
import Lab
import NN
import Tensor

@Suite("attention maps") struct AttentionTests {
    @Test func theMassMaskKeepsTheFewestPatchesHoldingTheMass() {
        let w: [Float] = [0.05, 0.4, 0.1, 0.25, 0.2]
        #expect(attentionMask(w, count: 5, mass: 0.6) == [false, true, false, true, false])   // 0.4 + 0.25 = 0.65
        #expect(attentionMask(w, count: 5, mass: 0.7) == [false, true, false, true, true])    // + 0.2
        #expect(attentionMask(w, count: 5, mass: 0.3) == [false, true, false, false, false])
    }

    @Test func jaccardIsIntersectionOverUnion() {
        #expect(jaccard([true, true, false, false], [true, false, true, false]) == 1.0 / 3)
        #expect(jaccard([false, false], [false, false]) == 1)
        #expect(jaccard([true, false], [false, true]) == 0)
    }

    /// A 4 × 4 image of 2 × 2 patches: a patch is object when at least half its pixels are bright.
    @Test func aPatchIsObjectWhenHalfItsPixelsAreBright() {
        let image: [Float] = [1, 1, 0, 0,
                              0, 0, 0, 1,
                              0, 0, 0, 0,
                              0.05, 0, 1, 1]
        #expect(foregroundPatches(image, side: 4, patch: 2, threshold: 0.1) == [true, false, false, true])
    }

    /// The class token's attention over the patches is a distribution per head, and it is the
    /// model's own last-block attention row, renormalized without the class token itself.
    @Test(.enabled(if: dataset != nil))
    func classAttentionIsTheLastBlocksRowRenormalized() throws {
        let data = dataset!
        var rng = RNG(seed: 4)
        let model = try VisionTransformer(ViTConfig(patchSize: 7, width: 16, depth: 2, heads: 2), rng: &rng)
        model.setTraining(false)
        let x = data.normalize(data.test.images([0, 1, 2]))
        let a = clsAttention(model, images: x)
        #expect(a.shape == [3, 2, 16])
        let raw = withNoGrad { model(x, collectAttention: true).lastAttention! }  // (3, 2, 17, 17)
        for bh in 0..<6 {
            let row = (0..<16).map { a.data[bh * 16 + $0] }
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
            let full = (0..<17).map { raw.data[bh * 17 * 17 + $0] }
            for j in 0..<16 { #expect(abs(row[j] - full[j + 1] / (1 - full[0])) < 1e-5) }
        }
    }
}
