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

    /// AUROC by hand: object patches 0.4 and 0.2 against background 0.1 and 0.3 win 3 of 4 pairs.
    @Test func aurocIsTheShareOfObjectBackgroundPairsRankedRight() {
        let w: [Float] = [0.4, 0.1, 0.3, 0.2]
        #expect(attentionAUROC(w, objects: [true, false, false, true]) == 0.75)
        #expect(attentionAUROC([0.25, 0.25, 0.5], objects: [true, false, false]) == 0.25)  // a tie counts half
        #expect(attentionAUROC(w, objects: [true, true, true, true]).isNaN)                // no background: undefined
    }

    /// The intervals: a constant has no spread; a known series' interval holds its mean and is about
    /// ±1.96 σ/√n wide; NaN is left out; the same generator gives the same bits.
    @Test func bootstrapIntervalsCoverTheMeanAtTheExpectedWidth() {
        var source = RNG(seed: 11)
        let values = (0..<4000).map { _ in source.normalDouble() * 2 + 5 }
        var rng = RNG(seed: 3)
        let intervals = bootstrap([Array(repeating: 7, count: 4000), values, values.enumerated().map { $0.offset % 2 == 0 ? .nan : $0.element }],
                                  resamples: 400, rng: &rng)
        #expect(intervals[0] == Interval(mean: 7, low: 7, high: 7))
        let expected = 1.96 * 2 / Double(4000).squareRoot()  // 0.062
        #expect(intervals[1].low < intervals[1].mean && intervals[1].mean < intervals[1].high)
        #expect(abs((intervals[1].high - intervals[1].low) / 2 - expected) < 0.25 * expected)
        let odd = values.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        #expect(abs(intervals[2].mean - odd.reduce(0, +) / Double(odd.count)) < 1e-12)
        var again = RNG(seed: 3)
        #expect(bootstrap([values], resamples: 400, rng: &again)[0] == intervals[1])
    }

    /// Each canvas holds its garment, pooled 2 × 2 and whole, at one place, and nothing is dimmer
    /// in the scene than in the garment layer; the same generator gives the same canvases.
    @Test func theCanvasHoldsTheShrunkenGarmentWhole() {
        var source = RNG(seed: 5)
        let pixels = (0..<3 * 784).map { _ in UInt8(source.int(below: 256)) }
        let set = ImageSet(pixels: pixels, labels: [0, 1, 2], height: 28, width: 28)
        var rng = RNG(seed: 9)
        let (scenes, objects) = set.onCanvas(rng: &rng)
        for i in 0..<3 {
            let object = Array(objects.pixels[i * 784..<(i + 1) * 784]), scene = Array(scenes.pixels[i * 784..<(i + 1) * 784])
            #expect(zip(scene, object).allSatisfy { $0 >= $1 })
            let total = object.reduce(0) { $0 + Int($1) }, original = pixels[i * 784..<(i + 1) * 784].reduce(0) { $0 + Int($1) }
            #expect(abs(total * 4 - original) <= 2 * 196)                  // the mean of each 2 × 2 block, rounded
            #expect(object.filter { $0 > 0 }.count <= 196)                  // 14 × 14 at most
        }
        var again = RNG(seed: 9)
        #expect(set.onCanvas(rng: &again).scenes.pixels == scenes.pixels)
    }
}

