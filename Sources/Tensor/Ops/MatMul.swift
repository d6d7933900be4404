// Matrix products through OpenBLAS's cblas_sgemm, on the tensors' own storage: transposed
// operands are passed as BLAS flags with their leading dimensions, never copied, and backward
// passes accumulate into the gradient buffers with beta = 1 (linear's write a first gradient
// with beta = 0: no zeroed buffer to write and read back).
//
//   C = op(A)·op(B)      dop(A) = dC·op(B)ᵀ      dop(B) = op(A)ᵀ·dC
import CBLAS

/// The FLOPs (2 per multiply-add) of the matrix products a piece of work runs, which is all the
/// work the models do in products (dense layers, attention, convolutions): the bench
/// counts one training step with it, and a test checks it against NN/Flops.swift's formulas.
public enum MatrixFLOPs {
    final class Tally: @unchecked Sendable { var flops = 0 }
    @TaskLocal static var tally: Tally?

    /// `body`'s result and the FLOPs of its products. The work runs on this thread alone while it
    /// is counted (as a worker's chunk does), so no other work of the process mixes in.
    public static func counting<T>(_ body: () throws -> T) rethrows -> (value: T, flops: Double) {
        let tally = Tally()
        let value = try $tally.withValue(tally) { try Parallel.$isWorker.withValue(true) { try body() } }
        return (value, Double(tally.flops))
    }

    /// Counts a product run by another library (oneDNN's convolutions) as the ones here are.
    static func add(_ flops: Int) { tally?.flops += flops }
}

/// One row-major sgemm: C (m×n) = alpha·op(A)·op(B) + beta·C, with op(A) m×k and op(B) k×n.
/// `transA`: A is stored k×m. `transB`: B is stored n×k. Leading dimensions default to packed
/// rows; larger ones address a sub-matrix in place (one head's columns of a fused projection).
///
/// Parallelism (BLAS.swift says why OpenBLAS is single-threaded by default): a product worth it is
/// split here into row blocks of C (column blocks when C is wide), one per core, each a
/// single-threaded call. Only square-ish products of 1024³ multiply-adds or more go to OpenBLAS's
/// own threads, whose threads share one packed copy of B (split calls each pack their own: 0.95×
/// of OpenBLAS's threads at 1024³). Smaller ones never do: after a threaded call OpenBLAS's
/// worker spins for ~0.1 s (OpenBLASThreads.swift) and takes a core from the core's own workers.
/// On the DINO step, the one 256×256×192 product of its head (a weight gradient) kept a core
/// spinning through the whole step, and on nano-train a 128×128×12800 one did the same.
@inline(__always)
func sgemm(_ transA: Bool, _ transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
           _ a: UnsafePointer<Float>, lda: Int? = nil, _ b: UnsafePointer<Float>, ldb: Int? = nil, beta: Float,
           _ c: UnsafeMutablePointer<Float>, ldc: Int? = nil) {
    guard m > 0, n > 0 else { return }
    let (lda, ldb, ldc) = (lda ?? (transA ? m : k), ldb ?? (transB ? k : n), ldc ?? n)
    guard k > 0 else {  // empty inner dimension: C = beta·C
        for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
        return
    }
    if let tally = MatrixFLOPs.tally { tally.flops += 2 * m * n * k }
    BLAS.configureThreads()
    func rawCall(_ rows: Range<Int>, _ cols: Range<Int>) {
        let aBlock = transA ? a + rows.lowerBound : a + rows.lowerBound * lda
        let bBlock = transB ? b + cols.lowerBound * ldb : b + cols.lowerBound
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(rows.count), blasint(cols.count), blasint(k), alpha,
                    aBlock, blasint(lda), bBlock, blasint(ldb), beta, c + rows.lowerBound * ldc + cols.lowerBound, blasint(ldc))
    }
    func call(_ rows: Range<Int>, _ cols: Range<Int>) { BLAS.singleThreadedCall { rawCall(rows, cols) } }
    // Below ~2M multiply-adds a product is cheaper on one core than split (OpenBLAS's own
    // threshold is of the same order).
    guard m * n * k >= 1 << 21, Parallel.threads > 1, !Parallel.isWorker else { return call(0..<m, 0..<n) }
    if m * n * k >= 1 << 30 && max(m, n) <= 2 * min(m, n) {
        return BLAS.withOpenBLASThreads { rawCall(0..<m, 0..<n) }
    }
    if m >= n {
        Parallel.forEachChunk(m, grain: 16) { rows in call(rows, 0..<n) }
    } else {
        Parallel.forEachChunk(n, grain: 16) { cols in call(0..<m, cols) }
    }
}

