// DINO's projection head and the backbone + head pair that student and teacher both are
// (`DINOHead` and `MultiCropWrapper` in the official vision_transformer.py and utils.py), with
// the official code's parameter names, so a checkpoint reads like theirs.
import Foundation
import Tensor

public struct DINOHeadConfig: Codable, Hashable, Sendable {
    public var outDim = 1024          // K; paper 65 536
    public var hiddenDim = 256        // paper 2048
    public var bottleneckDim = 64     // paper 256
    public var layers = 3             // paper 3 (Linear–GELU–Linear–GELU–Linear)

    public init(outDim: Int = 1024, hiddenDim: Int = 256, bottleneckDim: Int = 64, layers: Int = 3) {
        (self.outDim, self.hiddenDim, self.bottleneckDim, self.layers) = (outDim, hiddenDim, bottleneckDim, layers)
    }

    public func validate() throws {
        guard outDim > 1, hiddenDim > 0, bottleneckDim > 0, layers >= 1 else {
            throw CheckpointError("DINO head: out_dim must be at least 2 and the other sizes positive; got \(self)")
        }
    }
}

/// An MLP (`mlp.0`, `mlp.2`, `mlp.4`: Linear–GELU–Linear–GELU–Linear to the bottleneck), the
/// output L2-normalized, then a weight-normalized linear layer without bias:
///
///   z = W·h/‖h‖,   W_k = g_k · v_k/‖v_k‖,   g_k = 1 fixed (`norm_last_layer=True`),
///
/// so every output is a cosine between the bottleneck and one of K unit prototypes, in [−1, 1],
/// and the temperatures alone set how peaked the softmax is. `last_layer.weight_g` is stored (as
/// ones, never trained) so the state dict has the official names.
public final class DINOHead: Module {
    public let config: DINOHeadConfig
    public let mlp: [Linear]
    public let lastLayer: LastLayer

    /// The weight-normalized prototypes. `weight_v` (K, bottleneck) is trained; `weight_g` (K, 1)
    /// is the fixed norm.
    public final class LastLayer: Module {
        public let weightV: Tensor, weightG: Tensor
        init(_ inFeatures: Int, _ outFeatures: Int, rng: inout RNG) {
            // The official head makes this layer after its trunc_normal init pass, so v keeps
            // nn.Linear's default U(−1/√in, 1/√in); only its direction matters.
            weightV = Linear(pytorchDefault: inFeatures, outFeatures, bias: false, rng: &rng).weight
            weightG = Tensor(repeating: 1, shape: [outFeatures, 1])
        }
        public var ownParameters: [(name: String, tensor: Tensor)] { [("weight_v", weightV)] }
        public var ownBuffers: [(name: String, tensor: Tensor)] { [("weight_g", weightG)] }
        public func callAsFunction(_ h: Tensor) -> Tensor { linear(h, weight: l2Normalize(weightV, axis: 1), bias: nil) }
    }

    public init(inDim: Int, _ config: DINOHeadConfig, rng: inout RNG) throws {
        try config.validate()
        self.config = config
        let sizes = [inDim] + Array(repeating: config.hiddenDim, count: config.layers - 1) + [config.bottleneckDim]
        mlp = (0..<config.layers).map { Linear(sizes[$0], sizes[$0 + 1], rng: &rng) }  // trunc_normal(0.02), bias 0
        lastLayer = LastLayer(config.bottleneckDim, config.outDim, rng: &rng)
    }

    public var children: [(name: String, module: any Module)] {
        mlp.enumerated().map { ("mlp.\(2 * $0.offset)", $0.element) } + [("last_layer", lastLayer)]
    }

    /// The L2-normalized bottleneck (B, bottleneck).
    public func bottleneck(_ x: Tensor) -> Tensor {
        var h = x
        for (i, layer) in mlp.enumerated() { h = i < mlp.count - 1 ? gelu(layer(h)) : layer(h) }
        return l2Normalize(h)
    }

    /// (B, in) → (B, K)
    public func callAsFunction(_ x: Tensor) -> Tensor { lastLayer(bottleneck(x)) }
}

/// A backbone (a ViT or a ConvNet without its classifier) and a DINO head: what the student and
/// the teacher each are. Names `backbone.*` and `head.*`, as the official checkpoints.
public final class DINONetwork: TrainingModeDependent {
    public let backbone: any Backbone
    public let head: DINOHead
    public var training = true

    /// `backbone`, then a head drawn from `rng`.
    public init(backbone: any Backbone, head: DINOHeadConfig, rng: inout RNG) throws {
        self.backbone = backbone
        self.head = try DINOHead(inDim: backbone.featureWidth, head, rng: &rng)
    }

    public var children: [(name: String, module: any Module)] { [("backbone", backbone), ("head", head)] }

    /// The head's outputs for every crop, in crop order, and the backbone features. Crops of one
    /// size go through the backbone as one batch, as the official `MultiCropWrapper` does; the
    /// head then runs once on all of them. Returns ((Σ B_i, K), (Σ B_i, D)).
    public func callAsFunction(_ crops: [Tensor]) -> (outputs: Tensor, features: Tensor) {
        var features: [Tensor] = []
        var start = 0
        while start < crops.count {
            var end = start + 1
            while end < crops.count && crops[end].shape.dropFirst() == crops[start].shape.dropFirst() { end += 1 }
            features.append(backbone.features(concat(Array(crops[start..<end]), axis: 0)))
            start = end
        }
        let all = features.count == 1 ? features[0] : concat(features, axis: 0)
        return (head(all), all)
    }
}

extension DINOHead: DescribedModel { public static let architecture = "dino-head" }
