// Images to rows of patches: the input of a ViT's patch embedding.
//
//   (B, C, H, W) → (B, N, C·p·p),  N = (H/p)·(W/p), patches in row-major grid order,
//   each flattened in (c, i, j) order — the layout of a Conv2d weight (D, C, p, p), so
//   patchify(x) · W.reshape(D, C·p·p)ᵀ equals timm's `patch_embed.proj` convolution.
//
// A composition of reshape and permute, so its backward is theirs.

public func patchify(_ images: Tensor, patch p: Int) -> Tensor {
    guard images.rank == 4 else { shapeError("patchify", "expects images (B, C, H, W), got \(images.shape)") }
    let (b, c, h, w) = (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
    guard p > 0, h % p == 0, w % p == 0 else {
        shapeError("patchify", "patch size \(p) does not divide the image size \(h)×\(w)")
    }
    let (gh, gw) = (h / p, w / p)
    return images
        .reshaped(b, c, gh, p, gw, p)        // (B, C, gh, i, gw, j)
        .permuted(0, 2, 4, 1, 3, 5)          // (B, gh, gw, C, i, j)
        .reshaped(b, gh * gw, c * p * p)     // (B, N, C·p·p)
}
