// Softmax and log-softmax over the last axis, fused and numerically stable (the row maximum is
// subtracted before exponentiating). Both keep their output for the backward pass:
//
//   y = softmax(x):      dx = y ⊙ (g − ⟨g, y⟩)
//   y = log_softmax(x):  dx = g − softmax(x)·Σg = g − eʸ·Σg
import Foundation

/// Rows per thread chunk so that each holds ~32 k elements.
@inline(__always) func rowGrain(_ width: Int) -> Int { max(1, (1 << 15) / max(width, 1)) }

@inline(__always)
func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var m = Vec(repeating: -.infinity)
    var i = 0
    while i &+ vecWidth <= n { m = vmax(m, load(p + i)); i &+= vecWidth }
    var s = hmax(m)
    while i < n { if p[i] > s { s = p[i] }; i &+= 1 }
    return s
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
    var s = hsum(acc)
    while i < n { let e = sexp(x[i] - shift); y[i] = e; s += e; i &+= 1 }
    return s
}

/// y[i] *= c
@inline(__always)
func scaleRow(_ y: UnsafeMutablePointer<Float>, by c: Float, _ n: Int) {
    var i = 0
    while i &+ vecWidth <= n { store(load(y + i) * c, y + i); i &+= vecWidth }
    while i < n { y[i] *= c; i &+= 1 }
}

/// Σ a[i]·b[i]
@inline(__always)
func dotRow(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec()
    var i = 0
    while i &+ vecWidth <= n { acc += load(a + i) * load(b + i); i &+= vecWidth }
    var s = hsum(acc)
    while i < n { s += a[i] * b[i]; i &+= 1 }
    return s
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

/// Records y's backward as a row-wise rule: `row(g_r, y_r, dx_r, n)` adds one row of dL/dx from
/// the same row of dL/dy and of y. Rows are split across cores.
func recordRowwiseBackward(_ y: Tensor, of x: Tensor,
                           _ row: @escaping (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) {
    let n = x.shape[x.rank - 1], rows = x.count / n
    y.record([x]) { y in
        let (g, py, dx) = (UnsafePointer(y.grad!.data), UnsafePointer(y.data), x.gradPointer())
        Parallel.forEachChunk(rows, grain: rowGrain(n)) { range in
            for r in range { row(g + r &* n, py + r &* n, dx + r &* n, n) }
        }
    }
}

/// softmax over the last axis.
public func softmax(_ x: Tensor) -> Tensor {
    let y = mapRows(x, op: "softmax") { xr, yr, n in
        let s = expShiftedRow(xr, yr, shift: rowMax(xr, n), n)
        scaleRow(yr, by: 1 / s, n)
    }
    recordRowwiseBackward(y, of: x) { gr, yr, dr, n in  // dx = y ⊙ (g − ⟨g, y⟩)
        let gy = Vec(repeating: dotRow(gr, yr, n))
        var i = 0
        while i &+ vecWidth <= n {
            store(load(dr + i) + load(yr + i) * (load(gr + i) - gy), dr + i)
            i &+= vecWidth
        }
        while i < n { dr[i] += yr[i] * (gr[i] - gy[0]); i &+= 1 }
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
        while i < n { yr[i] = xr[i] - shift[0]; i &+= 1 }
    }
    recordRowwiseBackward(y, of: x) { gr, yr, dr, n in  // dx = g − eʸ·Σg
        let gs = Vec(repeating: rowSum(gr, n))
        var i = 0
        while i &+ vecWidth <= n {
            store(load(dr + i) + load(gr + i) - vexp(load(yr + i)) * gs, dr + i)
            i &+= vecWidth
        }
        while i < n { dr[i] += gr[i] - sexp(yr[i]) * gs[0]; i &+= 1 }
    }
    return y
}
