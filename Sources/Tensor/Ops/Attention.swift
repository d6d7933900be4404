// Multi-head scaled dot-product attention over a fused qkv projection — the middle of timm's
// `Attention.forward` — without materializing q, k and v.
//
//   qkv (B, N, 3·D), viewed as (B, N, 3, H, Dh); for each batch entry b and head h:
//   P = softmax(Q·Kᵀ/√Dh) (N×N),  O = P·V (N×Dh),  out[b, :, h·Dh ..< (h+1)·Dh] = O
//
// Q, K and V are read where the projection left them (leading dimension 3·D) and O is written
// where the output projection wants it (leading dimension D): no permute, no copy. The scale rides
// on sgemm's alpha, and the (b, h) pairs are spread over the cores, each product on one (they are
// small). The softmax is never normalized in place: with E = exp(S − max) and row sums s,
// P = diag(1/s)·E, so O = diag(1/s)·(E·V) — the N×Dh output rows are scaled instead of the N×N
// scores, and the backward uses E and 1/s the same way. (Measured on ViT-S/16: the composed version
// spent 24% of a forward pass outside sgemm, and its attention products ran at 150–180 GFLOP/s.)
//
// Backward, per (b, h), from dO, with P = diag(r)·E, r = 1/s:
//   dV = Pᵀ·dO = Eᵀ·(diag(r)·dO),  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(dP ⊙ P)),
//   dQ = scale·dS·K,  dK = scale·dSᵀ·Q

/// Returns the mixed values (B, N, D) and, when `returnWeights`, the attention weights P
/// (B, H, N, N). Gradients flow to `qkv` through the output; the weights are for inspection
/// (attention maps) and carry none.
public func multiHeadAttention(_ qkv: Tensor, heads: Int, returnWeights: Bool = false) -> (output: Tensor, weights: Tensor?) {
    guard qkv.rank == 3, heads > 0, qkv.shape[2] % (3 * heads) == 0 else {
        shapeError("multiHeadAttention", "expects qkv (B, N, 3·D) with D divisible by \(heads) heads, got \(qkv.shape)")
    }
    let (b, n, d) = (qkv.shape[0], qkv.shape[1], qkv.shape[2] / 3)
    let dh = d / heads
    let scale = 1 / Float(dh).squareRoot()
    let (ldQKV, pairs) = (3 * d, b * heads)
    let output = Tensor(uninitialized: [b, n, d])
    let exps = Tensor(uninitialized: [b, heads, n, n])      // E = exp(S − rowmax S)
    let inverseSums = Tensor(uninitialized: [b, heads, n])  // r = 1/rowsum(E)
    // Where the (b, h) pair's matrices start: Q, then K and V D and 2·D columns further.
    func q(_ base: UnsafePointer<Float>, _ p: Int) -> UnsafePointer<Float> { base + (p / heads) * n * ldQKV + (p % heads) * dh }
    func outBlock(_ base: UnsafeMutablePointer<Float>, _ p: Int) -> UnsafeMutablePointer<Float> { base + (p / heads) * n * d + (p % heads) * dh }

    let (x, out, pe, pr) = (UnsafePointer(qkv.data), output.data, exps.data, inverseSums.data)
    Parallel.forEachChunk(pairs, grain: 1) { range in
        for p in range {
            let (e, o) = (pe + p * n * n, outBlock(out, p))
            sgemm(false, true, m: n, n: n, k: dh, alpha: scale, q(x, p), lda: ldQKV, q(x, p) + d, ldb: ldQKV, beta: 0, e)
            for row in 0..<n {
                let er = e + row * n
                pr[p * n + row] = 1 / expShiftedRow(er, er, shift: rowMax(er, n), n)
            }
            sgemm(false, false, m: n, n: dh, k: n, e, q(x, p) + 2 * d, ldb: ldQKV, beta: 0, o, ldc: d)
            for row in 0..<n { scaleRow(o + row * d, by: pr[p * n + row], dh) }
        }
    }
    var weights: Tensor? = nil
    if returnWeights {
        let w = Tensor(uninitialized: exps.shape)
        for row in 0..<pairs * n { scaleCopy(pe + row * n, w.data + row * n, pr[row], n) }
        weights = w
    }

    output.record([qkv]) { output in
        // Each element of dqkv is one product's (one image and head's dQ, dK or dV): a first
        // gradient is written (beta 0), a later one added.
        let target = qkv.gradientTarget()
        let (g, x, pe, pr, dqkv) = (UnsafePointer(output.grad!.data), UnsafePointer(qkv.data), UnsafePointer(exps.data),
                                    UnsafePointer(inverseSums.data), target.pointer)
        let beta = target.beta
        let chunks = Parallel.chunkCount(pairs, grain: 1)
        // Per chunk: dP → dS (N×N) and r·dO (N×Dh).
        let scratch = Tensor(uninitialized: [chunks, n * n + n * dh])
        Parallel.forEachChunk(pairs, grain: 1) { chunk, range in
            let ds = scratch.data + chunk * (n * n + n * dh)
            let scaledOut = ds + n * n
            for p in range {
                let (e, r, dout) = (pe + p * n * n, pr + p * n, g + (p / heads) * n * d + (p % heads) * dh)
                let dq = dqkv + (p / heads) * n * ldQKV + (p % heads) * dh
                // dV (N×Dh) += Eᵀ·(diag(r)·dO)
                for row in 0..<n { scaleCopy(dout + row * d, scaledOut + row * dh, r[row], dh) }
                sgemm(true, false, m: n, n: dh, k: n, e, scaledOut, beta: beta, dq + 2 * d, ldc: ldQKV)
                // dP (N×N) = dO·Vᵀ
                sgemm(false, true, m: n, n: n, k: dh, dout, lda: d, q(x, p) + 2 * d, ldb: ldQKV, beta: 0, ds)
                // dS = P ⊙ (dP − ⟨dP, P⟩) per row, P = r·E, in place
                for row in 0..<n {
                    let (er, dr, rr) = (e + row * n, ds + row * n, r[row])
                    let dot = Vec(repeating: rr * dotRow(dr, er, n)), rv = Vec(repeating: rr)
                    var i = 0
                    while i &+ vecWidth <= n { store(rv * load(er + i) * (load(dr + i) - dot), dr + i); i &+= vecWidth }
                    while i < n { dr[i] = rr * er[i] * (dr[i] - dot[0]); i &+= 1 }
                }
                // dQ += scale·dS·K,  dK += scale·dSᵀ·Q
                sgemm(false, false, m: n, n: dh, k: n, alpha: scale, ds, q(x, p) + d, ldb: ldQKV, beta: beta, dq, ldc: ldQKV)
                sgemm(true, false, m: n, n: dh, k: n, alpha: scale, ds, q(x, p), ldb: ldQKV, beta: beta, dq + d, ldc: ldQKV)
            }
        }
    }
    return (output, weights)
}
