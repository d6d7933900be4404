// What the optimizers share: parameter groups (which tensors decay) and gradient clipping.

/// Parameters that share a weight-decay rule, like one of PyTorch's `param_groups`.
public struct ParameterGroup {
    public var parameters: [Tensor]
    /// Whether the optimizer's weight decay applies to this group.
    public var weightDecay: Bool
    /// The group's learning rate as a multiple of the optimizer's (PyTorch's per-group `lr`).
    public var learningRateScale: Float

    public init(_ parameters: [Tensor], weightDecay: Bool, learningRateScale: Float = 1) {
        self.parameters = parameters
        self.weightDecay = weightDecay
        self.learningRateScale = learningRateScale
    }

    /// The split DINO and timm use: biases and 1-D tensors (norm weights) get no decay, nor do
    /// the names in `noDecay` (timm's ViT lists `pos_embed`, `cls_token`, `dist_token`; DINO's
    /// `get_params_groups` lists none). Everything else decays.
    public static func weightDecaySplit(_ named: [(name: String, tensor: Tensor)],
                                        noDecay: Set<String> = []) -> [ParameterGroup] {
        var decay: [Tensor] = [], plain: [Tensor] = []
        for (name, tensor) in named {
            if name.hasSuffix(".bias") || tensor.rank <= 1 || noDecay.contains(name) { plain.append(tensor) }
            else { decay.append(tensor) }
        }
        return [ParameterGroup(decay, weightDecay: true), ParameterGroup(plain, weightDecay: false)]
    }
}

/// An optimizer updates its parameters in place from their gradients.
public protocol Optimizer: AnyObject {
    var groups: [ParameterGroup] { get }
    var learningRate: Float { get set }
    /// One update of every parameter that has a gradient. Parameters whose `grad` is nil are
    /// skipped entirely (no decay, no moment update), as in PyTorch.
    func step()
}

extension Optimizer {
    public var parameters: [Tensor] { groups.flatMap(\.parameters) }

    /// Drops every gradient (PyTorch's `zero_grad(set_to_none=True)`).
    public func zeroGrad() {
        for p in parameters { p.grad = nil }
    }
}

public struct OptimizerStateError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

// MARK: - Gradient clipping

/// Scales all gradients together so that their joint L2 norm is at most `maxNorm`
/// (`torch.nn.utils.clip_grad_norm_`: coefficient maxNorm/(norm + 1e-6), applied when < 1).
/// Returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters { if let g = p.grad { total += Double(dotRow(g.data, g.data, g.count)) } }
    let norm = Float(total.squareRoot())
    let coefficient = maxNorm / (norm + 1e-6)
    if coefficient < 1 {
        for p in parameters { if let g = p.grad { scaleRow(g.data, by: coefficient, g.count) } }
    }
    return norm
}

/// Clips each parameter's gradient to L2 norm `maxNorm` separately — DINO's
/// `utils.clip_gradients`, which its `--clip_grad 3.0` means (not a global norm).
/// Returns each norm before clipping (0 for parameters without a gradient).
@discardableResult
public func clipGradientsPerParameter(_ parameters: [Tensor], maxNorm: Float) -> [Float] {
    parameters.map { p in
        guard let g = p.grad else { return 0 }
        let norm = dotRow(g.data, g.data, g.count).squareRoot()
        let coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 { scaleRow(g.data, by: coefficient, g.count) }
        return norm
    }
}
