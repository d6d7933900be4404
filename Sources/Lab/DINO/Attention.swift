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

/// The AUROC of attention as a score for "this patch is object": the chance that a random object
/// patch gets more attention than a random background patch, ties counting half (Mann–Whitney).
/// 0.5 is attention blind to the object, 1 attention above every background patch. NaN when the
/// image has no object patch or no background patch.
public func attentionAUROC(_ weights: UnsafePointer<Float>, objects: [Bool]) -> Double {
    var wins = 0.0, pairs = 0.0
    for i in objects.indices where objects[i] {
        for j in objects.indices where !objects[j] {
            wins += weights[i] > weights[j] ? 1 : (weights[i] == weights[j] ? 0.5 : 0)
            pairs += 1
        }
    }
    return pairs == 0 ? .nan : wins / pairs
}

/// Per image, how each head's class-token attention (and the head-averaged map) covers the
/// object: the three measures, one value per map and image.
public struct AttentionScores: Sendable {
    public var mass: [[Double]]      // [map][image]: share of the attention on object patches; maps are the heads, then their mean
    public var jaccard: [[Double]]   // Jaccard of the mask holding `mass` of the attention with the object mask
    public var auroc: [[Double]]     // attentionAUROC (NaN where it does not apply)
    public var objectShare: [Double] // share of the patches that are object: what uniform attention's mass would be
    public var heads: Int { mass.count - 1 }
}

/// The measures of `model`'s last-block class-token attention on every image of `set`. The
/// object mask of an image is the foreground patches of the same image of `objectLayer` (the
/// object alone, as Data/Canvas.swift draws it), or of `set` itself when there is none.
public func attentionScores(_ model: VisionTransformer, on set: ImageSet, objectLayer: ImageSet? = nil, data: FashionMNIST, mass: Float = 0.6,
                            threshold: Float = 0.1, batchSize: Int = 500) -> AttentionScores {
    model.setTraining(false)
    let (h, p, side) = (model.config.heads, model.config.patchSize, set.height)
    let patches = (side / p) * (side / p)
    var scores = AttentionScores(mass: .init(repeating: [], count: h + 1), jaccard: .init(repeating: [], count: h + 1),
                                 auroc: .init(repeating: [], count: h + 1), objectShare: [])
    forEachBatch(of: set, data: data, batchSize: batchSize, sizedFor: model) { indices, pixels, inputs in
        let objectPixels = objectLayer?.images(indices) ?? pixels
        let attention = clsAttention(model, images: inputs)  // (B, H, g²)
        for b in indices.indices {
            let object = foregroundPatches(objectPixels.data + b * side * side, side: side, patch: p, threshold: threshold)
            scores.objectShare.append(Double(object.filter { $0 }.count) / Double(patches))
            var average = [Float](repeating: 0, count: patches)
            for head in 0..<h {
                let w = attention.data + (b * h + head) * patches
                for j in 0..<patches { average[j] += w[j] / Float(h) }
            }
            for map in 0...h {
                average.withUnsafeBufferPointer { averaged in
                    let w = map < h ? UnsafePointer(attention.data + (b * h + map) * patches) : averaged.baseAddress!
                    var onObject = 0.0
                    for j in 0..<patches where object[j] { onObject += Double(w[j]) }
                    scores.mass[map].append(onObject)
                    scores.jaccard[map].append(jaccard(attentionMask(w, count: patches, mass: mass), object))
                    scores.auroc[map].append(attentionAUROC(w, objects: object))
                }
            }
        }
    }
    return scores
}

/// One measure over a set of images, in percent, each with its 95 % bootstrap interval.
public struct AttentionMeasure: Codable, Sendable {
    public var perHead: [Interval]
    public var bestHead: Int        // 0-based: the head of the highest mean, chosen on the same images (as the paper's best head)
    public var best: Interval
    public var headMean: Interval   // the map averaged over the heads
}

/// How one model's class-token attention covers the objects of a set of images.
public struct AttentionStatistics: Codable, Sendable {
    public var mass: AttentionMeasure     // share of attention on the object
    public var jaccard: AttentionMeasure  // the paper's number: Jaccard of the 60 %-mass mask, best head
    public var auroc: AttentionMeasure    // threshold-free: attention as a score for object patches
    public var objectShare: Interval      // share of patches that are object: uniform attention's mass
    public var imagesWithoutAUROC: Int    // images whose patches are all object or all background

    /// The intervals of `scores` by the bootstrap over images, from `rng`.
    public init(_ scores: AttentionScores, resamples: Int = 1000, rng: inout RNG) {
        let h = scores.heads
        let series = (scores.mass + scores.jaccard + scores.auroc).map { $0.map { 100 * $0 } } + [scores.objectShare.map { 100 * $0 }]
        let intervals = bootstrap(series, resamples: resamples, rng: &rng)
        func measure(_ k: Int) -> AttentionMeasure {
            let maps = Array(intervals[k * (h + 1)..<(k + 1) * (h + 1)])
            let heads = Array(maps.prefix(h))
            let best = heads.indices.max { heads[$0].mean < heads[$1].mean }!
            return AttentionMeasure(perHead: heads, bestHead: best, best: heads[best], headMean: maps[h])
        }
        (mass, jaccard, auroc) = (measure(0), measure(1), measure(2))
        objectShare = intervals.last!
        imagesWithoutAUROC = scores.auroc[h].filter(\.isNaN).count
    }
}

extension AttentionScores {
    /// One measure's per-head series by its name in `AttentionStatistics.measures`.
    public subscript(_ measure: String) -> [[Double]] { measure == "mass" ? mass : (measure == "jaccard" ? jaccard : auroc) }
}

extension AttentionStatistics {
    /// The measures by the names the summaries use.
    public static let measures = ["mass", "jaccard", "auroc"]

    public subscript(_ measure: String) -> AttentionMeasure { measure == "mass" ? mass : (measure == "jaccard" ? jaccard : auroc) }
}

extension AttentionStatistics {
    /// A table with a row per (setting, model): index, setting, model, then per measure its best
    /// head and head mean with their intervals (`row`), the object's share, and the paper's value.
    public static func table(paperColumn: String) -> Table {
        var columns: [Table.Column] = [.init("index"), .init("setting"), .init("model")]
        for measure in measures {
            for part in ["best", "best_low", "best_high", "best_head", "head_mean", "head_mean_low", "head_mean_high"] {
                columns.append(.init("\(measure)_\(part)", part == "best_head" ? "" : "%"))
            }
        }
        return Table(columns + [.init("object_share", "%"), .init("paper_jaccard", paperColumn)])
    }

    /// This model's cells of `table`'s row, after its index, setting and name and before the
    /// paper's value.
    public var row: [Any] {
        Self.measures.flatMap { measure -> [Any] in
            let x = self[measure]
            return [x.best.mean, x.best.low, x.best.high, x.bestHead, x.headMean.mean, x.headMean.low, x.headMean.high]
        } + [objectShare.mean]
    }

    /// The best heads' measures in words, with their intervals.
    public var described: String {
        func shown(_ x: Interval) -> String { String(format: "%.1f %% [%.1f, %.1f]", x.mean, x.low, x.high) }
        return "attention on the object \(shown(mass.best)), Jaccard \(shown(jaccard.best)), AUROC \(shown(auroc.best)); "
            + "the object is \(String(format: "%.1f", objectShare.mean)) % of the patches"
    }
}