/// op(a)·op(b) over the last two axes. Shapes: a (…, M, K) — or (…, K, M) with `transposeA` —
/// and b (…, K, N) — or (…, N, K) with `transposeB`. The leading (batch) axes must be equal, or
/// one operand has none and is shared by every batch entry (a weight).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    let op = "matmul"
    guard a.rank >= 2, b.rank >= 2 else {
        shapeError(op, "needs operands of rank ≥ 2, got \(a.shape) and \(b.shape)")
    }
    let (aRows, aCols) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (bRows, bCols) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let (m, k) = transposeA ? (aCols, aRows) : (aRows, aCols)
    let (kb, n) = transposeB ? (bCols, bRows) : (bRows, bCols)
    guard k == kb else {
        shapeError(op, "shapes \(a.shape)\(transposeA ? "ᵀ" : "") and \(b.shape)\(transposeB ? "ᵀ" : "") do not match: inner sizes \(k) and \(kb)")
    }
    let aBatch = Array(a.shape.dropLast(2)), bBatch = Array(b.shape.dropLast(2))
    guard aBatch == bBatch || aBatch.isEmpty || bBatch.isEmpty else {
        shapeError(op, "batch axes of \(a.shape) and \(b.shape) differ (they must be equal, or one operand 2-D)")
    }
    let batchShape = aBatch.isEmpty ? bBatch : aBatch
    let batch = batchShape.reduce(1, *)
    let y = Tensor(uninitialized: batchShape + [m, n])
    let (sa, sb, sc) = (aBatch.isEmpty ? 0 : m * k, bBatch.isEmpty ? 0 : k * n, m * n)

    // A batched A times a shared B is one tall product: (batch·M, K)·(K, N).
    let foldBatch = bBatch.isEmpty && !transposeA
    if foldBatch {
        sgemm(false, transposeB, m: batch * m, n: n, k: k, a.data, b.data, beta: 0, y.data)
    } else {
        for i in 0..<batch {
            sgemm(transposeA, transposeB, m: m, n: n, k: k, a.data + i * sa, b.data + i * sb, beta: 0, y.data + i * sc)
        }
    }

    y.record([a, b]) { y in
        let g = y.grad!.data
        if a.requiresGrad {
            let da = a.gradPointer()
            if foldBatch {
                // dA (batch·M, K) = dC (batch·M, N) · op(B)ᵀ
                sgemm(false, !transposeB, m: batch * m, n: k, k: n, g, b.data, beta: 1, da)
            } else {
                for i in 0..<batch {
                    let (gi, bi, dai) = (g + i * sc, b.data + i * sb, da + i * sa)
                    if transposeA {  // A stored (K, M): dA = op(B)·dCᵀ
                        sgemm(transposeB, true, m: k, n: m, k: n, bi, gi, beta: 1, dai)
                    } else {         // dA = dC·op(B)ᵀ
                        sgemm(false, !transposeB, m: m, n: k, k: n, gi, bi, beta: 1, dai)
                    }
                }
            }
        }
        if b.requiresGrad {
            let db = b.gradPointer()
            if foldBatch {
                if transposeB {  // B stored (N, K): dB = dCᵀ·A over all batch·M rows
                    sgemm(true, false, m: n, n: k, k: batch * m, g, a.data, beta: 1, db)
                } else {         // dB = Aᵀ·dC
                    sgemm(true, false, m: k, n: n, k: batch * m, a.data, g, beta: 1, db)
                }
            } else {
                for i in 0..<batch {
                    let (gi, ai, dbi) = (g + i * sc, a.data + i * sa, db + i * sb)
                    if transposeB {  // dB = dCᵀ·op(A)
                        sgemm(true, transposeA, m: n, n: k, k: m, gi, ai, beta: 1, dbi)
                    } else {         // dB = op(A)ᵀ·dC
                        sgemm(!transposeA, false, m: k, n: n, k: m, ai, gi, beta: 1, dbi)
                    }
                }
            }
        }
    }
    return y
}

