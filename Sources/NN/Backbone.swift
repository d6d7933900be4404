// What DINO trains and k-NN reads: a network from images to one feature vector per image. The
// ViT's is its class token after the final norm; the ConvNet's, its last stage averaged over
// space (timm's `num_classes=0`, where the head becomes the identity). DINO's ResNet-50 rows use
// the second kind.
import Tensor

public protocol Backbone: DescribedModel {
    /// images (B, C, H, W) → features (B, featureWidth)
    func features(_ images: Tensor) -> Tensor
    var featureWidth: Int { get }
}

extension VisionTransformer: Backbone {
    public func features(_ images: Tensor) -> Tensor { self(images).features }
    public var featureWidth: Int { config.width }
}

extension ConvNet: Backbone {
    public var featureWidth: Int { config.widths.last! }
}

extension ViTConfig {
    /// Bytes of one image's activations in a forward pass without a graph, roughly: per token,
    /// the residual stream, norm, q, k, v, attention output and the MLP's hidden layer
    /// ((8 + mlpRatio)·width floats), and per head two token-by-token maps (scores, softmax).
    /// The second term grows with the square of the tokens: at patch 1 of 28² (785 tokens), width
    /// 96 and 3 heads, the whole is about 18 MB.
    public var forwardBytesPerImage: Int {
        let tokens = (imageSize / patchSize) * (imageSize / patchSize) + prefix.count
        return 4 * (tokens * width * (8 + mlpRatio) + 2 * heads * tokens * tokens)
    }
}
