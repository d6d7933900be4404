// A teacher that remembers its logits per image, so that distillation pays for each distinct
// teacher input once instead of once per epoch and per student.
import Data
import Foundation
import NN
import Tensor

/// DeiT's teacher sees exactly the student's augmented images, and in evaluation mode it is
/// deterministic, so its logits for an image can be looked up by the image's pixels. Two cases
/// make that pay:
/// - with a horizontal flip as the only augmentation, each training image comes in two forms
///   that recur in every epoch and every student of a seed: they are computed once, in large
///   batches (`prefill`);
/// - with random augmentation drawn from a generator that every student of a seed shares
///   (DeiTStudent.viewsRNG), the students see the same views in the same order: the first
///   student's steps compute them, the others look them up.
/// An image never seen before is computed on the spot and remembered, so the result is the
/// teacher's output on the student's input either way.
public final class MemoizedTeacher: Classifier {
    public let model: any Classifier
    /// Where each remembered image's logits start in `rows` (one row of `classes` per image).
    private var remembered: [PixelKey: Int] = [:]
    private var rows: [Float] = []
    private var classes = 0
    public private(set) var hits = 0, misses = 0

    public init(_ model: any Classifier) {
        self.model = model
        model.setTraining(false)
    }

    public var children: [(name: String, module: any Module)] { [("model", model)] }

    /// Computes and remembers the logits of the first `count` images of `set` (all when nil),
    /// normalized as training normalizes them, and of their mirror images when `flips`.
    public func prefill(_ set: ImageSet, count: Int? = nil, data: FashionMNIST, flips: Bool, batchSize: Int = 1000) {
        let n = min(count ?? set.count, set.count), batchSize = evaluationBatch(batchSize, for: model)
        var mirror = RNG(seed: 0)  // p = 1 flips every image; the generator is not consulted for anything else
        for start in stride(from: 0, to: n, by: batchSize) {
            Interruption.stopIfRequested(during: "the teacher's labels of every view (image \(start) of \(n))")
            let images = set.images(Array(start..<min(start + batchSize, n)))
            // Normalizing is per pixel, so it commutes with the flip: these are the training inputs bit for bit.
            _ = logits(data.normalize(images))
            if flips { _ = logits(data.normalize(randomHorizontalFlip(images, p: 1, rng: &mirror))) }
        }
    }

    /// images (B, C, H, W) → logits (B, classes): remembered rows looked up, the others computed
    /// in one forward pass without a graph.
    public func logits(_ images: Tensor) -> Tensor {
        let b = images.shape[0], pixels = images.count / max(b, 1)
        let keys = (0..<b).map { PixelKey(images.data + $0 * pixels, count: pixels) }
        let missing = (0..<b).filter { remembered[keys[$0]] == nil }
        if !missing.isEmpty {
            let subset = Tensor(uninitialized: [missing.count] + images.shape.dropFirst())
            for (row, i) in missing.enumerated() { (subset.data + row * pixels).update(from: images.data + i * pixels, count: pixels) }
            let computed = withNoGrad { model.logits(subset) }
            classes = computed.shape[1]
            for (row, i) in missing.enumerated() {
                let logits = UnsafeBufferPointer(start: computed.data + row * classes, count: classes)
                if let at = remembered[keys[i]] {  // one image twice in a batch: the later row, as a fresh forward would leave it
                    rows.replaceSubrange(at..<at + classes, with: logits)
                } else {
                    remembered[keys[i]] = rows.count
                    rows.append(contentsOf: logits)
                }
            }
        }
        (hits, misses) = (hits + b - missing.count, misses + missing.count)
        let out = Tensor(uninitialized: [b, classes])
        rows.withUnsafeBufferPointer { stored in
            for (i, key) in keys.enumerated() { (out.data + i * classes).update(from: stored.baseAddress! + remembered[key]!, count: classes) }
        }
        return out
    }
}

/// 128 bits of hash of an image's pixel bit patterns (two independent 64-bit multiply-xorshift
/// hashes): distinct images collide with probability ~2⁻¹²⁸ per pair.
struct PixelKey: Hashable {
    let low: UInt64, high: UInt64

    init(_ pixels: UnsafePointer<Float>, count: Int) {
        var (a, b): (UInt64, UInt64) = (0x9E37_79B9_7F4A_7C15, 0xC2B2_AE3D_27D4_EB4F)
        for i in 0..<count {
            let w = UInt64(pixels[i].bitPattern)
            a = (a ^ w) &* 0xBF58_476D_1CE4_E5B9; a ^= a >> 31
            b = (b ^ (w &+ 0x1656_67B1)) &* 0x94D0_49BB_1331_11EB; b ^= b >> 29
        }
        (low, high) = (a, b)
    }
}
