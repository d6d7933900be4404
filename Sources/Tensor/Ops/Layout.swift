// Ops that move elements without changing them: reshape, permute/transpose, concat, slice and
// select. Their backwards move the gradient back to where each element came from.

extension Tensor {
    /// The same elements in a new shape (one size may be −1: inferred). Shares storage: free.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var shape = newShape
        if let inferred = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0 else {
                shapeError("reshape", "cannot reshape \(self.shape) (\(count) elements) to \(newShape)")
            }
            shape[inferred] = count / known
        }
        guard Tensor.elementCount(shape) == count else {
            shapeError("reshape", "cannot reshape \(self.shape) (\(count) elements) to \(newShape)")
        }
        let y = Tensor(shape: shape, storage: storage)
        y.record([self]) { [self] y in accumulate(y.grad!.data, into: gradPointer(), count: count) }
        return y
    }

    public func reshaped(_ newShape: Int...) -> Tensor { reshaped(newShape) }

    /// Axes reordered: output axis i is input axis `axes[i]`. Copies.
    public func permuted(_ axes: [Int]) -> Tensor {
        let axes = axes.map { normalizeAxis($0, rank: rank, op: "permute") }
        guard axes.count == rank, Set(axes).count == rank else {
            shapeError("permute", "axes \(axes) are not a permutation of 0..<\(rank) (shape \(shape))")
        }
        let outShape = axes.map { shape[$0] }
        let inStrides = contiguousStrides(shape)
        let y = Tensor(uninitialized: outShape)
        let gather = axes.map { inStrides[$0] }  // stride in x of each output axis
        stridedCopy(shape: outShape, sourceStrides: gather, from: data, to: y.data, accumulate: false)
        y.record([self]) { [self] y in
            // dx[gather(i)] += g[i]: the same walk with the roles swapped.
            stridedScatterAdd(shape: outShape, targetStrides: gather, from: y.grad!.data, into: gradPointer())
        }
        return y
    }

    public func permuted(_ axes: Int...) -> Tensor { permuted(axes) }

    /// Swaps two axes (default: the last two).
    public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
        var axes = Array(0..<rank)
        axes.swapAt(normalizeAxis(a, rank: rank, op: "transpose"), normalizeAxis(b, rank: rank, op: "transpose"))
        return permuted(axes)
    }

    /// The elements at `range` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank, op: "slice")
        guard range.lowerBound >= 0, range.upperBound <= shape[axis] else {
            shapeError("slice", "range \(range) is out of bounds for axis \(axis) of shape \(shape)")
        }
        var outShape = shape
        outShape[axis] = range.count
        let y = Tensor(uninitialized: outShape)
        let (outer, inner) = (shape[..<axis].reduce(1, *), shape[(axis + 1)...].reduce(1, *))
        let (srcRow, dstRow, offset) = (shape[axis] * inner, range.count * inner, range.lowerBound * inner)
        for o in 0..<outer {
            (y.data + o * dstRow).update(from: data + o * srcRow + offset, count: dstRow)
        }
        y.record([self]) { [self] y in
            let (g, dx) = (y.grad!.data, gradPointer())
            for o in 0..<outer { addScaledRow(from: g + o * dstRow, into: dx + o * srcRow + offset, scale: 1, dstRow) }
        }
        return y
    }

    /// The sub-tensor at `index` along `axis`, with that axis removed (a ViT's token 0:
    /// `x.select(axis: 1, 0)` takes (B, N, D) to (B, D)).
    public func select(axis: Int, _ index: Int) -> Tensor {
        let axis = normalizeAxis(axis, rank: rank, op: "select")
        guard 0 <= index && index < shape[axis] else {
            shapeError("select", "index \(index) is out of bounds for axis \(axis) of shape \(shape)")
        }
        var outShape = shape
        outShape.remove(at: axis)
        return slice(axis: axis, index..<index + 1).reshaped(outShape)
    }
}

