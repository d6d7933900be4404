// DeiT's losses by hand on small examples: the soft loss against a KL written out, the two KL
// normalizations a class count apart, the hard loss as two cross-entropies, each head of the
// token loss receiving only its own target, and the two test-time fusions disagreeing.
import Foundation
import Testing
import NN
import Tensor

@Suite("DeiT distillation losses") struct DistillationTests {
    static let student = [[1.0, -0.5, 2.0, 0.3], [0.2, 0.1, -1.0, 1.5]]
    static let teacher = [[0.5, 0.5, 3.0, -1.0], [2.0, -0.3, 0.0, 0.4]]

    static func softmax(_ z: [Double], _ t: Double = 1) -> [Double] {
        let e = z.map { exp($0 / t) }; let s = e.reduce(0, +); return e.map { $0 / s }
    }
    static func tensor(_ rows: [[Double]], grad: Bool = false) -> Tensor {
        Tensor(rows.flatMap { $0.map(Float.init) }, shape: [rows.count, rows[0].count], requiresGrad: grad)
    }
    /// KL(ψ(t/τ) ‖ ψ(s/τ)) per sample, averaged over the batch.
    static func kl(_ s: [[Double]], _ t: [[Double]], tau: Double) -> Double {
        zip(s, t).map { s, t in
            let (ps, pt) = (softmax(s, tau), softmax(t, tau))
            return zip(pt, ps).reduce(0) { $0 + $1.0 * log($1.0 / $1.1) }
        }.reduce(0, +) / Double(s.count)
    }

