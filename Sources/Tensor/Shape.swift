// Shape arithmetic shared by the ops: broadcasting, axis normalization, and the error every op
// raises when its operands do not fit.

/// Stops with a message that names the op and what did not fit. Shape mismatches are
/// programming errors: there is nothing sensible to continue with.
public func shapeError(_ op: String, _ message: String) -> Never {
    fatalError("\(op): \(message)")
}

/// The shape two operands broadcast to (NumPy rules: align on the right; sizes must be equal or 1).
func broadcastShape(_ a: [Int], _ b: [Int], op: String) -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard da == db || da == 1 || db == 1 else {
            shapeError(op, "shapes \(a) and \(b) cannot be broadcast together (axis \(i): \(da) vs \(db))")
        }
        out[i] = da == 1 ? db : da
    }
    return out
}

/// A possibly negative axis (−1 = last) as an index into a shape of the given rank.
func normalizeAxis(_ axis: Int, rank: Int, op: String) -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard 0 <= a && a < rank else { shapeError(op, "axis \(axis) is out of range for rank \(rank)") }
    return a
}

/// Row-major strides of a contiguous tensor.
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = s
        s *= shape[i]
    }
    return strides
}

/// Iteration over an output shape together with two operands that broadcast to it.
///
/// Operand 0 is the output itself (contiguous). Operands 1 and 2 have stride 0 along the axes they
/// are broadcast over. Size-1 axes are dropped and adjacent axes that are contiguous for all three
/// are merged, so a same-shape op is a single row and a bias add is rows × width.
struct BroadcastPlan {
    private(set) var dims: [Int] = []
    private(set) var strides: [[Int]] = [[], [], []]  // [operand][axis]

    /// Elements along the innermost (merged) axis.
    var rowLength: Int { dims.last ?? 1 }
    /// Number of innermost rows.
    var rowCount: Int { dims.dropLast().reduce(1, *) }
    /// Stride of each operand along the innermost axis: 1 (walk) or 0 (repeat one value).
    var innerStride: (Int, Int, Int) { (strides[0].last ?? 1, strides[1].last ?? 0, strides[2].last ?? 0) }

    init(output: [Int], _ a: [Int], _ b: [Int]) {
        let rank = output.count
        func aligned(_ s: [Int]) -> [Int] {
            let full = [Int](repeating: 1, count: rank - s.count) + s
            let cs = contiguousStrides(full)
            return (0..<rank).map { full[$0] == 1 ? 0 : cs[$0] }
        }
        let raw = [contiguousStrides(output), aligned(a), aligned(b)]
        for axis in 0..<rank where output[axis] != 1 {
            if let last = dims.indices.last,
               (0..<3).allSatisfy({ strides[$0][last] == raw[$0][axis] * output[axis] }) {
                dims[last] *= output[axis]
                for o in 0..<3 { strides[o][last] = raw[o][axis] }
            } else {
                dims.append(output[axis])
                for o in 0..<3 { strides[o].append(raw[o][axis]) }
            }
        }
    }

    /// Calls `body(offsetOut, offsetA, offsetB)` for the start of each innermost row in `rows`.
    func forEachRow(_ rows: Range<Int>, _ body: (Int, Int, Int) -> Void) {
        guard dims.count > 1 else {
            if !rows.isEmpty { body(0, 0, 0) }
            return
        }
        let outer = dims.count - 1
        // Multi-index of the first row, then an odometer.
        var index = [Int](repeating: 0, count: outer)
        var r = rows.lowerBound
        var o0 = 0, o1 = 0, o2 = 0
        for axis in stride(from: outer - 1, through: 0, by: -1) {
            index[axis] = r % dims[axis]
            r /= dims[axis]
            o0 += index[axis] * strides[0][axis]
            o1 += index[axis] * strides[1][axis]
            o2 += index[axis] * strides[2][axis]
        }
        for _ in rows {
            body(o0, o1, o2)
            var axis = outer - 1
            while axis >= 0 {
                index[axis] += 1
                o0 += strides[0][axis]; o1 += strides[1][axis]; o2 += strides[2][axis]
                if index[axis] < dims[axis] { break }
                o0 -= strides[0][axis] * dims[axis]
                o1 -= strides[1][axis] * dims[axis]
                o2 -= strides[2][axis] * dims[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
