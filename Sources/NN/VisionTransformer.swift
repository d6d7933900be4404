// The Vision Transformer of timm (DINO's and DeiT's models are its variants), for any image
// size, patch size, width and depth, with one or two prefix tokens.
//
// Shape legend: B batch, C channels, P prefix tokens (1 or 2), g = image/patch grid side,
// N = P + g², D width, H heads.
import Foundation
import Tensor

public struct ViTConfig: Codable, Hashable, Sendable {
    /// The tokens in front of the patches, and the heads that read them.
    public enum PrefixTokens: String, Codable, Sendable {
        case cls                // ViT / DINO: cls_token → head
        case clsAndDist         // DeiT⚗: cls_token → head, dist_token → head_dist
        case twoCls             // DeiT §4's control: cls_token → head, cls_token_2 → head_2, both on true labels
        public var count: Int { self == .cls ? 1 : 2 }
        var secondNames: (token: String, head: String)? {
            switch self {
            case .cls: nil
            case .clsAndDist: ("dist_token", "head_dist")
            case .twoCls: ("cls_token_2", "head_2")
            }
        }
    }

    public var imageSize = 28
    public var patchSize = 4
    public var channels = 1
    public var width = 128            // timm's embed_dim
    public var depth = 6
    public var heads = 4
    public var mlpRatio = 4
    public var classes = 10           // 0: no head; the output is the features (DINO's backbone)
    public var prefix = PrefixTokens.cls
    public var dropPathRate: Float = 0  // stochastic depth, linearly increasing with depth (timm)
    public var qkvBias = true

    public init(imageSize: Int = 28, patchSize: Int = 4, channels: Int = 1, width: Int = 128, depth: Int = 6,
                heads: Int = 4, mlpRatio: Int = 4, classes: Int = 10, prefix: PrefixTokens = .cls, dropPathRate: Float = 0) {
        (self.imageSize, self.patchSize, self.channels, self.width, self.depth) = (imageSize, patchSize, channels, width, depth)
        (self.heads, self.mlpRatio, self.classes, self.prefix, self.dropPathRate) = (heads, mlpRatio, classes, prefix, dropPathRate)
    }

    /// ImageNet shapes of the papers (3 channels, 224², 1000 classes), for throughput.
    public static func imagenet(patch: Int, width: Int, depth: Int = 12, heads: Int) -> ViTConfig {
        ViTConfig(imageSize: 224, patchSize: patch, channels: 3, width: width, depth: depth, heads: heads, classes: 1000)
    }
    public static let vitS16 = imagenet(patch: 16, width: 384, heads: 6)   // DINO ViT-S/16, DeiT-S
    public static let vitS8 = imagenet(patch: 8, width: 384, heads: 6)
    public static let vitB16 = imagenet(patch: 16, width: 768, heads: 12)  // DeiT-B
    public static let vitB8 = imagenet(patch: 8, width: 768, heads: 12)
    public static let deitTi16 = imagenet(patch: 16, width: 192, heads: 3)

    public var grid: Int { imageSize / patchSize }

    /// Checks what would make the model impossible, with a message naming the fix.
    public func validate() throws {
        func fail(_ s: String) -> CheckpointError { CheckpointError("ViT configuration: \(s)") }
        guard patchSize > 0, imageSize > 0, imageSize % patchSize == 0 else {
            throw fail("patch size \(patchSize) does not divide the image size \(imageSize); choose a divisor of \(imageSize)")
        }
        guard width > 0, heads > 0, width % heads == 0 else {
            throw fail("width \(width) is not divisible by \(heads) heads")
        }
        guard depth > 0, channels > 0, mlpRatio > 0, classes >= 0 else {
            throw fail("depth, channels and MLP ratio must be positive and classes non-negative")
        }
        guard (0..<1).contains(dropPathRate) else { throw fail("drop path rate \(dropPathRate) must be in [0, 1)") }
    }
}

