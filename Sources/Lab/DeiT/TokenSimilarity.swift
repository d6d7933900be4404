// How alike a two-token ViT's two prefix tokens are, from the learned embeddings to the output
// (DeiT §4, "Distillation token": 0.06 at the input, 0.93 after the last layer; 0.999 for two
// class tokens).
import Data
import Foundation
import NN
import Tensor

/// cos(token 0, token 1) through a two-token ViT.
public struct TokenCosines: Codable, Sendable {
    /// The learned embeddings themselves (cls_token vs dist_token / cls_token_2): the paper's 0.06.
    public var inputTokens: Double
    /// The same with their position embeddings added, as they enter the first block.
    public var inputWithPositions: Double
    /// After each block (residual stream, before the final norm), averaged over the images.
    public var blocks: [Double]
    /// After the final norm: the vectors the two heads read. The paper's 0.93 ("the last layer").
    public var output: Double

    /// Through the network: the learned tokens, after each block, after the final norm.
    public var profile: [Double] { [inputTokens] + blocks + [output] }

    /// As an epoch record's metrics: cos_tokens, cos_block1 … cos_blockN, cos_norm.
    public var metrics: [String: Double] {
        var m = ["cos_tokens": inputTokens, "cos_norm": output]
        for (i, b) in blocks.enumerated() { m["cos_block\(i + 1)"] = b }
        return m
    }
}

/// DeiT §4's control objective: two class tokens, both heads on the true labels,
/// ½·CE_ε(Z₁, y) + ½·CE_ε(Z₂, y).
public func twoClassTokenObjective(student: VisionTransformer, labelSmoothing: Float) throws -> Objective {
    guard student.config.prefix == .twoCls else {
        throw DistillationError("the two-class-token control needs a student with prefix twoCls, got \(student.config.prefix.rawValue)")
    }
    return { images, labels in
        let out = student(images)
        let loss = (crossEntropy(out.logits!, mixed: labels, labelSmoothing: labelSmoothing)
                    + crossEntropy(out.secondLogits!, mixed: labels, labelSmoothing: labelSmoothing)) * 0.5
        return (loss, [:])
    }
}

/// Cosine similarity of two vectors, in Double.
func cosine(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Double {
    var ab: Double = 0, aa: Double = 0, bb: Double = 0
    for i in 0..<count {
        let (x, y) = (Double(a[i]), Double(b[i]))
        ab += x * y; aa += x * x; bb += y * y
    }
    return ab / max((aa * bb).squareRoot(), 1e-30)
}

/// Mean over the batch of cos(row 0, row 1) of tokens (B, N, D).
func meanPrefixCosine(_ tokens: Tensor) -> (sum: Double, count: Int) {
    let (b, n, d) = (tokens.shape[0], tokens.shape[1], tokens.shape[2])
    var sum: Double = 0
    for i in 0..<b { sum += cosine(tokens.data + i * n * d, tokens.data + i * n * d + d, count: d) }
    return (sum, b)
}

/// The cosines of `model`'s two prefix tokens, averaged over every image of `set`.
public func tokenCosines(_ model: VisionTransformer, on set: ImageSet, data: FashionMNIST, batchSize: Int = 500) -> TokenCosines {
    precondition(model.config.prefix.count == 2, "tokenCosines: the model has one prefix token")
    model.setTraining(false)
    let d = model.config.width
    let tokens = (model.clsToken, model.secondToken!)
    let positions = model.posEmbed.data
    let firstWithPosition = (0..<d).map { tokens.0.data[$0] + positions[$0] }
    let secondWithPosition = (0..<d).map { tokens.1.data[$0] + positions[d + $0] }
    var blockSums = [Double](repeating: 0, count: model.config.depth)
    var outputSum: Double = 0
    forEachBatch(of: set, data: data, batchSize: batchSize, sizedFor: model) { _, _, x in
        let out = model(x, collectBlockTokens: true)
        for (i, t) in out.blockTokens.enumerated() { blockSums[i] += meanPrefixCosine(t).sum }
        for i in 0..<x.shape[0] { outputSum += cosine(out.features.data + i * d, out.secondFeatures!.data + i * d, count: d) }
    }
    let n = Double(set.count)
    return TokenCosines(inputTokens: cosine(tokens.0.data, tokens.1.data, count: d),
                        inputWithPositions: cosine(firstWithPosition, secondWithPosition, count: d),
                        blocks: blockSums.map { $0 / n }, output: outputSum / n)
}