/// Tensors joined along `axis`; all other sizes must agree.
public func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
    guard let first = tensors.first else { shapeError("concat", "needs at least one tensor") }
    let axis = normalizeAxis(axis, rank: first.rank, op: "concat")
    for t in tensors where t.rank != first.rank || (0..<first.rank).contains(where: { $0 != axis && t.shape[$0] != first.shape[$0] }) {
        shapeError("concat", "shapes \(first.shape) and \(t.shape) differ outside axis \(axis)")
    }
    var outShape = first.shape
    outShape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
    let y = Tensor(uninitialized: outShape)
    let outer = first.shape[..<axis].reduce(1, *)
    let inner = first.shape[(axis + 1)...].reduce(1, *)
    let dstRow = outShape[axis] * inner
    var offsets: [Int] = []
    var offset = 0
    for t in tensors {
        offsets.append(offset)
        let srcRow = t.shape[axis] * inner
        for o in 0..<outer { (y.data + o * dstRow + offset).update(from: t.data + o * srcRow, count: srcRow) }
        offset += srcRow
    }
    y.record(tensors) { y in
        let g = y.grad!.data
        for (t, offset) in zip(tensors, offsets) where t.requiresGrad {
            let srcRow = t.shape[axis] * inner
            let dx = t.gradPointer()
            for o in 0..<outer { addScaledRow(from: g + o * dstRow + offset, into: dx + o * srcRow, scale: 1, srcRow) }
        }
    }
    return y
}

// MARK: - Strided copies

/// Merges adjacent axes whose source strides are contiguous with each other and drops size-1
/// axes, so a permutation that keeps the last axis copies whole rows.
private func coalesce(_ shape: [Int], _ strides: [Int]) -> (shape: [Int], strides: [Int]) {
    var dims: [Int] = [], st: [Int] = []
    for (size, s) in zip(shape, strides) where size != 1 {
        if let last = dims.indices.last, st[last] == s * size {
            dims[last] *= size
            st[last] = s
        } else {
            dims.append(size)
            st.append(s)
        }
    }
    return (dims, st)
}

/// Walks `shape` in row-major order; element i of the walk is at `strided(i)` in the strided
/// buffer and at i in the contiguous one. Copies strided → contiguous.
func stridedCopy(shape: [Int], sourceStrides: [Int], from src: UnsafePointer<Float>,
                 to dst: UnsafeMutablePointer<Float>, accumulate: Bool) {
    stridedWalk(shape: shape, strides: sourceStrides) { i, s, n, inner in
        if inner == 1 {
            if accumulate { addScaledRow(from: src + s, into: dst + i, scale: 1, n) }
            else { (dst + i).update(from: src + s, count: n) }
        } else {
            for k in 0..<n { dst[i + k] = (accumulate ? dst[i + k] : 0) + src[s + k * inner] }
        }
    }
}

/// The reverse walk: target[strided(i)] += src[i].
func stridedScatterAdd(shape: [Int], targetStrides: [Int], from src: UnsafePointer<Float>,
                       into dst: UnsafeMutablePointer<Float>) {
    stridedWalk(shape: shape, strides: targetStrides) { i, s, n, inner in
        if inner == 1 { addScaledRow(from: src + i, into: dst + s, scale: 1, n) }
        else { for k in 0..<n { dst[s + k * inner] += src[i + k] } }
    }
}

/// Calls body(contiguousOffset, stridedOffset, rowLength, innerStride) per innermost row.
/// Rows are independent (a permutation maps distinct elements to distinct elements), so they
/// are split across cores.
private func stridedWalk(shape: [Int], strides: [Int], _ body: (Int, Int, Int, Int) -> Void) {
    let (dims, st) = coalesce(shape, strides)
    guard let n = dims.last, let inner = st.last else {
        body(0, 0, 1, 1)  // a single element
        return
    }
    let outer = Array(dims.dropLast()), outerStrides = Array(st.dropLast())
    let rows = outer.reduce(1, *)
    Parallel.forEachChunk(rows, grain: max(1, (1 << 15) / n)) { range in
        for r in range {
            var rem = r, s = 0
            for axis in stride(from: outer.count - 1, through: 0, by: -1) {
                s += (rem % outer[axis]) * outerStrides[axis]
                rem /= outer[axis]
            }
            body(r * n, s, n, inner)
        }
    }
}
