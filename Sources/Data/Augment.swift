// Augmentations on batches of grayscale images: (B, 1, H, W) pixels in [0, 1], no gradient.
// Each image draws its own random parameters from the caller's RNG, in batch order, so a batch
// is reproduced from the seed. Semantics follow torchvision where it defines them.
import Foundation
import Tensor

/// Where one crop sits in its source image: rows y..<y+h, columns x..<x+w.
public struct CropBox: Equatable, Sendable { public var y, x, h, w: Int }

/// torchvision's `RandomResizedCrop.get_params`: up to ten tries at an area fraction drawn from
/// `scale` and an aspect ratio drawn log-uniformly from `ratio`; if none fits, a center crop with
/// the ratio clamped to the range.
public func randomCropBox(height: Int, width: Int, scale: ClosedRange<Float>, ratio: ClosedRange<Float>,
                          rng: inout RNG) -> CropBox {
    let area = Float(height * width)
    let logRatio = log(ratio.lowerBound)...log(ratio.upperBound)
    for _ in 0..<10 {
        let target = area * rng.uniform(scale.lowerBound, scale.upperBound)
        let aspect = exp(rng.uniform(logRatio.lowerBound, logRatio.upperBound))
        let w = Int((target * aspect).squareRoot().rounded()), h = Int((target / aspect).squareRoot().rounded())
        if 0 < w && w <= width && 0 < h && h <= height {
            return CropBox(y: rng.int(in: 0...(height - h)), x: rng.int(in: 0...(width - w)), h: h, w: w)
        }
    }
    let inRatio = Float(width) / Float(height)
    var (w, h) = (width, height)
    if inRatio < ratio.lowerBound { h = Int((Float(w) / ratio.lowerBound).rounded()) }
    else if inRatio > ratio.upperBound { w = Int((Float(h) * ratio.upperBound).rounded()) }
    return CropBox(y: (height - h) / 2, x: (width - w) / 2, h: h, w: w)
}

/// Bilinear resampling of `box` of a (H, W) plane to (outH, outW), align_corners=False: source
/// coordinate (o + ½)·size/out − ½, clamped to the box.
func resampleBilinear(_ src: UnsafePointer<Float>, width: Int, box: CropBox,
                      _ dst: UnsafeMutablePointer<Float>, outH: Int, outW: Int) {
    func taps(_ o: Int, out: Int, size: Int, offset: Int) -> (Int, Int, Float) {
        let s = min(max((Float(o) + 0.5) * Float(size) / Float(out) - 0.5, 0), Float(size - 1))
        let i0 = Int(s)
        return (offset + i0, offset + min(i0 + 1, size - 1), s - Float(i0))
    }
    let columns = (0..<outW).map { taps($0, out: outW, size: box.w, offset: box.x) }
    for oy in 0..<outH {
        let (y0, y1, fy) = taps(oy, out: outH, size: box.h, offset: box.y)
        let (r0, r1) = (src + y0 * width, src + y1 * width)
        for (ox, (x0, x1, fx)) in columns.enumerated() {
            let top = r0[x0] + (r0[x1] - r0[x0]) * fx, bottom = r1[x0] + (r1[x1] - r1[x0]) * fx
            dst[oy * outW + ox] = top + (bottom - top) * fy
        }
    }
}

/// Random resized crop to `size`×`size` (torchvision's RandomResizedCrop, bilinear).
public func randomResizedCrop(_ images: Tensor, size: Int, scale: ClosedRange<Float>,
                              ratio: ClosedRange<Float> = 0.75...(4.0 / 3), rng: inout RNG) -> Tensor {
    let (b, c, h, w) = imageShape(images, op: "randomResizedCrop")
    let out = Tensor(uninitialized: [b, c, size, size])
    for i in 0..<b {
        let box = randomCropBox(height: h, width: w, scale: scale, ratio: ratio, rng: &rng)
        for ch in 0..<c {
            resampleBilinear(images.data + (i * c + ch) * h * w, width: w, box: box,
                             out.data + (i * c + ch) * size * size, outH: size, outW: size)
        }
    }
    return out
}

/// Mirrors each image left–right with probability p.
public func randomHorizontalFlip(_ images: Tensor, p: Double = 0.5, rng: inout RNG) -> Tensor {
    let (b, c, h, w) = imageShape(images, op: "randomHorizontalFlip")
    let out = images.copy()
    for i in 0..<b where rng.bernoulli(p) {
        for row in 0..<c * h {
            let line = out.data + (i * c * h + row) * w
            for x in 0..<w / 2 { (line[x], line[w - 1 - x]) = (line[w - 1 - x], line[x]) }
        }
    }
    return out
}