/// What a forward pass returns; the optional parts only when asked for.
public struct ViTOutput {
    /// head(token 0): (B, classes); nil when the model has no head.
    public var logits: Tensor?
    /// head_dist / head_2 (token 1) for two-token models.
    public var secondLogits: Tensor?
    /// Final-norm token 0: (B, D) — the backbone output DINO's k-NN and head use.
    public var features: Tensor
    /// Final-norm token 1 for two-token models.
    public var secondFeatures: Tensor?
    /// Tokens (B, N, D) after each block, in order, when `collectBlockTokens`.
    public var blockTokens: [Tensor] = []
    /// The last block's attention weights (B, H, N, N), when `collectAttention`.
    public var lastAttention: Tensor?
}

/// Patches → tokens: a convolution with kernel = stride = patch size, computed as patchify + a
/// product with the weight viewed as (D, C·p·p). Names as timm: `patch_embed.proj.{weight,bias}`.
public final class PatchEmbed: Module {
    public let proj: Conv2d
    public let patchSize: Int

    public init(channels: Int, width: Int, patchSize: Int, rng: inout RNG) {
        proj = Conv2d(channels, width, kernel: patchSize, stride: patchSize, bias: true, pytorchDefault: true, rng: &rng)
        self.patchSize = patchSize
    }

    public var children: [(name: String, module: any Module)] { [("proj", proj)] }

    /// (B, C, H, W) → (B, g², D)
    public func callAsFunction(_ images: Tensor) -> Tensor {
        let d = proj.weight.shape[0]
        return linear(patchify(images, patch: patchSize), weight: proj.weight.reshaped(d, -1), bias: proj.bias)
    }
}

public final class VisionTransformer: TrainingModeDependent, RandomizedModule {
    public let config: ViTConfig
    public let patchEmbed: PatchEmbed
    public let clsToken: Tensor                  // (1, 1, D)
    public let secondToken: Tensor?              // dist_token or cls_token_2: (1, 1, D)
    public let posEmbed: Tensor                  // (1, P + g², D): prefix positions too, as DeiT's
    public let blocks: [Block]
    public let norm: LayerNorm
    public let head: Linear?
    public let secondHead: Linear?               // head_dist or head_2
    public var training = true
    /// Drives drop path only; split from the initialization generator, so runs stay reproducible.
    var dropPathRNG: RNG
    public var generator: RNG {
        get { dropPathRNG }
        set { dropPathRNG = newValue }
    }

    /// timm's init: tokens and position embeddings trunc_normal(std 0.02), linear layers
    /// trunc_normal(0.02) with zero bias, layer norms 1 and 0, the patch convolution PyTorch's default.
    public init(_ config: ViTConfig, rng: inout RNG) throws {
        try config.validate()
        self.config = config
        let d = config.width
        patchEmbed = PatchEmbed(channels: config.channels, width: d, patchSize: config.patchSize, rng: &rng)
        clsToken = Tensor.truncatedNormal([1, 1, d], std: 0.02, rng: &rng, requiresGrad: true)
        secondToken = config.prefix.count == 2 ? Tensor.truncatedNormal([1, 1, d], std: 0.02, rng: &rng, requiresGrad: true) : nil
        posEmbed = Tensor.truncatedNormal([1, config.prefix.count + config.grid * config.grid, d], std: 0.02, rng: &rng, requiresGrad: true)
        blocks = (0..<config.depth).map { i in
            // Stochastic depth grows linearly from 0 to the rate at the last block.
            let rate = config.depth > 1 ? config.dropPathRate * Float(i) / Float(config.depth - 1) : config.dropPathRate
            return Block(dim: d, heads: config.heads, mlpRatio: config.mlpRatio, qkvBias: config.qkvBias, dropPath: rate, rng: &rng)
        }
        norm = LayerNorm(d)
        head = config.classes > 0 ? Linear(d, config.classes, rng: &rng) : nil
        secondHead = config.classes > 0 && config.prefix.count == 2 ? Linear(d, config.classes, rng: &rng) : nil
        dropPathRNG = rng.split()
    }

    /// timm's `no_weight_decay()`: the position embedding and the prefix tokens.
    public var noWeightDecay: Set<String> { Set(["pos_embed"] + prefixTokenNames) }