    /// Against a mixed batch, the true-label term is the cross-entropy with the mixed, smoothed
    /// target q = λ·(onehot(y)(1 − ε) + ε/C) + (1 − λ)·(onehot(y')(1 − ε) + ε/C), written out,
    /// and its gradient is (ψ(z) − q) / B.
    @Test func mixedLabelsGiveTheCrossEntropyOfTheMixedTarget() {
        let (lambda, eps) = (0.3, 0.1)
        let mixed = MixedLabels(labels: [2, 0], partners: [1, 0], lambda: Float(lambda))
        let z = Self.tensor(Self.student, grad: true)
        let loss = distillationLoss(student: z, teacher: nil, labels: mixed, config: DistillationConfig(type: .none))
        loss.backward()
        var expected = 0.0
        for (r, row) in Self.student.enumerated() {
            let p = Self.softmax(row)
            let q = (0..<4).map { c in
                lambda * ((c == mixed.labels[r] ? 1 - eps : 0) + eps / 4) + (1 - lambda) * ((c == mixed.partners[r] ? 1 - eps : 0) + eps / 4)
            }
            expected -= zip(q, p).reduce(0) { $0 + $1.0 * log($1.1) } / 2
            for c in 0..<4 { #expect(abs(Double(z.grad!.scalars[r * 4 + c]) - (p[c] - q[c]) / 2) < 1e-6) }
        }
        #expect(abs(Double(loss.item) - expected) < 1e-5)
        #expect(mixed.dominant == [1, 0])
        #expect(crossEntropy(Self.tensor(Self.student), mixed: MixedLabels([2, 0])).item == crossEntropy(Self.tensor(Self.student), labels: [2, 0]).item)
    }

    /// With τ = 1 and λ = 1 the soft loss is the KL alone.
    @Test func softLossWithTau1Lambda1IsTheKL() {
        var config = DistillationConfig(type: .soft)
        (config.tau, config.lambda) = (1, 1)
        let loss = distillationLoss(student: Self.tensor(Self.student), teacher: Self.tensor(Self.teacher), labels: [2, 0], config: config)
        #expect(abs(Double(loss.item) - Self.kl(Self.student, Self.teacher, tau: 1)) < 1e-6)
    }

    /// The paper's τ = 3, λ = 0.1: (1 − λ)·CE_0.1 + λτ²·KL; the official per-element KL is the
    /// per-sample one divided by the class count (4 here, 1000 on ImageNet).
    @Test func softLossAndItsTwoNormalizations() {
        var config = DistillationConfig(type: .soft)
        let s = Self.tensor(Self.student), t = Self.tensor(Self.teacher)
        let ce = Double(crossEntropy(s, labels: [2, 0], labelSmoothing: 0.1).item)
        let perSample = Double(distillationLoss(student: s, teacher: t, labels: [2, 0], config: config).item)
        #expect(abs(perSample - (0.9 * ce + 0.1 * 9 * Self.kl(Self.student, Self.teacher, tau: 3))) < 1e-5)
        config.klNormalization = .perElement
        let perElement = Double(distillationLoss(student: s, teacher: t, labels: [2, 0], config: config).item)
        #expect(abs((perSample - 0.9 * ce) / (perElement - 0.9 * ce) - 4) < 1e-3)
    }

    /// ½·CE_ε(Zs, y) + ½·CE(Zs, argmax Zt): the teacher's label is not smoothed.
    @Test func hardLossIsTwoCrossEntropies() {
        let s = Self.tensor(Self.student), t = Self.tensor(Self.teacher)
        let loss = distillationLoss(student: s, teacher: t, labels: [1, 3], config: DistillationConfig(type: .hard))
        let expected = 0.5 * crossEntropy(s, labels: [1, 3], labelSmoothing: 0.1).item + 0.5 * crossEntropy(s, labels: [2, 0]).item
        #expect(abs(loss.item - expected) < 1e-6)
    }

    /// With a soft target the distillation head learns the teacher's distribution at τ:
    /// (1 − α)·CE_ε(Zs, y) + ατ²·KL(ψ(Zt/τ) ‖ ψ(Zd/τ)), and the class head's term is unchanged.
    @Test func softTokenTargetIsTheKLOnTheDistillationHead() {
        var config = DistillationConfig(type: .token)
        config.tokenTarget = .soft
        let cls = Self.tensor(Self.student), dist = Self.tensor([[0.3, 0.1, -0.2, 0.9], [1.1, 0.0, 0.4, -0.6]])
        let loss = distillationLoss(student: cls, distillation: dist, teacher: Self.tensor(Self.teacher), labels: [2, 0], config: config)
        let ce = Double(crossEntropy(cls, labels: [2, 0], labelSmoothing: 0.1).item)
        let expected = 0.5 * ce + 0.5 * 9 * Self.kl([[0.3, 0.1, -0.2, 0.9], [1.1, 0.0, 0.4, -0.6]], Self.teacher, tau: 3)
        #expect(abs(Double(loss.item) - expected) < 1e-5)
    }

    /// The class head learns the labels only, the distillation head the teacher only.
    @Test func eachTokenHeadGetsOnlyItsTarget() {
        let cls = Self.tensor(Self.student, grad: true), dist = Self.tensor(Self.teacher, grad: true)
        let t = Self.tensor([[0, 0, 0, 5], [0, 5, 0, 0]])  // teacher says 3, 1
        distillationLoss(student: cls, distillation: dist, teacher: t, labels: [2, 0], config: DistillationConfig(type: .token)).backward()
        // d/dZ of α·CE(Z, y) is α(ψ(Z) − onehot(y))/B: each head's gradient names its own target.
        for (grad, logits, target, smoothing) in [(cls.grad!, Self.student, [2, 0], 0.1), (dist.grad!, Self.teacher, [3, 1], 0.0)] {
            for r in 0..<2 {
                let p = Self.softmax(logits[r])
                for c in 0..<4 {
                    let q = (c == target[r] ? 1 - smoothing : 0) + smoothing / 4
                    #expect(abs(Double(grad.data[r * 4 + c]) - 0.5 * (p[c] - q) / 2) < 1e-6)
                }
            }
        }
    }

    @Test func badSettingsAreRefused() {
        var c = DistillationConfig(type: .soft)
        c.tau = 0
        #expect(throws: DistillationError.self) { try c.validate() }
        c.tau = 3; c.lambda = 1.5
        #expect(throws: DistillationError.self) { try c.validate() }
        do { _ = try DistillationType(parsing: "medium") } catch { #expect("\(error)".contains("choose one of none, soft, hard, token")) }
    }

    /// Logits (4, 3, −2) and (−4, −2, 0): their sum favours class 1, their softmaxes' sum class 2.
    @Test func theTwoFusionsCanDisagree() {
        let fused = fusedPredictions(classLogits: Self.tensor([[4, 3, -2]]), distillationLogits: Self.tensor([[-4, -2, 0]]))
        #expect(fused.logits == [1] && fused.softmax == [2])
    }
}
