// RandAugment (Cubuk et al. 2020) as timm implements it for DeiT's "rand-m9-mstd0.5-inc1", on
// grayscale images in [0, 1]. Each image gets `layers` operations drawn uniformly with
// replacement; each applies with probability `probability` at a magnitude drawn from
// N(magnitude, magnitudeStd) clipped to [0, 10]. The signed operations negate their amount with
// probability ½. Intensity operations follow PIL on the 8-bit image the float stands for.
import Foundation
import Tensor

public struct RandAugment: Codable, Hashable, Sendable {
    /// timm's `_RAND_INCREASING_TRANSFORMS` without Color: saturation does nothing to a gray image.
    public enum Operation: String, Codable, CaseIterable, Sendable {
        case autoContrast, equalize, invert, rotate, posterize, solarize, solarizeAdd
        case contrast, brightness, sharpness, shearX, shearY, translateX, translateY
    }

    public var layers = 2                 // timm n2 (DeiT's "rand-m9-mstd0.5-inc1": n defaults to 2)
    public var magnitude: Float = 9       // m9, of timm's maximum 10
    public var magnitudeStd: Float = 0.5  // mstd0.5
    public var probability = 0.5          // timm's per-operation probability
    public var fill: Float = 0            // geometric operations fill with Fashion-MNIST's black background (timm: the ImageNet mean colour)
    public var operations = Operation.allCases

    public init() {}

    /// Each image of a (B, C, H, W) batch with its own draws, in batch order.
    public func callAsFunction(_ images: Tensor, rng: inout RNG) -> Tensor {
        let (b, c, h, w) = imageShape(images, op: "RandAugment")
        let out = images.copy()
        var scratch = [Float](repeating: 0, count: h * w)
        for i in 0..<b {
            for _ in 0..<layers {
                let operation = operations[rng.int(below: operations.count)]
                guard rng.bernoulli(probability) else { continue }
                let m = min(max(rng.normal(mean: magnitude, std: magnitudeStd), 0), 10)
                let sign: Float = rng.bernoulli(0.5) ? -1 : 1
                for ch in 0..<c {
                    Self.apply(operation, level: m / 10, sign: sign, fill: fill,
                               to: out.data + (i * c + ch) * h * w, height: h, width: w, scratch: &scratch)
                }
            }
        }
        return out
    }

    /// One operation at a fixed level and direction on every image of a batch: for tests and for
    /// looking at what an operation does.
    public func apply(_ operation: Operation, level: Float, sign: Float, to images: Tensor) -> Tensor {
        let (b, c, h, w) = imageShape(images, op: "RandAugment.apply")
        let out = images.copy()
        var scratch = [Float](repeating: 0, count: h * w)
        for plane in 0..<b * c {
            Self.apply(operation, level: level, sign: sign, fill: fill, to: out.data + plane * h * w, height: h, width: w, scratch: &scratch)
        }
        return out
    }