    /// The learned prefix tokens' parameter names: cls_token, and dist_token or cls_token_2.
    public var prefixTokenNames: [String] { ["cls_token"] + (config.prefix.secondNames.map { [$0.token] } ?? []) }

    public var ownParameters: [(name: String, tensor: Tensor)] {
        // timm's order: its distilled model registers dist_token after pos_embed.
        var p: [(name: String, tensor: Tensor)] = [("cls_token", clsToken), ("pos_embed", posEmbed)]
        if let secondToken, let names = config.prefix.secondNames { p.append((names.token, secondToken)) }
        return p
    }

    public var children: [(name: String, module: any Module)] {
        var c: [(name: String, module: any Module)] = [("patch_embed", patchEmbed)]
        c += blocks.enumerated().map { ("blocks.\($0.offset)", $0.element) }
        c.append(("norm", norm))
        if let head { c.append(("head", head)) }
        if let secondHead, let names = config.prefix.secondNames { c.append((names.head, secondHead)) }
        return c
    }

    /// Position embeddings for a g_h × g_w grid: the learned ones on the training grid, otherwise
    /// the patch part resized bicubically (DINO's `interpolate_pos_encoding`); the prefix
    /// positions are never resized.
    public func positionEmbedding(gridHeight gh: Int, gridWidth gw: Int) -> Tensor {
        let (p, g, d) = (config.prefix.count, config.grid, config.width)
        guard gh != g || gw != g else { return posEmbed }
        let prefix = posEmbed.slice(axis: 1, 0..<p)                       // (1, P, D)
        let patches = posEmbed.slice(axis: 1, p..<p + g * g)
            .reshaped(g, g, d).permuted(2, 0, 1)                          // (g², D) → (D, g, g)
        let resized = bicubicResize(patches, height: gh, width: gw)       // (D, gh, gw)
            .permuted(1, 2, 0).reshaped(1, gh * gw, d)                    // → (1, gh·gw, D)
        return concat([prefix, resized], axis: 1)
    }

    /// images (B, C, H, W) with H and W multiples of the patch size (any size: the position
    /// embeddings are interpolated) → the heads' outputs and, when asked, every block's tokens
    /// and the last block's attention.
    public func callAsFunction(_ images: Tensor, collectBlockTokens: Bool = false,
                               collectAttention: Bool = false) -> ViTOutput {
        guard images.rank == 4, images.shape[1] == config.channels else {
            shapeError("VisionTransformer", "expects images (B, \(config.channels), H, W), got \(images.shape)")
        }
        let (b, h, w, ps) = (images.shape[0], images.shape[2], images.shape[3], config.patchSize)
        guard h % ps == 0, w % ps == 0 else {
            shapeError("VisionTransformer", "patch size \(ps) does not divide the image size \(h)×\(w)")
        }
        let d = config.width
        let patches = patchEmbed(images)                                  // (B, g_h·g_w, D)
        let prefix = ([clsToken] + (secondToken.map { [$0] } ?? [])).map { $0.broadcast(to: [b, 1, d]) }  // (B, 1, D) each
        var x = concat(prefix + [patches], axis: 1) + positionEmbedding(gridHeight: h / ps, gridWidth: w / ps)
        var output = ViTOutput(features: x)
        for (i, block) in blocks.enumerated() {
            let last = i == blocks.count - 1
            let (y, weights) = block(x, training: training, returnWeights: collectAttention && last, rng: &dropPathRNG)
            x = y
            if collectBlockTokens { output.blockTokens.append(x) }
            if let weights { output.lastAttention = weights }
        }
        x = norm(x)
        output.features = x.select(axis: 1, 0)                            // (B, D)
        output.logits = head.map { $0(output.features) }
        if config.prefix.count == 2 {
            let second = x.select(axis: 1, 1)
            output.secondFeatures = second
            output.secondLogits = secondHead.map { $0(second) }
        }
        return output
    }
}

extension VisionTransformer: DescribedModel { public static let architecture = "vit" }
