// Sums and means over axes, and argmax. A reduction over axes R is y = scale · Σ_R x, and its
// backward broadcasts: dx += scale · g, repeated along R.

extension Tensor {
    /// Σ over `axes` (negative axes count from the end). Reduced axes are kept as size 1 when
    /// `keepDims`, dropped otherwise.
    public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
        reduceSum(self, axes: axes, keepDims: keepDims, scale: 1, op: "sum")
    }

    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Σ of every element, as a scalar tensor.
    public func sum() -> Tensor { sum(axes: Array(0..<rank)) }

    /// Mean over `axes`.
    public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
        let axes = axes.map { normalizeAxis($0, rank: rank, op: "mean") }
        let n = Set(axes).reduce(1) { $0 * shape[$1] }
        return reduceSum(self, axes: axes, keepDims: keepDims, scale: 1 / Float(max(n, 1)), op: "mean")
    }

    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Mean of every element, as a scalar tensor.
    public func mean() -> Tensor { mean(axes: Array(0..<rank)) }

    /// Index of the largest element along the last axis, per row (first one on ties). Not
    /// differentiable: used for predictions and hard-distillation labels.
    public func argmaxLastAxis() -> [Int] {
        guard let n = shape.last, n > 0 else { shapeError("argmax", "needs a non-empty last axis, got shape \(shape)") }
        let rows = count / n
        return (0..<rows).map { r in
            let p = data + r * n
            var best = 0
            for j in 1..<n where p[j] > p[best] { best = j }
            return best
        }
    }
}

private func reduceSum(_ x: Tensor, axes: [Int], keepDims: Bool, scale: Float, op: String) -> Tensor {
    let axes = Set(axes.map { normalizeAxis($0, rank: x.rank, op: op) })
    let keptShape = x.shape.indices.map { axes.contains($0) ? 1 : x.shape[$0] }
    let outShape = keepDims ? keptShape : x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] }
    let y = Tensor(zeros: outShape)

    // Operand 0 walks x; operand 1 is y with stride 0 along the reduced axes.
    let plan = BroadcastPlan(output: x.shape, keptShape, [])
    let (_, sy, _) = plan.innerStride
    let n = plan.rowLength
    let (px, py) = (UnsafePointer(x.data), y.data)
    let sumRow = { (o: Int, oy: Int) in
        if sy == 0 {
            py[oy] += scale * rowSum(px + o, n)
        } else {
            addScaledRow(from: px + o, into: py + oy, scale: scale, n)
        }
    }
    // Rows may be summed in parallel only when each writes its own output elements, i.e. when no
    // outer axis is reduced.
    if plan.rowsWriteDisjointOperand1 {
        Parallel.forEachChunk(plan.rowCount, grain: max(1, (1 << 16) / n)) { rows in
            plan.forEachRow(rows) { o, oy, _ in sumRow(o, oy) }
        }
    } else {
        plan.forEachRow(0..<plan.rowCount) { o, oy, _ in sumRow(o, oy) }
    }

    y.record([x]) { y in
        // dx += scale · g broadcast back along the reduced axes; each row of x is its own.
        let (g, dx) = (UnsafePointer(y.grad!.data), x.gradPointer())
        Parallel.forEachChunk(plan.rowCount, grain: max(1, (1 << 16) / n)) { rows in
            plan.forEachRow(rows) { o, og, _ in
                if sy == 0 {
                    addConstant(scale * g[og], into: dx + o, n)
                } else {
                    addScaledRow(from: g + og, into: dx + o, scale: scale, n)
                }
            }
        }
    }
    return y
}

extension BroadcastPlan {
    /// True when no outer (non-innermost) axis has stride 0 for operand 1, so distinct rows
    /// touch distinct elements of it.
    var rowsWriteDisjointOperand1: Bool { strides[1].dropLast().allSatisfy { $0 != 0 } }
}

// MARK: - Row kernels shared by the ops

@inline(__always)
func rowSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = Vec()
    var i = 0
    while i &+ vecWidth <= n { acc += load(p + i); i &+= vecWidth }
    var s = hsum(acc)
    while i < n { s += p[i]; i &+= 1 }
    return s
}

/// dst[i] += scale · src[i]
@inline(__always)
func addScaledRow(from src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, scale: Float, _ n: Int) {
    var i = 0
    while i &+ vecWidth <= n { store(load(dst + i) + scale * load(src + i), dst + i); i &+= vecWidth }
    while i < n { dst[i] += scale * src[i]; i &+= 1 }
}

/// dst[i] += c
@inline(__always)
func addConstant(_ c: Float, into dst: UnsafeMutablePointer<Float>, _ n: Int) {
    let cv = Vec(repeating: c)
    var i = 0
    while i &+ vecWidth <= n { store(load(dst + i) + cv, dst + i); i &+= vecWidth }
    while i < n { dst[i] += c; i &+= 1 }
}

/// dst[i] += src[i] over a whole buffer, on all cores when it is large.
func accumulate(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.forEachChunk(count, grain: 1 << 16) { r in
        addScaledRow(from: src + r.lowerBound, into: dst + r.lowerBound, scale: 1, r.count)
    }
}
