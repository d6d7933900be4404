// Work counted from the shapes, for throughput reports.

extension ViTConfig {
    /// Forward FLOPs per image (2 per multiply-add) in the matrix products: patch embedding, qkv,
    /// attention scores q·kᵀ and mixing a·v, projection, MLP and head. Elementwise work (norms,
    /// softmax, GELU: under 2% of the total for ViT-S/16) is left out, as the papers' counts do.
    /// `imageSize` defaults to the configured one.
    public func forwardFLOPs(imageSize size: Int? = nil) -> Double {
        let side = (size ?? imageSize) / patchSize
        let patches = Double(side * side)
        let n = Double(prefix.count) + patches, d = Double(width)
        let embed = patches * Double(channels * patchSize * patchSize) * d
        let block = n * d * 3 * d          // qkv
            + 2 * n * n * d                // q·kᵀ and a·v over all heads
            + n * d * d                    // proj
            + 2 * n * d * Double(mlpRatio) * d  // fc1, fc2
        let heads = Double(prefix.count) * d * Double(classes)
        return 2 * (embed + Double(depth) * block + heads)
    }
}

extension ViTConfig {
    /// FLOPs per image of a training step's products: the forward, and twice it backward (each
    /// product's two operand gradients), less the patch embedding's input gradient, which an image
    /// does not need.
    public func trainingStepFLOPs(imageSize size: Int? = nil) -> Double {
        let side = (size ?? imageSize) / patchSize
        let embed = 2 * Double(side * side * channels * patchSize * patchSize * width)
        return 3 * forwardFLOPs(imageSize: size) - embed
    }
}

extension ConvNetConfig {
    /// Forward FLOPs per image (2 per multiply-add) of the convolutions (3×3 stem and blocks, 1×1
    /// shortcuts) and the classifier, at `imageSize`²; norms, ReLU, pooling left out.
    public func forwardFLOPs(imageSize: Int = 28) -> Double {
        var side = imageSize, flops = 2.0 * Double(side * side * channels * 9 * widths[0])
        if stemPool { side /= 2 }
        var inWidth = widths[0]
        for (s, width) in widths.enumerated() {
            for b in 0..<blocksPerStage {
                let stride = s > 0 && b == 0 ? 2 : 1
                let out = (side - 1) / stride + 1  // 3×3, padding 1 (and the 1×1 shortcut) at this stride
                flops += 2 * Double(out * out) * (Double(inWidth * 9 * width) + Double(width * 9 * width))
                if stride != 1 || inWidth != width { flops += 2 * Double(out * out * inWidth * width) }
                (side, inWidth) = (out, width)
            }
        }
        return flops + 2 * Double(widths.last! * classes)
    }

    /// FLOPs per image of a training step's products: three times the forward, less the stem's
    /// input gradient, which an image does not need.
    public func trainingStepFLOPs(imageSize: Int = 28) -> Double {
        3 * forwardFLOPs(imageSize: imageSize) - 2 * Double(imageSize * imageSize * channels * 9 * widths[0])
    }
}
