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
