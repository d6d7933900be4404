import Foundation

/// AdamW with decoupled weight decay and bias correction, PyTorch's `torch.optim.AdamW`
/// (Loshchilov & Hutter, 2019). Per parameter p with gradient g, at its own step t:
///
///   p ← p − lr·λ·p                               (decoupled decay; only groups that decay)
///   (lr is the optimizer's rate times the group's `learningRateScale`)
///   m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²
///   p ← p − lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)
///
/// `learningRate` and `weightDecay` are read at each step, so a training loop sets them from its
/// schedules every iteration, as DINO's loop sets `param_group["lr"]`.
public final class AdamW: Optimizer {
    public let groups: [ParameterGroup]
    public var learningRate: Float
    public var weightDecay: Float
    public let beta1: Float, beta2: Float, eps: Float
    /// First and second moments and step count of each parameter, in `parameters` order.
    public private(set) var firstMoments: [Tensor], secondMoments: [Tensor], steps: [Int]

    /// Defaults as PyTorch: betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    public init(_ groups: [ParameterGroup], learningRate: Float, weightDecay: Float = 0.01,
                beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8) {
        self.groups = groups
        (self.learningRate, self.weightDecay) = (learningRate, weightDecay)
        (self.beta1, self.beta2, self.eps) = (beta1, beta2, eps)
        let params = groups.flatMap(\.parameters)
        firstMoments = params.map { Tensor(zeros: $0.shape) }
        secondMoments = params.map { Tensor(zeros: $0.shape) }
        steps = Array(repeating: 0, count: params.count)
    }

    /// One group, every parameter decaying.
    public convenience init(_ parameters: [Tensor], learningRate: Float, weightDecay: Float = 0.01) {
        self.init([ParameterGroup(parameters, weightDecay: true)], learningRate: learningRate, weightDecay: weightDecay)
    }

    /// The moments under PyTorch's names (`exp_avg.<i>`, `exp_avg_sq.<i>`, i in `parameters`
    /// order), for a training checkpoint; the step counts go beside them as `steps`.
    public var stateTensors: [(name: String, tensor: Tensor)] {
        firstMoments.enumerated().map { ("exp_avg.\($0.offset)", $0.element) }
            + secondMoments.enumerated().map { ("exp_avg_sq.\($0.offset)", $0.element) }
    }

    /// Puts back the state `stateTensors` and `steps` held, so the next `step()` is the one an
    /// uninterrupted run would take.
    public func restore(_ tensors: [String: Tensor], steps saved: [Int]) throws {
        guard saved.count == steps.count else {
            throw OptimizerStateError("AdamW state: \(saved.count) step counts for \(steps.count) parameters")
        }
        for (name, moment) in stateTensors {
            guard let t = tensors[name], t.shape == moment.shape else {
                throw OptimizerStateError("AdamW state: \(name) is missing or has the wrong shape (expected \(moment.shape))")
            }
            moment.assign(t)
        }
        steps = saved
    }

    public func step() {
        var index = 0
        for group in groups {
            let lr = learningRate * group.learningRateScale
            for p in group.parameters {
                defer { index += 1 }
                guard let grad = p.grad else { continue }
                steps[index] += 1
                let t = Float(steps[index])
                let c1 = 1 - pow(beta1, t), c2 = 1 - pow(beta2, t)
                update(p.data, grad: grad.data, m: firstMoments[index].data, v: secondMoments[index].data,
                       count: p.count, stepSize: lr / c1, sqrtC2: c2.squareRoot(),
                       decay: group.weightDecay ? 1 - lr * weightDecay : 1)
            }
        }
    }

    private func update(_ p: UnsafeMutablePointer<Float>, grad g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                        v: UnsafeMutablePointer<Float>, count n: Int, stepSize: Float, sqrtC2: Float, decay: Float) {
        let (b1, b2, eps) = (beta1, beta2, eps)
        Parallel.forEachChunk(n, grain: 1 << 15) { r in
            var i = r.lowerBound
            while i &+ vecWidth <= r.upperBound {
                let gv = load(g + i)
                let mv = b1 * load(m + i) + (1 - b1) * gv
                let vv = b2 * load(v + i) + (1 - b2) * gv * gv
                store(mv, m + i)
                store(vv, v + i)
                store(load(p + i) * decay - stepSize * mv / (vv.squareRoot() / sqrtC2 + eps), p + i)
                i &+= vecWidth
            }
            while i < r.upperBound {
                m[i] = b1 * m[i] + (1 - b1) * g[i]
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                p[i] = p[i] * decay - stepSize * m[i] / (v[i].squareRoot() / sqrtC2 + eps)
                i &+= 1
            }
        }
    }
}
