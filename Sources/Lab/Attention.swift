// Where a ViT's class token looks: the last block's CLS-to-patch attention per head, and how well
// it covers the object — DINO's segmentation claim (§4.2.1, Table: Jaccard of attention masks
// against object masks; 45.9 for DINO ViT-S/16, 27.3 supervised, 22.0 random).
import Data
import Foundation
import NN
import Tensor

/// The last block's attention from the class token to each patch, per head, renormalized over
/// the patches (DINO's visualize_attention.py drops the class token's attention to itself and
/// renormalizes before thresholding): (B, H, g²), row-major.
public func clsAttention(_ model: VisionTransformer, images: Tensor) -> Tensor {
    let weights = withNoGrad { model(images, collectAttention: true).lastAttention! }  // (B, H, N, N)
    let (b, h, n) = (weights.shape[0], weights.shape[1], weights.shape[2])
    let prefix = model.config.prefix.count, patches = n - prefix
    let out = Tensor(uninitialized: [b, h, patches])
    for bh in 0..<b * h {
        let row = weights.data + bh * n * n + prefix  // query 0 (the class token), keys after the prefix
        var sum: Float = 0
        for j in 0..<patches { sum += row[j] }
        for j in 0..<patches { out.data[bh * patches + j] = row[j] / max(sum, 1e-30) }
    }
    return out
}

/// The patches that hold the object: a pixel is foreground above `threshold` (Fashion-MNIST's
/// background is black), a patch when at least half its pixels are. `pixels`: one image, side × side, in [0, 1].
public func foregroundPatches(_ pixels: UnsafePointer<Float>, side: Int, patch: Int, threshold: Float = 0.1) -> [Bool] {
    let g = side / patch
    return (0..<g * g).map { k in
        let (py, px) = (k / g, k % g)
        var count = 0
        for y in py * patch..<(py + 1) * patch {
            for x in px * patch..<(px + 1) * patch where pixels[y * side + x] > threshold { count += 1 }
        }
        return 2 * count >= patch * patch
    }
}

/// The fewest patches holding at least `mass` of the attention (the official visualization keeps
/// 60 %): the largest weights first.
public func attentionMask(_ weights: UnsafePointer<Float>, count: Int, mass: Float = 0.6) -> [Bool] {
    let order = (0..<count).sorted { weights[$0] > weights[$1] }
    var mask = [Bool](repeating: false, count: count)
    var kept: Float = 0
    for j in order where kept < mass {
        mask[j] = true
        kept += weights[j]
    }
    return mask
}

/// |a ∩ b| / |a ∪ b| (1 when both are empty).
public func jaccard(_ a: [Bool], _ b: [Bool]) -> Double {
    let both = zip(a, b).filter { $0 && $1 }.count, either = zip(a, b).filter { $0 || $1 }.count
    return either == 0 ? 1 : Double(both) / Double(either)
}

/// How one model's class-token attention covers the objects of a set of images.
public struct AttentionStatistics: Codable, Sendable {
    public var jaccardPerHead: [Double]        // mean over images, percent
    public var bestHead: Int                   // 0-based
    public var bestJaccard: Double             // the paper's number: the best head's mean Jaccard, percent
    public var meanMapJaccard: Double          // the mask of the head-averaged map, percent
    public var foregroundMassPerHead: [Double] // share of attention on foreground patches, percent
    public var foregroundMass: Double          // mean over heads
    public var foregroundShare: Double         // share of patches that are foreground: what uniform attention would score
}

/// Attention masks (60 % of the mass) against foreground masks, over every image of `set`.
public func attentionStatistics(_ model: VisionTransformer, on set: ImageSet, data: FashionMNIST, mass: Float = 0.6,
                                threshold: Float = 0.1, batchSize: Int = 500) -> AttentionStatistics {
    model.setTraining(false)
    let (h, p, side) = (model.config.heads, model.config.patchSize, set.height)
    let patches = (side / p) * (side / p)
    var jaccards = [Double](repeating: 0, count: h), masses = [Double](repeating: 0, count: h)
    var meanJaccard: Double = 0, foreground: Double = 0
    TimeBreakdown.measure(.evaluation) { for start in stride(from: 0, to: set.count, by: batchSize) {
        let indices = Array(start..<min(start + batchSize, set.count))
        let pixels = set.images(indices)
        let attention = clsAttention(model, images: data.normalize(pixels))  // (B, H, g²)
        for i in indices.indices {
            let objects = foregroundPatches(pixels.data + i * side * side, side: side, patch: p, threshold: threshold)
            foreground += Double(objects.filter { $0 }.count) / Double(patches)
            var average = [Float](repeating: 0, count: patches)
            for head in 0..<h {
                let w = attention.data + (i * h + head) * patches
                jaccards[head] += jaccard(attentionMask(w, count: patches, mass: mass), objects)
                for j in 0..<patches {
                    if objects[j] { masses[head] += Double(w[j]) }
                    average[j] += w[j] / Float(h)
                }
            }
            meanJaccard += average.withUnsafeBufferPointer { jaccard(attentionMask($0.baseAddress!, count: patches, mass: mass), objects) }
        }
    } }
    let n = Double(set.count)
    let perHead = jaccards.map { 100 * $0 / n }
    let best = perHead.indices.max { perHead[$0] < perHead[$1] }!
    let massPerHead = masses.map { 100 * $0 / n }
    return AttentionStatistics(jaccardPerHead: perHead, bestHead: best, bestJaccard: perHead[best], meanMapJaccard: 100 * meanJaccard / n,
                               foregroundMassPerHead: massPerHead, foregroundMass: massPerHead.reduce(0, +) / Double(h),
                               foregroundShare: 100 * foreground / n)
}
