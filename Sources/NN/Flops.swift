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
