// Comparing models' class-token attention: the paired differences of their best heads, the
// ranking they support, and the maps of a few images drawn at pixel resolution.
import Data
import Foundation
import NN
import Tensor

/// Per measure ("mass", "jaccard", "auroc"): the best heads' per-image differences between each
/// pair of `models` (named "a-b", in points) with paired bootstrap intervals — every measure
/// draws from a generator of `seed`, the draws `statistics` used — and the models ranked by
/// their best head, joined by ">" where the difference's interval excludes 0 and "≈" where not.
public func compareAttention(_ models: [String], scores: [String: AttentionScores], statistics: [String: AttentionStatistics],
                             measures: [String], resamples: Int, seed: UInt64) -> (differences: [String: [String: Interval]], ordering: [String: String]) {
    var differences: [String: [String: Interval]] = [:], ordering: [String: String] = [:]
    let pairs = models.indices.flatMap { i in models[(i + 1)...].map { (models[i], $0) } }
    for measure in measures {
        func best(_ model: String) -> [Double] { scores[model]![measure][statistics[model]![measure].bestHead].map { 100 * $0 } }
        var rng = RNG(seed: seed)
        let intervals = bootstrap(pairs.map { a, b in zip(best(a), best(b)).map { $0 - $1 } }, resamples: resamples, rng: &rng)
        for ((a, b), interval) in zip(pairs, intervals) { differences[measure, default: [:]]["\(a)-\(b)"] = interval }
        let ranked = models.sorted { statistics[$0]![measure].best.mean > statistics[$1]![measure].best.mean }
        ordering[measure] = ranked.dropFirst().indices.reduce(ranked[0]) { text, k in
            let (a, b) = (ranked[k - 1], ranked[k])
            let d = differences[measure]!["\(a)-\(b)"] ?? differences[measure]!["\(b)-\(a)"].map { Interval(mean: -$0.mean, low: -$0.high, high: -$0.low) }!
            return text + (d.low > 0 ? " > " : " ≈ ") + b
        }
    }
    return (differences, ordering)
}

/// The maps of `images` under `model`, each a side × side block of numbers at pixel resolution,
/// tab-separated: per image the image itself, each head's map, the head mean, then the
/// `mass`-mask of the image's `bestHead`. A map is a multiple of uniform attention (weight × g²:
/// 1 where the class token spreads its attention evenly over the g² patches), so every map of
/// every model is on one scale and a flat map looks flat.
public func attentionMapBlocks(_ model: VisionTransformer, images: [(set: ImageSet, index: Int, bestHead: Int)], data: FashionMNIST,
                               mass: Float) -> [String] {
    let (side, p, h) = (data.test.height, model.config.patchSize, model.config.heads)
    let g = side / p
    func block(_ value: (Int, Int) -> Float) -> String {
        (0..<side).map { y in (0..<side).map { x in String(format: "%.4g", value(y, x)) }.joined(separator: "\t") }.joined(separator: "\n")
    }
    func relativeToUniform(_ w: [Float]) -> (Int, Int) -> Float { { y, x in w[(y / p) * g + x / p] * Float(g * g) } }
    var blocks: [String] = []
    for item in images {
        let pixels = item.set.images([item.index])
        let attention = clsAttention(model, images: data.normalize(pixels))  // (1, H, g²)
        blocks.append(block { y, x in pixels.data[y * side + x] })
        var mean = [Float](repeating: 0, count: g * g)
        for head in 0..<h {
            let w = Array(UnsafeBufferPointer(start: attention.data + head * g * g, count: g * g))
            for j in w.indices { mean[j] += w[j] / Float(h) }
            blocks.append(block(relativeToUniform(w)))
        }
        blocks.append(block(relativeToUniform(mean)))
        let mask = attentionMask(attention.data + item.bestHead * g * g, count: g * g, mass: mass)
        blocks.append(block { y, x in mask[(y / p) * g + x / p] ? 1 : 0 })
    }
    return blocks
}
