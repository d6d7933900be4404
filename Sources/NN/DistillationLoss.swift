// DeiT's training objectives (Touvron et al. 2021, §4; the official losses.py), for a student
// taught by a teacher that runs without a graph on exactly the student's augmented input.
import Foundation
import Tensor

public struct DistillationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How the teacher's logits enter the student's loss.
public enum DistillationType: String, Codable, CaseIterable, Sendable {
    case none    // no teacher
    case soft    // Hinton's KD on softened distributions (DeiT Eq. 2)
    case hard    // the teacher's argmax as a second label (DeiT Eq. 3)
    case token   // DeiT⚗: class head on the labels, distillation head on the teacher's argmax

    /// Parses a command-line value, naming the choices when it is unknown.
    public init(parsing text: String) throws {
        guard let value = DistillationType(rawValue: text) else {
            throw DistillationError("unknown distillation type '\(text)'; choose one of \(DistillationType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = value
    }
}

/// How the soft loss's KL is divided: per sample ("batchmean", the KL as defined) or per
/// element — the official code's legacy `/ outputs.numel()` (deit#61), which is the per-sample
/// value divided by the class count.
public enum KLNormalization: String, Codable, CaseIterable, Sendable { case perSample = "per-sample", perElement = "per-element" }

/// What the distillation head learns from under `.token`.
public enum TokenTarget: String, Codable, CaseIterable, Sendable {
    case hard   // DeiT⚗: the teacher's argmax
    case soft   // the teacher's softened distribution (the official code's `--distillation-type soft` with a token)
}

public struct DistillationConfig: Codable, Hashable, Sendable {
    public var type: DistillationType
    public var tau: Float = 3                 // paper 3.0 for soft (official default 1.0)
    public var lambda: Float = 0.1            // paper 0.1 for soft
    public var alpha: Float = 0.5             // official --distillation-alpha 0.5; the hard loss's ½ and ½
    public var labelSmoothing: Float = 0.1    // paper 0.1 on the true labels, never on the teacher's
    public var klNormalization = KLNormalization.perSample
    public var tokenTarget: TokenTarget? = nil // nil: hard (DeiT⚗)

    public init(type: DistillationType) { self.type = type }

    public func validate() throws {
        // Soft distillation scales its KL by τ²: below 0.1 the term vanishes next to the labels' (and
        // the softened logits overflow), above 100 τ² swamps it.
        guard (0.1...100).contains(tau) else { throw DistillationError("distillation: τ must be from 0.1 to 100, got \(tau) (the paper's is 3)") }
        guard (0...1).contains(lambda) else { throw DistillationError("distillation: λ must be in [0, 1], got \(lambda) (the paper's is 0.1)") }
        guard lambda == 0 || lambda >= 1e-6 else {
            throw DistillationError("distillation: a λ of \(lambda) gives the teacher's term a negligible weight (under 1e-6 of the loss); use 0 for none, or at least 1e-6 (the paper's is 0.1)")
        }
        guard (0...1).contains(alpha) else { throw DistillationError("distillation: α must be in [0, 1], got \(alpha) (the official is 0.5)") }
        guard (0..<1).contains(labelSmoothing) else { throw DistillationError("distillation: label smoothing must be in [0, 1), got \(labelSmoothing)") }
    }
}

/// The student's loss, averaged over the batch. Zs: class-head logits (B, C); Zd: the
/// distillation head's (token only); Zt: the teacher's logits, computed without a graph; y: the
/// true labels, mixed when Mixup or CutMix made the batch (NN/MixedLabels.swift); CE_ε:
/// cross-entropy with label smoothing ε, on the true labels only; ψ: softmax; y_t = argmax_c Zt.
///
///   none:  CE_ε(Zs, y)
///   soft:  (1 − λ)·CE_ε(Zs, y) + λτ²·KL(ψ(Zt/τ) ‖ ψ(Zs/τ))   [KL per sample, or ÷ C per element]
///   hard:  (1 − α)·CE_ε(Zs, y) + α·CE(Zs, y_t)                  (α = ½: DeiT Eq. 3)
///   token: (1 − α)·CE_ε(Zs, y) + α·CE(Zd, y_t)
///          (1 − α)·CE_ε(Zs, y) + ατ²·KL(ψ(Zt/τ) ‖ ψ(Zd/τ))   [tokenTarget soft: the official code's soft with a token]
public func distillationLoss(student: Tensor, distillation: Tensor? = nil, teacher: Tensor?, labels: MixedLabels,
                             config: DistillationConfig) -> Tensor {
    let base = crossEntropy(student, mixed: labels, labelSmoothing: config.labelSmoothing)
    guard config.type != .none else { return base }
    guard let teacher else { fatalError("distillation '\(config.type.rawValue)' needs the teacher's logits") }
    precondition(teacher.shape == student.shape, "distillation: teacher \(teacher.shape) and student \(student.shape) logits differ in shape")
    precondition(!teacher.requiresGrad, "distillation: the teacher's logits must come from a forward pass without a graph")
    switch config.type {
    case .none:
        return base
    case .soft:
        var kl = klDivergence(student: student, teacher: teacher, temperature: config.tau)
        if config.klNormalization == .perElement { kl = kl * (1 / Float(student.shape.last!)) }
        return base * (1 - config.lambda) + kl * (config.lambda * config.tau * config.tau)
    case .hard:
        return base * (1 - config.alpha) + crossEntropy(student, labels: teacher.argmaxLastAxis()) * config.alpha
    case .token:
        guard let distillation else { fatalError("distillation 'token' needs the distillation head's logits") }
        guard config.tokenTarget == .soft else {
            return base * (1 - config.alpha) + crossEntropy(distillation, labels: teacher.argmaxLastAxis()) * config.alpha
        }
        var kl = klDivergence(student: distillation, teacher: teacher, temperature: config.tau)
        if config.klNormalization == .perElement { kl = kl * (1 / Float(distillation.shape.last!)) }
        return base * (1 - config.alpha) + kl * (config.alpha * config.tau * config.tau)
    }
}

/// The same on unmixed labels.
public func distillationLoss(student: Tensor, distillation: Tensor? = nil, teacher: Tensor?, labels: [Int],
                             config: DistillationConfig) -> Tensor {
    distillationLoss(student: student, distillation: distillation, teacher: teacher, labels: MixedLabels(labels), config: config)
}

/// The two heads' predictions fused at test time, both ways DeiT describes it: averaging the
/// logits (the official `(x + x_dist) / 2`) and averaging the softmaxes (the paper's text). The
/// argmaxes can differ when the two heads disagree with different confidence.
public func fusedPredictions(classLogits: Tensor, distillationLogits: Tensor) -> (logits: [Int], softmax: [Int]) {
    withNoGrad {
        ((classLogits + distillationLogits).argmaxLastAxis(),
         (softmax(classLogits) + softmax(distillationLogits)).argmaxLastAxis())
    }
}
