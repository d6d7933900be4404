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

@inline(__always) private func geluDerivative(_ x: Vec) -> Vec {
    let cdf = 0.5 + 0.5 * verf(x * invSqrt2)
    let pdf = invSqrt2Pi * vexp(-0.5 * x * x)
    return cdf + x * pdf
}

public func gelu(_ x: Tensor) -> Tensor {
    let y = Tensor(uninitialized: x.shape)
    let (px, py, n) = (UnsafePointer(x.data), y.data, x.count)
    Parallel.forEachChunk(n, grain: 1 << 14) { r in
        var i = r.lowerBound
        while i &+ vecWidth <= r.upperBound { store(geluForward(load(px + i)), py + i); i &+= vecWidth }
        while i < r.upperBound { py[i] = geluForward(Vec(repeating: px[i]))[0]; i &+= 1 }
    }
    y.record([x]) { y in
        let (g, px, dx) = (UnsafePointer(y.grad!.data), UnsafePointer(x.data), x.gradPointer())
        Parallel.forEachChunk(n, grain: 1 << 14) { r in
            var i = r.lowerBound
            while i &+ vecWidth <= r.upperBound {
                store(load(dx + i) + load(g + i) * geluDerivative(load(px + i)), dx + i)
                i &+= vecWidth
            }
            while i < r.upperBound { dx[i] += g[i] * geluDerivative(Vec(repeating: px[i]))[0]; i &+= 1 }
        }
    }
    return y
}