/// y = x·Wᵀ + b (+ residual), PyTorch's `nn.Linear` layout: x (…, in), weight (out, in), bias
/// (out) or nil, residual (…, out) or nil. The bias (and the residual a transformer block adds
/// back) is written first and the product added onto it (beta = 1): one pass instead of three.
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, residual: Tensor? = nil) -> Tensor {
    let op = "linear"
    guard weight.rank == 2, let inFeatures = x.shape.last, inFeatures == weight.shape[1] else {
        shapeError(op, "input \(x.shape) does not fit weight \(weight.shape) (expects (…, \(weight.shape.last ?? 0)))")
    }
    let outFeatures = weight.shape[0]
    if let bias, bias.shape != [outFeatures] {
        shapeError(op, "bias \(bias.shape) does not fit weight \(weight.shape); expected [\(outFeatures)]")
    }
    let outShape = Array(x.shape.dropLast()) + [outFeatures]
    if let residual, residual.shape != outShape {
        shapeError(op, "residual \(residual.shape) does not match the output \(outShape)")
    }
    let rows = x.shape.dropLast().reduce(1, *)
    let y = Tensor(uninitialized: outShape)
    let (py, pb, pres) = (y.data, bias.map { UnsafePointer($0.data) }, residual.map { UnsafePointer($0.data) })
    if pb != nil || pres != nil {
        Parallel.forEachChunk(rows, grain: max(1, (1 << 15) / max(outFeatures, 1))) { range in
            for r in range {
                let dst = py + r * outFeatures
                switch (pb, pres) {
                case let (b?, res?): addRows(res + r * outFeatures, b, dst, outFeatures)
                case let (b?, nil): dst.update(from: b, count: outFeatures)
                case let (nil, res?): dst.update(from: res + r * outFeatures, count: outFeatures)
                default: break
                }
            }
        }
    }
    sgemm(false, true, m: rows, n: outFeatures, k: inFeatures, x.data, weight.data,
          beta: pb == nil && pres == nil ? 0 : 1, y.data)

    y.record([x, weight] + (bias.map { [$0] } ?? []) + (residual.map { [$0] } ?? [])) { y in
        let g = y.grad!.data
        if x.requiresGrad {       // dx (rows, in) += dy (rows, out) · W (out, in)
            let dx = x.gradientTarget()
            sgemm(false, false, m: rows, n: inFeatures, k: outFeatures, g, weight.data, beta: dx.beta, dx.pointer)
        }
        if weight.requiresGrad {  // dW (out, in) += dyᵀ (out, rows) · x (rows, in)
            let dW = weight.gradientTarget()
            sgemm(true, false, m: outFeatures, n: inFeatures, k: rows, g, x.data, beta: dW.beta, dW.pointer)
        }
        if let bias, bias.requiresGrad {  // db += Σ_rows dy
            let db = bias.gradPointer()
            for r in 0..<rows { addScaledRow(from: g + r * outFeatures, into: db, scale: 1, outFeatures) }
        }
        if let residual, residual.requiresGrad {  // d residual += dy
            let dr = residual.gradientTarget()
            if dr.adds { accumulate(g, into: dr.pointer, count: y.count) } else { dr.pointer.update(from: g, count: y.count) }
        }
    }
    return y
}

/// dst[i] = a[i] + b[i]
@inline(__always)
func addRows(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i &+ vecWidth <= n { store(load(a + i) + load(b + i), dst + i); i &+= vecWidth }
    while i < n { dst[i] = a[i] + b[i]; i &+= 1 }
}
