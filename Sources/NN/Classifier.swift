// A model that maps images to class logits: what supervised training and accuracy need.
import Tensor

public protocol Classifier: Module {
    /// images (B, C, H, W) → logits (B, classes)
    func logits(_ images: Tensor) -> Tensor
}

extension ConvNet: Classifier {
    public func logits(_ images: Tensor) -> Tensor { self(images) }
}

extension VisionTransformer: Classifier {
    /// The class head's logits (token 0). Two-token models add their second head in the
    /// distillation code, which knows how it is trained.
    public func logits(_ images: Tensor) -> Tensor {
        guard let logits = self(images).logits else {
            shapeError("VisionTransformer.logits", "this model has no classification head (classes = 0)")
        }
        return logits
    }
}
