// Vectorized math on 16 floats at a time (one AVX-512 register; two AVX2 registers elsewhere).
// Only arithmetic, comparisons and bit casts, which LLVM maps to vector instructions; no
// per-lane calls into libm.

public typealias Vec = SIMD16<Float>
public let vecWidth = Vec.scalarCount

@inline(__always) @usableFromInline
func load(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always) @usableFromInline
func load(_ p: UnsafeMutablePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

@inline(__always) @usableFromInline
func store(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// A gradient buffer and whether an op adds into it or fills it (`Tensor.gradientTarget`).
@usableFromInline
struct GradientTarget {
    let pointer: UnsafeMutablePointer<Float>
    let adds: Bool

    /// A product's beta: 1 adds to the buffer, 0 fills it.
    var beta: Float { adds ? 1 : 0 }

    /// target[i] (+)= v[0..<16]
    @inline(__always) func put(_ v: Vec, at i: Int) {
        store(adds ? load(pointer + i) + v : v, pointer + i)
    }

    /// target[i ..< i + n] (+)= v[0..<n], n < 16: a row's tail.
    @inline(__always) func put(_ v: Vec, at i: Int, count n: Int) {
        storeTail(adds ? loadTail(pointer + i, n) + v : v, pointer + i, n)
    }
}

/// p[0..<n] as the first n lanes of a vector, the others `padding` (n < 16): a row's tail, so
/// that it runs through the same vector code as the rest of the row.
@inline(__always) @usableFromInline
func loadTail(_ p: UnsafePointer<Float>, _ n: Int, padding: Float = 0) -> Vec {
    var v = Vec(repeating: padding)
    for j in 0..<n { v[j] = p[j] }
    return v
}

/// Lanes 0..<n.
@inline(__always) @usableFromInline
func tailLanes(_ n: Int) -> SIMDMask<SIMD16<Int32>> {
    SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .< SIMD16<Int32>(repeating: Int32(n))
}

/// p[0..<n] = v[0..<n] (n < 16).
@inline(__always) @usableFromInline
func storeTail(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for j in 0..<n { p[j] = v[j] }
}

/// Lane-wise max and min as compare-and-select. The standard library's `pointwiseMax` honours
/// IEEE maxNum's NaN rules lane by lane; in a loop-carried reduction it compiled to scalar code
/// ten times slower (measured: 5.1 ms vs 0.5 ms for the row maxima of ViT-S/16 attention).
@inline(__always) @usableFromInline
func vmax(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .> a) }

@inline(__always) @usableFromInline
func vmin(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .< a) }

/// e^x, lane by lane. Cephes' expf: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6
/// polynomial, 2^n by writing n into the exponent bits. Relative error < 2e-7 (two ulp) over the
/// clamped range; inputs below −87.3 give ~1e-38 (softmax treats it as 0), above 88.7 give 2^128⁻.
@inline(__always) @usableFromInline
func vexp(_ x: Vec) -> Vec {
    let x = vmin(vmax(x, Vec(repeating: -87.33654)), Vec(repeating: 88.72283))  // (`clamped` is lane by lane)
    // Round x·log2(e) to the nearest integer by adding 1.5·2^23: the integer lands in the low
    // mantissa bits, and subtracting the constant back gives it as a float.
    let magic = Vec(repeating: 12_582_912)
    let t = magic.addingProduct(x, Vec(repeating: 1.442695040888963))
    let n = t - magic
    // r = x − n·ln2, with ln2 split in two so that n·ln2_hi is exact.
    let r = x.addingProduct(n, Vec(repeating: -0.693359375)).addingProduct(n, Vec(repeating: 2.12194440e-4))
    var p = Vec(repeating: 1.9875691500e-4)
    p = Vec(repeating: 1.3981999507e-3).addingProduct(p, r)  // Horner, one fused multiply-add each
    p = Vec(repeating: 8.3334519073e-3).addingProduct(p, r)
    p = Vec(repeating: 4.1665795894e-2).addingProduct(p, r)
    p = Vec(repeating: 1.6666665459e-1).addingProduct(p, r)
    p = Vec(repeating: 5.0000001201e-1).addingProduct(p, r)
    let er = (r + 1).addingProduct(p, r * r)                 // e^r ≈ 1 + r + r²·p(r)
    // 2^n: n sits in t's low bits as n + 0x400000; shift it into the exponent field.
    let bits = (unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return er * unsafeBitCast(bits, to: Vec.self)
}

/// erf(x), lane by lane: Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7), the same
/// formula PyTorch's vectorized CPU erf uses. erf(x) = 1 − (a1 t + … + a5 t⁵) e^{−x²},
/// t = 1/(1 + p|x|), odd in x.
@inline(__always) @usableFromInline
func verf(_ x: Vec) -> Vec {
    verf(x, expOfMinusSquare: vexp(-(x * x)))
}

/// erf(x) given e^{−x²}, for callers that need that exponential too (GELU's derivative).
@inline(__always) @usableFromInline
func verf(_ x: Vec, expOfMinusSquare e: Vec) -> Vec {
    let ax = unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: Vec.self)  // |x|
    let t = 1 / Vec(repeating: 1).addingProduct(ax, Vec(repeating: 0.3275911))
    var poly = Vec(repeating: 1.061405429)
    poly = Vec(repeating: -1.453152027).addingProduct(poly, t)
    poly = Vec(repeating: 1.421413741).addingProduct(poly, t)
    poly = Vec(repeating: -0.284496736).addingProduct(poly, t)
    poly = Vec(repeating: 0.254829592).addingProduct(poly, t)
    poly *= t                                                  // a1 t + a2 t² + … + a5 t⁵
    let y = 1 - poly * e
    return y.replacing(with: -y, where: x .< 0)
}

/// e^x for one number, by the vector formula, so that it agrees with vexp to the bit.
@inline(__always) @usableFromInline
func sexp(_ x: Float) -> Float { vexp(Vec(repeating: x))[0] }

// Horizontal reductions as halving trees (16 → 8 → 4 → 2 → 1). The standard library's
// `SIMD.sum()` and `.max()` go lane by lane through memory, which made a 197-wide softmax row
// cost 400 ns.
@inline(__always) @usableFromInline
func hsum(_ v: Vec) -> Float {
    let v8 = v.lowHalf + v.highHalf
    let v4 = v8.lowHalf + v8.highHalf
    let v2 = v4.lowHalf + v4.highHalf
    return v2[0] + v2[1]
}

@inline(__always) @usableFromInline
func hmax(_ v: Vec) -> Float {
    let (a8, b8) = (v.lowHalf, v.highHalf)
    let v8 = a8.replacing(with: b8, where: b8 .> a8)
    let (a4, b4) = (v8.lowHalf, v8.highHalf)
    let v4 = a4.replacing(with: b4, where: b4 .> a4)
    return max(max(v4[0], v4[1]), max(v4[2], v4[3]))
}
