// Softmax and log-softmax over the last axis, fused and numerically stable (the row maximum is
// subtracted before exponentiating). Both keep their output for the backward pass:
//
//   y = softmax(x):      dx = y ⊙ (g − ⟨g, y⟩)
//   y = log_softmax(x):  dx = g − softmax(x)·Σg = g − eʸ·Σg
import Foundation

/// Rows per thread chunk so that each holds ~32 k elements.
@inline(__always) func rowGrain(_ width: Int) -> Int { max(1, (1 << 15) / max(width, 1)) }

// Each row kernel runs its tail (the last n mod 16 elements) as one more vector, padded, so a
// 197-wide row costs 13 vector steps instead of 12 and five scalar ones (a scalar e^x costs as
// much as a vector's).

@inline(__always)
func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = Vec(repeating: -.infinity)
    var i = 0
    while i &+ vecWidth <= n { m = vmax(m, load(p + i)); i &+= vecWidth }
    if i < n { m = vmax(m, loadTail(p + i, n &- i, padding: -.infinity)) }
    return hmax(m)
}

/// y[i] = e^{x[i] − shift}; returns Σ y.
@inline(__always)
func expShiftedRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, shift: Float, _ n: Int) -> Float {
    let sv = Vec(repeating: shift)
    var acc = Vec()
    var i = 0
    while i &+ vecWidth <= n {
        let e = vexp(load(x + i) - sv)
        store(e, y + i)
        acc += e
        i &+= vecWidth
    }
    if i < n {
        let e = vexp(loadTail(x + i, n &- i) - sv).replacing(with: 0, where: .!tailLanes(n &- i))
        storeTail(e, y + i, n &- i)
        acc += e
    }
    return hsum(acc)
}

/// y[i] *= c
@inline(__always)
func scaleRow(_ y: UnsafeMutablePointer<Float>, by c: Float, _ n: Int) {
    var i = 0
    while i &+ vecWidth <= n { store(load(y + i) * c, y + i); i &+= vecWidth }
    if i < n { storeTail(loadTail(y + i, n &- i) * c, y + i, n &- i) }
}

/// Σ a[i]·b[i]
@inline(__always)
func dotRow(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec()
    var i = 0
    while i &+ vecWidth <= n { acc += load(a + i) * load(b + i); i &+= vecWidth }
    if i < n { acc += loadTail(a + i, n &- i) * loadTail(b + i, n &- i) }
    return hsum(acc)
}

/// In place, one row: p ← softmax(p). Exposed for kernels that own their score buffers.
@inline(__always)
func softmaxRowInPlace(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    let m = rowMax(p, n)
    let s = expShiftedRow(p, p, shift: m, n)
    scaleRow(p, by: 1 / s, n)
}

/// y = f(x) row by row over the last axis: `row(x_r, y_r, n)` fills one row of y. Rows are split
/// across cores.
func mapRows(_ x: Tensor, op: String, _ row: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> Tensor {
    guard let n = x.shape.last, n > 0 else { shapeError(op, "needs a non-empty last axis, got \(x.shape)") }
    let y = Tensor(uninitialized: x.shape)
    let (px, py) = (UnsafePointer(x.data), y.data)
    Parallel.forEachChunk(x.count / n, grain: rowGrain(n)) { range in
        for r in range { row(px + r &* n, py + r &* n, n) }
    }
    return y
}

/// Records y's backward as a row-wise rule: `row(g_r, y_r, dx, offset, n)` puts row r of dL/dx,
/// computed from the same rows of dL/dy and y, into dx at `offset` (adding, or filling x's new
/// gradient). Rows are split across cores.
func recordRowwiseBackward(_ y: Tensor, of x: Tensor,
                           _ row: @escaping (UnsafePointer<Float>, UnsafePointer<Float>, GradientTarget, Int, Int) -> Void) {
    let n = x.shape[x.rank - 1], rows = x.count / n
    y.record([x]) { y in
        let (g, py, dx) = (UnsafePointer(y.grad!.data), UnsafePointer(y.data), x.gradientTarget())
        Parallel.forEachChunk(rows, grain: rowGrain(n)) { range in
            for r in range { row(g + r &* n, py + r &* n, dx, r &* n, n) }
        }
    }
}

/// softmax over the last axis.
public func softmax(_ x: Tensor) -> Tensor {
    let y = mapRows(x, op: "softmax") { xr, yr, n in
        let s = expShiftedRow(xr, yr, shift: rowMax(xr, n), n)
        scaleRow(yr, by: 1 / s, n)
    }
    recordRowwiseBackward(y, of: x) { gr, yr, dx, offset, n in  // dx = y ⊙ (g − ⟨g, y⟩)
        let gy = Vec(repeating: dotRow(gr, yr, n))
        var i = 0
        while i &+ vecWidth <= n { dx.put(load(yr + i) * (load(gr + i) - gy), at: offset &+ i); i &+= vecWidth }
        if i < n { dx.put(loadTail(yr + i, n &- i) * (loadTail(gr + i, n &- i) - gy), at: offset &+ i, count: n &- i) }
    }
    return y
}

/// log(softmax(x)) over the last axis: x − max − log Σ e^{x − max}.
public func logSoftmax(_ x: Tensor) -> Tensor {
    let y = mapRows(x, op: "logSoftmax") { xr, yr, n in
        let m = rowMax(xr, n)
        let s = expShiftedRow(xr, yr, shift: m, n)  // y used as scratch for e^{x−m}
        let shift = Vec(repeating: m + Foundation.log(s))
        var i = 0
        while i &+ vecWidth <= n { store(load(xr + i) - shift, yr + i); i &+= vecWidth }
        if i < n { storeTail(loadTail(xr + i, n &- i) - shift, yr + i, n &- i) }
    }
    recordRowwiseBackward(y, of: x) { gr, yr, dx, offset, n in  // dx = g − eʸ·Σg
        let gs = Vec(repeating: rowSum(gr, n))
        var i = 0
        while i &+ vecWidth <= n { dx.put(load(gr + i) - vexp(load(yr + i)) * gs, at: offset &+ i); i &+= vecWidth }
        if i < n { dx.put(loadTail(gr + i, n &- i) - vexp(loadTail(yr + i, n &- i)) * gs, at: offset &+ i, count: n &- i) }
    }
    return y
}
