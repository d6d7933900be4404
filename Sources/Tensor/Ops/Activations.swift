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

/// GELU as a unary map: the forward and the derivative from x alone.
struct GELUKernel: UnaryKernel {
    @inline(__always) func callAsFunction(_ x: Vec) -> Vec { x * (0.5 + 0.5 * verf(x * invSqrt2)) }

    /// Φ(x) + x·φ(x), with one exponential: erf(x/√2) needs e^{−x²/2}, which is √(2π)·φ(x).
    @inline(__always) func derivative(x: Vec, y: Vec) -> Vec {
        let z = x * invSqrt2
        let e = vexp(-(z * z))
        return 0.5 + 0.5 * verf(z, expOfMinusSquare: e) + x * (invSqrt2Pi * e)
    }

    var grain: Int { 1 << 14 }  // erf and e^x: ~40 vector instructions per 16 elements
}

public func gelu(_ x: Tensor) -> Tensor { unaryMap(x, GELUKernel()) }
