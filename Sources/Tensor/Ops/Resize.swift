// Bicubic resize of (…, H, W) grids, PyTorch's `F.interpolate(mode="bicubic",
// align_corners=False)`. The ViT uses it to fit its learned position embeddings (a (D, g, g)
// grid) to another crop size; the embeddings are trained, so it needs a backward.
//
// Separable: output = R_h · X · R_wᵀ per channel, where R (out × in) holds the cubic-convolution
// weights (Keys' kernel, A = −0.75) of source coordinate s = (dst + ½)·in/out − ½; taps beyond the
// border are clamped to the edge pixel, their weights added there, as PyTorch does.
// Backward: dX = R_hᵀ · dY · R_w.
import Foundation

/// The (out × in) interpolation matrix along one axis.
func bicubicMatrix(from inSize: Int, to outSize: Int) -> [Float] {
    let a: Double = -0.75
    func near(_ x: Double) -> Double { ((a + 2) * x - (a + 3)) * x * x + 1 }        // |x| ≤ 1
    func far(_ x: Double) -> Double { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }    // 1 < |x| < 2
    var r = [Float](repeating: 0, count: outSize * inSize)
    let scale = Double(inSize) / Double(outSize)
    for o in 0..<outSize {
        let s = (Double(o) + 0.5) * scale - 0.5
        let i0 = Int(floor(s)), t = s - floor(s)
        let weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
        for (k, w) in weights.enumerated() {
            let i = min(max(i0 - 1 + k, 0), inSize - 1)
            r[o * inSize + i] += Float(w)
        }
    }
    return r
}

/// Resizes the last two axes of `x` (…, H, W) to (height, width) by bicubic interpolation.
public func bicubicResize(_ x: Tensor, height outH: Int, width outW: Int) -> Tensor {
    guard x.rank >= 2, outH > 0, outW > 0 else {
        shapeError("bicubicResize", "needs input (…, H, W) and a positive size, got \(x.shape) → \(outH)×\(outW)")
    }
    let (inH, inW) = (x.shape[x.rank - 2], x.shape[x.rank - 1])
    let channels = x.count / max(inH * inW, 1)
    let rh = Tensor(bicubicMatrix(from: inH, to: outH), shape: [outH, inH])
    let rw = Tensor(bicubicMatrix(from: inW, to: outW), shape: [outW, inW])
    // Along W for every row of every channel at once: T (C·H, outW) = X (C·H, W) · R_wᵀ.
    let t = Tensor(uninitialized: [channels * inH, outW])
    sgemm(false, true, m: channels * inH, n: outW, k: inW, x.data, rw.data, beta: 0, t.data)
    // Then along H per channel: Y_c (outH, outW) = R_h (outH, H) · T_c (H, outW).
    let y = Tensor(uninitialized: Array(x.shape.dropLast(2)) + [outH, outW])
    for c in 0..<channels {
        sgemm(false, false, m: outH, n: outW, k: inH, rh.data, t.data + c * inH * outW, beta: 0, y.data + c * outH * outW)
    }
    y.record([x]) { y in
        let g = y.grad!.data
        let dt = Tensor(uninitialized: [channels * inH, outW])
        for c in 0..<channels {  // dT_c (H, outW) = R_hᵀ · dY_c
            sgemm(true, false, m: inH, n: outW, k: outH, rh.data, g + c * outH * outW, beta: 0, dt.data + c * inH * outW)
        }
        // dX (C·H, W) += dT (C·H, outW) · R_w (outW, W)
        sgemm(false, false, m: channels * inH, n: inW, k: outW, dt.data, rw.data, beta: 1, x.gradPointer())
    }
    return y
}
