// The true labels of a batch after Mixup or CutMix (Data/Mixing.swift): image i's target is
//     λ·onehot(y_i) + (1 − λ)·onehot(y_partner(i)),    λ = 1 when the batch is not mixed.
// Cross-entropy is linear in its target, so the loss against that target, smoothed or not, is
//     λ·CE_ε(z, y) + (1 − λ)·CE_ε(z, y_partner)
// — timm's SoftTargetCrossEntropy on the targets its Mixup builds, without building them.
import Tensor

public struct MixedLabels: Sendable {
    public var labels: [Int]
    public var partners: [Int]
    public var lambda: Float    // the weight of each image's own label

    /// Unmixed labels.
    public init(_ labels: [Int]) { (self.labels, partners, lambda) = (labels, labels, 1) }

    public init(labels: [Int], partners: [Int], lambda: Float) {
        precondition(labels.count == partners.count && (0...1).contains(lambda), "MixedLabels: \(labels.count) labels, \(partners.count) partners, λ \(lambda)")
        (self.labels, self.partners, self.lambda) = (labels, partners, lambda)
    }

    /// The label of larger weight per image: what a hard label would have to be.
    public var dominant: [Int] { lambda >= 0.5 ? labels : partners }
}

/// λ·CE_ε(z, y) + (1 − λ)·CE_ε(z, y_partner); exactly CE_ε(z, y) when λ = 1.
public func crossEntropy(_ logits: Tensor, mixed: MixedLabels, labelSmoothing: Float = 0) -> Tensor {
    let own = crossEntropy(logits, labels: mixed.labels, labelSmoothing: labelSmoothing)
    guard mixed.lambda < 1 else { return own }
    return own * mixed.lambda + crossEntropy(logits, labels: mixed.partners, labelSmoothing: labelSmoothing) * (1 - mixed.lambda)
}
