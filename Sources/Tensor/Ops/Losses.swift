// Fused losses on logits. Each returns a scalar (the mean over rows) and keeps per-row
// log-probabilities for its backward, whose closed form is simpler than the chain of its parts.
import Foundation

/// log Σ_j e^{x_j} of one row, stable.
@inline(__always)
func logSumExpRow(_ x: UnsafePointer<Float>, _ scratch: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
    let m = rowMax(x, n)
    return m + Foundation.log(expShiftedRow(x, scratch, shift: m, n))
}

/// Cross-entropy of logits (…, C) against integer labels, with label smoothing ε as in PyTorch's
/// `F.cross_entropy(logits, y, label_smoothing=ε)`: the target is q = (1 − ε)·onehot(y) + ε/C, so
///
///   ℓ_i = −Σ_c q_c log p_c = logsumexp(z) − (1 − ε)·z_y − ε·mean_c(z_c),   loss = mean_i ℓ_i
///   dℓ/dz = (p − q) / rows
public func crossEntropy(_ logits: Tensor, labels: [Int], labelSmoothing: Float = 0) -> Tensor {
    guard let classes = logits.shape.last, classes > 0 else {
        shapeError("crossEntropy", "logits need a non-empty class axis, got \(logits.shape)")
    }
    let rows = logits.count / classes
    guard labels.count == rows else {
        shapeError("crossEntropy", "\(labels.count) labels for \(rows) rows of logits \(logits.shape)")
    }
    if let bad = labels.first(where: { $0 < 0 || $0 >= classes }) {
        shapeError("crossEntropy", "label \(bad) is outside 0..<\(classes)")
    }
    guard (0...1).contains(labelSmoothing) else {
        shapeError("crossEntropy", "label smoothing must be in [0, 1], got \(labelSmoothing)")
    }
    let eps = labelSmoothing, c = Float(classes)
    let logZ = Tensor(uninitialized: [rows])  // logsumexp per row, kept for the backward
    let scratch = Tensor(uninitialized: [classes])
    var total: Double = 0
    for r in 0..<rows {
        let z = logits.data + r * classes
        let lse = logSumExpRow(z, scratch.data, classes)
        logZ.data[r] = lse
        total += Double(lse - (1 - eps) * z[labels[r]] - eps * rowSum(z, classes) / c)
    }
    let loss = Tensor(scalar: Float(total / Double(rows)))
    loss.record([logits]) { loss in
        let scale = loss.grad!.data[0] / Float(rows)
        let dz = logits.gradPointer()
        for r in 0..<rows {
            let (z, d) = (logits.data + r * classes, dz + r * classes)
            let lse = logZ.data[r]
            for j in 0..<classes {
                let q = (j == labels[r] ? 1 - eps : 0) + eps / c
                d[j] += scale * (sexp(z[j] - lse) - q)
            }
        }
    }
    return loss
}

/// KL(p_t ‖ p_s) between two sets of logits (…, C) at temperature τ, averaged over rows:
///
///   p = softmax(z/τ),  KL_i = Σ_c p_t,c (log p_t,c − log p_s,c),  result = mean_i KL_i
///   dKL_i/dz_s = (p_s − p_t)/τ,   dKL_i/dz_t = p_t ⊙ (log p_t − log p_s − KL_i)/τ
///
/// "batchmean" in PyTorch's terms. DeiT's soft distillation multiplies this by τ² (Hinton's
/// correction for the 1/τ² scale of the gradients); its official code also divides by the class
/// count (`/ outputs.numel()` instead of the batch size). The loss built on this op chooses.
public func klDivergence(student: Tensor, teacher: Tensor, temperature: Float = 1) -> Tensor {
    guard student.shape == teacher.shape, let classes = student.shape.last, classes > 0 else {
        shapeError("klDivergence", "student \(student.shape) and teacher \(teacher.shape) logits must have one shape")
    }
    guard temperature > 0 else { shapeError("klDivergence", "temperature must be positive, got \(temperature)") }
    let rows = student.count / classes
    let invT = 1 / temperature
    // log-probabilities at temperature τ, rows × C each, kept for the backward
    let logPs = Tensor(uninitialized: student.shape), logPt = Tensor(uninitialized: teacher.shape)
    let perRow = Tensor(uninitialized: [rows])
    let scaled = Tensor(uninitialized: [classes]), scratch = Tensor(uninitialized: [classes])
    var total: Double = 0
    for r in 0..<rows {
        for (z, logP) in [(student.data, logPs.data), (teacher.data, logPt.data)] {
            let (zr, lr) = (z + r * classes, logP + r * classes)
            for j in 0..<classes { scaled.data[j] = zr[j] * invT }
            let lse = logSumExpRow(scaled.data, scratch.data, classes)
            for j in 0..<classes { lr[j] = scaled.data[j] - lse }
        }
        let (ls, lt) = (logPs.data + r * classes, logPt.data + r * classes)
        var kl: Float = 0
        for j in 0..<classes { kl += sexp(lt[j]) * (lt[j] - ls[j]) }
        perRow.data[r] = kl
        total += Double(kl)
    }
    let loss = Tensor(scalar: Float(total / Double(rows)))
    loss.record([student, teacher]) { loss in
        let scale = loss.grad!.data[0] / Float(rows) * invT
        for r in 0..<rows {
            let (ls, lt) = (logPs.data + r * classes, logPt.data + r * classes)
            if student.requiresGrad {
                let d = student.gradPointer() + r * classes
                for j in 0..<classes { d[j] += scale * (sexp(ls[j]) - sexp(lt[j])) }
            }
            if teacher.requiresGrad {
                let d = teacher.gradPointer() + r * classes
                let kl = perRow.data[r]
                for j in 0..<classes { d[j] += scale * sexp(lt[j]) * (lt[j] - ls[j] - kl) }
            }
        }
    }
    return loss
}