/// With probability p: brightness ×U(1−B, 1+B) and contrast around the image mean ×U(1−C, 1+C),
/// in random order, clamped to [0, 1] — torchvision's ColorJitter for grayscale images (its
/// saturation and hue do nothing without color).
public func randomColorJitter(_ images: Tensor, brightness: Float, contrast: Float, p: Double, rng: inout RNG) -> Tensor {
    let (b, c, h, w) = imageShape(images, op: "randomColorJitter")
    let out = images.copy()
    let n = c * h * w
    for i in 0..<b where rng.bernoulli(p) {
        let img = out.data + i * n
        let bf = rng.uniform(max(0, 1 - brightness), 1 + brightness)
        let cf = rng.uniform(max(0, 1 - contrast), 1 + contrast)
        func applyBrightness() { for k in 0..<n { img[k] = min(max(img[k] * bf, 0), 1) } }
        func applyContrast() {
            var mean: Float = 0
            for k in 0..<n { mean += img[k] }
            mean /= Float(n)
            for k in 0..<n { img[k] = min(max((img[k] - mean) * cf + mean, 0), 1) }
        }
        if rng.bernoulli(0.5) { applyBrightness(); applyContrast() } else { applyContrast(); applyBrightness() }
    }
    return out
}

/// With probability p: a Gaussian blur of standard deviation σ ~ U(sigma), separable, kernel
/// radius ⌈3σ⌉, edges extended (PIL's GaussianBlur(radius=σ) as DINO uses it).
public func randomGaussianBlur(_ images: Tensor, sigma: ClosedRange<Float>, p: Double, rng: inout RNG) -> Tensor {
    let (b, c, h, w) = imageShape(images, op: "randomGaussianBlur")
    let out = images.copy()
    var line = [Float](repeating: 0, count: max(h, w))
    for i in 0..<b where rng.bernoulli(p) {
        let s = rng.uniform(sigma.lowerBound, sigma.upperBound)
        let radius = max(1, Int((3 * s).rounded(.up)))
        var kernel = (-radius...radius).map { exp(-Float($0 * $0) / (2 * s * s)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }
        for ch in 0..<c {
            let plane = out.data + (i * c + ch) * h * w
            for y in 0..<h {  // rows
                for x in 0..<w {
                    var v: Float = 0
                    for k in -radius...radius { v += kernel[k + radius] * plane[y * w + min(max(x + k, 0), w - 1)] }
                    line[x] = v
                }
                for x in 0..<w { plane[y * w + x] = line[x] }
            }
            for x in 0..<w {  // columns
                for y in 0..<h {
                    var v: Float = 0
                    for k in -radius...radius { v += kernel[k + radius] * plane[min(max(y + k, 0), h - 1) * w + x] }
                    line[y] = v
                }
                for y in 0..<h { plane[y * w + x] = line[y] }
            }
        }
    }
    return out
}

/// With probability p: pixels at or above `threshold` are inverted (x → 1 − x), PIL's
/// ImageOps.solarize at 128/255 by default.
public func randomSolarize(_ images: Tensor, threshold: Float = 128 / 255, p: Double, rng: inout RNG) -> Tensor {
    let (b, c, h, w) = imageShape(images, op: "randomSolarize")
    let out = images.copy()
    let n = c * h * w
    for i in 0..<b where rng.bernoulli(p) {
        let img = out.data + i * n
        for k in 0..<n where img[k] >= threshold { img[k] = 1 - img[k] }
    }
    return out
}

/// With probability p: a rectangle of area fraction in `scale` and aspect ratio in `ratio`
/// (log-uniform) is filled with N(0, 1) noise — timm's RandomErasing in its "pixel" mode, which
/// DeiT applies to normalized images (so it takes normalized images too).
public func randomErasing(_ images: Tensor, p: Double, scale: ClosedRange<Float> = 0.02...(1.0 / 3),
                          ratio: ClosedRange<Float> = 0.3...3.3, rng: inout RNG) -> Tensor {
    let (b, c, h, w) = imageShape(images, op: "randomErasing")
    let out = images.copy()
    let logRatio = log(ratio.lowerBound)...log(ratio.upperBound)
    for i in 0..<b where rng.bernoulli(p) {
        for _ in 0..<10 {  // timm's attempts
            let target = Float(h * w) * rng.uniform(scale.lowerBound, scale.upperBound)
            let aspect = exp(rng.uniform(logRatio.lowerBound, logRatio.upperBound))
            let eh = Int((target * aspect).squareRoot().rounded()), ew = Int((target / aspect).squareRoot().rounded())
            guard eh < h && ew < w && eh > 0 && ew > 0 else { continue }
            let (top, left) = (rng.int(in: 0...(h - eh)), rng.int(in: 0...(w - ew)))
            for ch in 0..<c {
                for y in top..<top + eh { for x in left..<left + ew { out.data[((i * c + ch) * h + y) * w + x] = rng.normal() } }
            }
            break
        }
    }
    return out
}

func imageShape(_ images: Tensor, op: String) -> (Int, Int, Int, Int) {
    guard images.rank == 4 else { shapeError(op, "expects images (B, C, H, W), got \(images.shape)") }
    return (images.shape[0], images.shape[1], images.shape[2], images.shape[3])
}
