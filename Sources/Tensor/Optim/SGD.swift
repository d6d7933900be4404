/// SGD with momentum, PyTorch's `torch.optim.SGD` (dampening 0). Per parameter p with gradient g:
///
///   g ← g + λ·p                                  (coupled L2 decay; only groups that decay)
///   b ← g on the first step, then b ← μ·b + g
///   p ← p − lr·(g + μ·b) with Nesterov, p ← p − lr·b without
///
/// DINO's linear probe uses it with momentum 0.9 and no decay.
public final class SGD: Optimizer {
    public let groups: [ParameterGroup]
    public var learningRate: Float
    public var weightDecay: Float
    public let momentum: Float
    public let nesterov: Bool
    /// Momentum buffer of each parameter, in `parameters` order; nil before its first step.
    public private(set) var buffers: [Tensor?]

    public init(_ groups: [ParameterGroup], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0,
                nesterov: Bool = false) {
        self.groups = groups
        (self.learningRate, self.momentum, self.weightDecay, self.nesterov) = (learningRate, momentum, weightDecay, nesterov)
        buffers = Array(repeating: nil, count: groups.reduce(0) { $0 + $1.parameters.count })
    }

    public convenience init(_ parameters: [Tensor], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.init([ParameterGroup(parameters, weightDecay: true)], learningRate: learningRate, momentum: momentum,
                  weightDecay: weightDecay)
    }

    public func step() {
        var index = 0
        for group in groups {
            let decay = group.weightDecay ? weightDecay : 0
            let learningRate = learningRate * group.learningRateScale
            for p in group.parameters {
                defer { index += 1 }
                guard let grad = p.grad else { continue }
                let (pp, g, n) = (p.data, grad.data, p.count)
                if momentum == 0 {
                    for i in 0..<n { pp[i] -= learningRate * (g[i] + decay * pp[i]) }
                    continue
                }
                let first = buffers[index] == nil
                let buffer = buffers[index] ?? Tensor(zeros: p.shape)
                buffers[index] = buffer
                let b = buffer.data
                for i in 0..<n {
                    let d = g[i] + decay * pp[i]  // the decayed gradient
                    b[i] = first ? d : momentum * b[i] + d
                    pp[i] -= learningRate * (nesterov ? d + momentum * b[i] : b[i])
                }
            }
        }
    }
}
