// GELU in its exact erf form, PyTorch's `nn.GELU()` default and the activation of timm's ViT
// blocks and DINO's head.
//
//   y = x·Φ(x),  Φ(x) = ½(1 + erf(x/√2))
//   dy/dx = Φ(x) + x·φ(x),  φ(x) = e^{−x²/2}/√(2π)
//
// The backward recomputes Φ and φ from x instead of storing them: a few flops per element are
// cheaper than another tensor's worth of memory traffic.

private let invSqrt2: Float = 0.70710678118654752
private let invSqrt2Pi: Float = 0.39894228040143268

@inline(__always) private func geluForward(_ x: Vec) -> Vec {
    x * (0.5 + 0.5 * verf(x * invSqrt2))
}

/// Φ(x) + x·φ(x), with one exponential: erf(x/√2) needs e^{−x²/2}, which is √(2π)·φ(x).
@inline(__always) private func geluDerivative(_ x: Vec) -> Vec {
    let z = x * invSqrt2
    let e = vexp(-(z * z))
    return 0.5 + 0.5 * verf(z, expOfMinusSquare: e) + x * (invSqrt2Pi * e)
}

public func gelu(_ x: Tensor) -> Tensor {
    let y = Tensor(uninitialized: x.shape)
    let (px, py, n) = (UnsafePointer(x.data), y.data, x.count)
    Parallel.forEachChunk(n, grain: 1 << 14) { r in
        var i = r.lowerBound
        while i &+ vecWidth <= r.upperBound { store(geluForward(load(px + i)), py + i); i &+= vecWidth }
        if i < r.upperBound { storeTail(geluForward(loadTail(px + i, r.upperBound &- i)), py + i, r.upperBound &- i) }
    }
    y.record([x]) { y in
        let (g, px, dx) = (UnsafePointer(y.grad!.data), UnsafePointer(x.data), x.gradientTarget())
        Parallel.forEachChunk(n, grain: 1 << 14) { r in
            var i = r.lowerBound
            while i &+ vecWidth <= r.upperBound { dx.put(load(g + i) * geluDerivative(load(px + i)), at: i); i &+= vecWidth }
            if i < r.upperBound {
                let m = r.upperBound &- i
                dx.put(loadTail(g + i, m) * geluDerivative(loadTail(px + i, m)), at: i, count: m)
            }
        }
    }
    return y
}
