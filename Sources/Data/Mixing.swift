// Mixup (Zhang et al. 2018) and CutMix (Yun et al. 2019) as timm's `Mixup` applies them for
// DeiT, in its "batch" mode: one draw per batch, each image mixed with the image at the mirrored
// position of the batch (timm's `x.flip(0)`). The target of image i becomes
//     λ·y_i + (1 − λ)·y_partner(i),
// so a loss that is linear in its target (cross-entropy, with or without label smoothing) is
// λ·L(y_i) + (1 − λ)·L(y_partner(i)): no soft-target loss is needed.
import Foundation
import Tensor

public struct MixConfig: Codable, Hashable, Sendable {
    public var mixupAlpha: Double = 0.8        // DeiT 0.8: λ ~ Beta(α, α)
    public var cutmixAlpha: Double = 1.0       // DeiT 1.0
    public var probability: Double = 1.0       // DeiT mixup_prob 1.0: every batch is mixed
    public var switchProbability: Double = 0.5 // DeiT 0.5: CutMix instead of Mixup
    public init() {}

    /// No mixing at all: every batch passes unchanged.
    public static let off: MixConfig = { var c = MixConfig(); c.probability = 0; return c }()
}

public enum MixKind: String, Codable, Sendable { case none, mixup, cutmix }

/// A batch after mixing, with what is needed to mix its labels the same way.
public struct MixedBatch {
    public var images: Tensor
    public var kind: MixKind
    public var lambda: Float        // the weight of each image's own label; 1 when not mixed
    public var partner: [Int]       // the image whose label takes the weight 1 − λ

    /// The partner's label of each image.
    public func partnerLabels(_ labels: [Int]) -> [Int] { partner.map { labels[$0] } }

    /// The label with the larger weight: the image's own when λ ≥ ½.
    public func dominantLabels(_ labels: [Int]) -> [Int] { lambda >= 0.5 ? labels : partnerLabels(labels) }
}

/// Mixes a (B, C, H, W) batch: with probability `config.probability`, CutMix (with probability
/// `switchProbability`) or Mixup at one λ for the batch. CutMix pastes the partner's box of
/// area ≈ (1 − λ) at a uniform centre, clipped to the image, and λ is then corrected to the area
/// actually kept (timm's `correct_lam`).
public func mixBatch(_ images: Tensor, config: MixConfig, rng: inout RNG) -> MixedBatch {
    let (b, c, h, w) = imageShape(images, op: "mixBatch")
    let partner = Array((0..<b).reversed())
    let identity = MixedBatch(images: images, kind: .none, lambda: 1, partner: partner)
    guard config.probability > 0, config.mixupAlpha > 0 || config.cutmixAlpha > 0,
          rng.bernoulli(config.probability) else { return identity }
    let cutmix = config.cutmixAlpha > 0 && (config.mixupAlpha <= 0 || rng.bernoulli(config.switchProbability))
    let alpha = cutmix ? config.cutmixAlpha : config.mixupAlpha
    let lambda = Float(rng.beta(alpha, alpha))
    let out = images.copy()
    let plane = c * h * w
    if !cutmix {
        for i in 0..<b {
            let (own, other, dst) = (images.data + i * plane, images.data + partner[i] * plane, out.data + i * plane)
            for k in 0..<plane { dst[k] = lambda * own[k] + (1 - lambda) * other[k] }
        }
        return MixedBatch(images: out, kind: .mixup, lambda: lambda, partner: partner)
    }
    let box = cutmixBox(height: h, width: w, lambda: lambda, rng: &rng)
    for i in 0..<b {
        for ch in 0..<c {
            let (src, dst) = (images.data + partner[i] * plane + ch * h * w, out.data + i * plane + ch * h * w)
            for y in box.y..<box.y + box.h { for x in box.x..<box.x + box.w { dst[y * w + x] = src[y * w + x] } }
        }
    }
    let kept = 1 - Float(box.h * box.w) / Float(h * w)
    return MixedBatch(images: out, kind: .cutmix, lambda: kept, partner: partner)
}

/// timm's `rand_bbox`: sides ⌊H·√(1 − λ)⌋ and ⌊W·√(1 − λ)⌋ about a centre drawn uniformly from
/// the pixels, clipped to the image (so the box may be smaller than asked).
public func cutmixBox(height h: Int, width w: Int, lambda: Float, rng: inout RNG) -> CropBox {
    let ratio = (1 - min(max(lambda, 0), 1)).squareRoot()
    let (ch, cw) = (Int(Float(h) * ratio), Int(Float(w) * ratio))
    let (cy, cx) = (rng.int(below: h), rng.int(below: w))
    let (y0, y1) = (min(max(cy - ch / 2, 0), h), min(max(cy + ch / 2, 0), h))
    let (x0, x1) = (min(max(cx - cw / 2, 0), w), min(max(cx + cw / 2, 0), w))
    return CropBox(y: y0, x: x0, h: y1 - y0, w: x1 - x0)
}