    /// One operation on one (H, W) plane in place, at `level` = magnitude / 10 (timm's
    /// `*_level_to_arg`, the "increasing" variants); `sign` is the signed operations' direction.
    static func apply(_ operation: Operation, level: Float, sign: Float, fill: Float,
                      to plane: UnsafeMutablePointer<Float>, height h: Int, width w: Int, scratch: inout [Float]) {
        let n = h * w
        func map(_ f: (Float) -> Float) { for k in 0..<n { plane[k] = f(plane[k]) } }
        func byte(_ v: Float) -> Int { min(max(Int((v * 255).rounded()), 0), 255) }
        func blend(_ degenerate: (Int) -> Float, _ factor: Float) {  // PIL ImageEnhance: d + f·(x − d)
            for k in 0..<n { plane[k] = min(max(degenerate(k) + factor * (plane[k] - degenerate(k)), 0), 1) }
        }
        let enhance = 1 + sign * level * 0.9  // Contrast-, Brightness-, SharpnessIncreasing: 1 ± 0.9·level
        switch operation {
        case .autoContrast:
            var (low, high) = (Float.infinity, -Float.infinity)
            for k in 0..<n { (low, high) = (min(low, plane[k]), max(high, plane[k])) }
            if high > low { map { ($0 - low) / (high - low) } }
        case .equalize: equalize(plane, count: n)
        case .invert: map { 1 - $0 }
        case .posterize:  // keep the top 4 − ⌊4·level⌋ bits of each byte
            let dropped = 8 - (4 - Int(level * 4))
            map { Float((byte($0) >> dropped) << dropped) / 255 }
        case .solarize:  // bytes at or above 256 − ⌊256·level⌋ invert
            let threshold = 256 - Int(level * 256)
            map { byte($0) >= threshold ? 1 - $0 : $0 }
        case .solarizeAdd:  // bytes below 128 gain ⌊110·level⌋
            let add = Int(level * 110)
            map { byte($0) < 128 ? Float(min(byte($0) + add, 255)) / 255 : $0 }
        case .contrast:  // around the image's mean grey level, rounded to a byte as PIL does
            var total: Float = 0
            for k in 0..<n { total += plane[k] }
            let mean = Float(Int(total / Float(n) * 255 + 0.5)) / 255
            blend({ _ in mean }, enhance)
        case .brightness: blend({ _ in 0 }, enhance)
        case .sharpness:  // against PIL's SMOOTH filter, [[1 1 1] [1 5 1] [1 1 1]] / 13, borders kept
            for k in 0..<n { scratch[k] = plane[k] }
            for y in 1..<max(1, h - 1) {
                for x in 1..<max(1, w - 1) {
                    var v = 4 * plane[y * w + x]
                    for dy in -1...1 { for dx in -1...1 { v += plane[(y + dy) * w + x + dx] } }
                    scratch[y * w + x] = v / 13
                }
            }
            scratch.withUnsafeBufferPointer { smooth in blend({ smooth[$0] }, enhance) }
        case .rotate:  // PIL's rotate: counter-clockwise by 30·level degrees about the centre
            let a = Double(sign * level * 30) * Double.pi / 180
            let (c, s) = (Float(cos(a)), Float(sin(a)))
            let (cy, cx) = (Float(h) / 2, Float(w) / 2)
            warp(plane, height: h, width: w, fill: fill, scratch: &scratch) { y, x in
                let (dy, dx) = (y - cy, x - cx)
                return (cy + s * dx + c * dy, cx + c * dx - s * dy)  // the inverse rotation, y pointing down
            }
        case .shearX:  // PIL affine (1, f, 0, 0, 1, 0): x_in = x + f·y, f = ±0.3·level
            let f = sign * level * 0.3
            warp(plane, height: h, width: w, fill: fill, scratch: &scratch) { y, x in (y, x + f * y) }
        case .shearY:
            let f = sign * level * 0.3
            warp(plane, height: h, width: w, fill: fill, scratch: &scratch) { y, x in (y + f * x, x) }
        case .translateX:  // TranslateXRel: ±0.45·level of the width
            let t = sign * level * 0.45 * Float(w)
            warp(plane, height: h, width: w, fill: fill, scratch: &scratch) { y, x in (y, x + t) }
        case .translateY:
            let t = sign * level * 0.45 * Float(h)
            warp(plane, height: h, width: w, fill: fill, scratch: &scratch) { y, x in (y + t, x) }
        }
    }

    /// PIL's `ImageOps.equalize` on the bytes: a lookup table that spreads the histogram's
    /// cumulative counts over 0…255, with the last occupied bin left out of the step.
    static func equalize(_ plane: UnsafeMutablePointer<Float>, count n: Int) {
        var histogram = [Int](repeating: 0, count: 256)
        let bytes = (0..<n).map { min(max(Int((plane[$0] * 255).rounded()), 0), 255) }
        for v in bytes { histogram[v] += 1 }
        let last = histogram.lastIndex { $0 > 0 } ?? 0
        let step = (n - histogram[last]) / 255
        guard step > 0 else { return }
        var lut = [Int](repeating: 0, count: 256)
        var running = step / 2
        for i in 0..<256 { lut[i] = min(running / step, 255); running += histogram[i] }
        for k in 0..<n { plane[k] = Float(lut[bytes[k]]) / 255 }
    }

    /// Resamples the plane at `source(y, x)` for each output pixel centre (coordinates in pixels,
    /// centres at +½), bilinearly; taps outside the image read `fill`.
    static func warp(_ plane: UnsafeMutablePointer<Float>, height h: Int, width w: Int, fill: Float,
                     scratch: inout [Float], source: (Float, Float) -> (Float, Float)) {
        func pixel(_ y: Int, _ x: Int) -> Float { y >= 0 && y < h && x >= 0 && x < w ? plane[y * w + x] : fill }
        for y in 0..<h {
            for x in 0..<w {
                let (sy, sx) = source(Float(y) + 0.5, Float(x) + 0.5)
                let (fy, fx) = (sy - 0.5, sx - 0.5)
                let (y0, x0) = (Int(fy.rounded(.down)), Int(fx.rounded(.down)))
                let (ty, tx) = (fy - Float(y0), fx - Float(x0))
                let top = pixel(y0, x0) + (pixel(y0, x0 + 1) - pixel(y0, x0)) * tx
                let bottom = pixel(y0 + 1, x0) + (pixel(y0 + 1, x0 + 1) - pixel(y0 + 1, x0)) * tx
                scratch[y * w + x] = top + (bottom - top) * ty
            }
        }
        for k in 0..<h * w { plane[k] = scratch[k] }
    }
}
