// Elementwise ops: broadcasting + − × ÷ between tensors, the same with a scalar, and the unary
// functions exp, log, sqrt, square, relu. Each backward sits right after its forward.
//
// Gradients of a broadcast operand are summed over the axes it was broadcast along: for
// c = a + b with a: (B, N, D) and b: (D), dL/db = Σ_{B,N} dL/dc.
import Foundation

// MARK: - Row kernels

// Each kernel is written once, on vectors; a row's tail runs as one more vector, padded
// (loadTail/storeTail), so there is no scalar copy of any formula.

/// y = f(a, b) for one innermost row; strides are 1 (walk) or 0 (repeat element 0).
protocol BinaryKernel {
    static func callAsFunction(_ a: Vec, _ b: Vec) -> Vec
}
enum AddKernel: BinaryKernel {
    @inline(__always) static func callAsFunction(_ a: Vec, _ b: Vec) -> Vec { a + b }
}
enum SubKernel: BinaryKernel {
    @inline(__always) static func callAsFunction(_ a: Vec, _ b: Vec) -> Vec { a - b }
}
enum MulKernel: BinaryKernel {
    @inline(__always) static func callAsFunction(_ a: Vec, _ b: Vec) -> Vec { a * b }
}
enum DivKernel: BinaryKernel {
    @inline(__always) static func callAsFunction(_ a: Vec, _ b: Vec) -> Vec { a / b }
}

@inline(__always)
func loadStrided(_ p: UnsafePointer<Float>, _ stride: Int, _ i: Int) -> Vec {
    stride == 0 ? Vec(repeating: p[0]) : load(p + i)
}

/// The `n` < 16 elements from i on, zero-padded (or element 0 repeated, for stride 0).
@inline(__always)
func loadStridedTail(_ p: UnsafePointer<Float>, _ stride: Int, _ i: Int, _ n: Int) -> Vec {
    stride == 0 ? Vec(repeating: p[0]) : loadTail(p + i, n)
}

@inline(__always)
func binaryRow<K: BinaryKernel>(_: K.Type, _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>,
                                _ sb: Int, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i &+ vecWidth <= n {
        store(K.callAsFunction(loadStrided(a, sa, i), loadStrided(b, sb, i)), y + i)
        i &+= vecWidth
    }
    if i < n { storeTail(K.callAsFunction(loadStridedTail(a, sa, i, n &- i), loadStridedTail(b, sb, i, n &- i)), y + i, n &- i) }
}

/// The gradient one operand of a binary op receives, per element, from g = dL/dy, the output y
/// and the two inputs a, b.
protocol GradientKernel {
    static func callAsFunction(g: Vec, y: Vec, a: Vec, b: Vec) -> Vec
}
enum PassGrad: GradientKernel {  // ∂(a±b)/∂a = 1
    @inline(__always) static func callAsFunction(g: Vec, y: Vec, a: Vec, b: Vec) -> Vec { g }
}
enum NegateGrad: GradientKernel {  // ∂(a−b)/∂b = −1
    @inline(__always) static func callAsFunction(g: Vec, y: Vec, a: Vec, b: Vec) -> Vec { -g }
}
enum MulGradA: GradientKernel {  // ∂(a·b)/∂a = b
    @inline(__always) static func callAsFunction(g: Vec, y: Vec, a: Vec, b: Vec) -> Vec { g * b }
}
enum MulGradB: GradientKernel {  // ∂(a·b)/∂b = a
    @inline(__always) static func callAsFunction(g: Vec, y: Vec, a: Vec, b: Vec) -> Vec { g * a }
}
enum DivGradA: GradientKernel {  // ∂(a/b)/∂a = 1/b
    @inline(__always) static func callAsFunction(g: Vec, y: Vec, a: Vec, b: Vec) -> Vec { g / b }
}
enum DivGradB: GradientKernel {  // ∂(a/b)/∂b = −a/b² = −y/b
    @inline(__always) static func callAsFunction(g: Vec, y: Vec, a: Vec, b: Vec) -> Vec { -g * y / b }
}

/// dst[i·sd] += K(g[i], y[i], a[i·sa], b[i·sb]) over one row. With sd = 0 the row is summed into
/// dst[0] (the operand was broadcast along this axis): the full vectors' lanes as a tree, then
/// the tail's lanes in order.
@inline(__always)
func gradientRow<K: GradientKernel>(_: K.Type, _ g: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                    _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int,
                                    _ dst: UnsafeMutablePointer<Float>, _ sd: Int, _ n: Int) {
    @inline(__always) func lanes(_ i: Int) -> Vec {
        K.callAsFunction(g: load(g + i), y: load(y + i), a: loadStrided(a, sa, i), b: loadStrided(b, sb, i))
    }
    @inline(__always) func tail(_ i: Int, _ m: Int) -> Vec {
        K.callAsFunction(g: loadTail(g + i, m), y: loadTail(y + i, m), a: loadStridedTail(a, sa, i, m), b: loadStridedTail(b, sb, i, m))
    }
    var i = 0
    if sd == 1 {
        while i &+ vecWidth <= n { store(load(dst + i) + lanes(i), dst + i); i &+= vecWidth }
        if i < n { storeTail(loadTail(dst + i, n &- i) + tail(i, n &- i), dst + i, n &- i) }
    } else {
        var acc = Vec()
        while i &+ vecWidth <= n { acc += lanes(i); i &+= vecWidth }
        var sum = hsum(acc)
        if i < n {
            let d = tail(i, n &- i)
            for j in 0..<(n &- i) { sum += d[j] }
        }
        dst[0] += sum
    }
}

// MARK: - Broadcasting binary ops

/// Rows below this many elements are batched per thread; a thread gets at least ~64 k elements.
private let elementGrain = 1 << 16

func broadcastBinary<K: BinaryKernel>(_ a: Tensor, _ b: Tensor, _ kernel: K.Type, op: String) -> Tensor {
    let shape = a.shape == b.shape ? a.shape : broadcastShape(a.shape, b.shape, op: op)
    let y = Tensor(uninitialized: shape)
    let plan = BroadcastPlan(output: shape, a.shape, b.shape)
    let (_, sa, sb) = plan.innerStride
    let (pa, pb, py) = (UnsafePointer(a.data), UnsafePointer(b.data), y.data)
    let n = plan.rowLength
    if plan.rowCount == 1 {
        // One long row (same shapes, or a scalar operand): split the row itself.
        Parallel.forEachChunk(n, grain: elementGrain) { r in
            binaryRow(K.self, pa + r.lowerBound * sa, sa, pb + r.lowerBound * sb, sb, py + r.lowerBound, r.count)
        }
    } else {
        Parallel.forEachChunk(plan.rowCount, grain: max(1, elementGrain / n)) { rows in
            plan.forEachRow(rows) { o, oa, ob in binaryRow(K.self, pa + oa, sa, pb + ob, sb, py + o, n) }
        }
    }
    return y
}

/// The two operands of a binary op.
enum Operand { case a, b }

/// Adds K(g, y, a, b), summed over broadcast axes, into `target`'s gradient, where `target` is
/// `operand` of the op that produced y.
func accumulateGradient<K: GradientKernel>(_ kernel: K.Type, into target: Tensor, operand: Operand,
                                           y: Tensor, a: Tensor, b: Tensor) {
    let plan = BroadcastPlan(output: y.shape, a.shape, b.shape)
    let (_, sa, sb) = plan.innerStride
    let sd = operand == .a ? sa : sb
    let (g, py, pa, pb, dst) = (UnsafePointer(y.grad!.data), UnsafePointer(y.data), UnsafePointer(a.data),
                                UnsafePointer(b.data), target.gradPointer())
    let n = plan.rowLength
    let fullShape = target.count == y.count  // no broadcast: rows write disjoint gradient elements
    if plan.rowCount == 1 && fullShape {
        Parallel.forEachChunk(n, grain: elementGrain) { r in
            let s = r.lowerBound
            gradientRow(K.self, g + s, py + s, pa + s * sa, sa, pb + s * sb, sb, dst + s, sd, r.count)
        }
    } else if fullShape {
        Parallel.forEachChunk(plan.rowCount, grain: max(1, elementGrain / n)) { rows in
            plan.forEachRow(rows) { o, oa, ob in
                gradientRow(K.self, g + o, py + o, pa + oa, sa, pb + ob, sb, dst + (operand == .a ? oa : ob), sd, n)
            }
        }
    } else {
        plan.forEachRow(0..<plan.rowCount) { o, oa, ob in
            gradientRow(K.self, g + o, py + o, pa + oa, sa, pb + ob, sb, dst + (operand == .a ? oa : ob), sd, n)
        }
    }
}

extension Tensor {
    /// The tensor repeated along broadcast axes to `shape` (NumPy rules), e.g. a (1, 1, D) class
    /// token to (B, 1, D). The backward sums the gradient over the repeated axes.
    public func broadcast(to shape: [Int]) -> Tensor {
        guard broadcastShape(self.shape, shape, op: "broadcast") == shape else {
            shapeError("broadcast", "shape \(self.shape) cannot be broadcast to \(shape)")
        }
        let y = Tensor(uninitialized: shape)
        let plan = BroadcastPlan(output: shape, self.shape, [])
        let (_, stride, _) = plan.innerStride
        let n = plan.rowLength
        plan.forEachRow(0..<plan.rowCount) { o, source, _ in
            if stride == 1 { (y.data + o).update(from: data + source, count: n) }
            else { (y.data + o).update(repeating: data[source], count: n) }
        }
        y.record([self]) { [self] y in
            accumulateGradient(PassGrad.self, into: self, operand: .a, y: y, a: self, b: Tensor(zeros: []))
        }
        return y
    }
}

/// a + b with broadcasting.
public func + (a: Tensor, b: Tensor) -> Tensor {
    let y = broadcastBinary(a, b, AddKernel.self, op: "add")
    y.record([a, b]) { y in
        if a.requiresGrad { accumulateGradient(PassGrad.self, into: a, operand: .a, y: y, a: a, b: b) }
        if b.requiresGrad { accumulateGradient(PassGrad.self, into: b, operand: .b, y: y, a: a, b: b) }
    }
    return y
}

/// a − b with broadcasting.
public func - (a: Tensor, b: Tensor) -> Tensor {
    let y = broadcastBinary(a, b, SubKernel.self, op: "sub")
    y.record([a, b]) { y in
        if a.requiresGrad { accumulateGradient(PassGrad.self, into: a, operand: .a, y: y, a: a, b: b) }
        if b.requiresGrad { accumulateGradient(NegateGrad.self, into: b, operand: .b, y: y, a: a, b: b) }
    }
    return y
}

/// a · b elementwise, with broadcasting.
public func * (a: Tensor, b: Tensor) -> Tensor {
    let y = broadcastBinary(a, b, MulKernel.self, op: "mul")
    y.record([a, b]) { y in
        if a.requiresGrad { accumulateGradient(MulGradA.self, into: a, operand: .a, y: y, a: a, b: b) }
        if b.requiresGrad { accumulateGradient(MulGradB.self, into: b, operand: .b, y: y, a: a, b: b) }
    }
    return y
}

/// a / b elementwise, with broadcasting.
public func / (a: Tensor, b: Tensor) -> Tensor {
    let y = broadcastBinary(a, b, DivKernel.self, op: "div")
    y.record([a, b]) { y in
        if a.requiresGrad { accumulateGradient(DivGradA.self, into: a, operand: .a, y: y, a: a, b: b) }
        if b.requiresGrad { accumulateGradient(DivGradB.self, into: b, operand: .b, y: y, a: a, b: b) }
    }
    return y
}

// MARK: - Unary maps

/// y = f(x) lane by lane, and the backward dx += g · f'(x) expressed through x and y.
protocol UnaryKernel {
    func callAsFunction(_ x: Vec) -> Vec
    func derivative(x: Vec, y: Vec) -> Vec
    /// Elements per thread at the least: fewer for a kernel that costs more per element.
    var grain: Int { get }
}

extension UnaryKernel {
    var grain: Int { elementGrain }
}

func unaryMap<K: UnaryKernel>(_ x: Tensor, _ kernel: K) -> Tensor {
    let y = Tensor(uninitialized: x.shape)
    let (px, py) = (UnsafePointer(x.data), y.data)
    Parallel.forEachChunk(x.count, grain: kernel.grain) { r in
        var i = r.lowerBound
        while i &+ vecWidth <= r.upperBound { store(kernel(load(px + i)), py + i); i &+= vecWidth }
        if i < r.upperBound { storeTail(kernel(loadTail(px + i, r.upperBound &- i)), py + i, r.upperBound &- i) }
    }
    y.record([x]) { y in
        let (g, px, py, dx) = (UnsafePointer(y.grad!.data), UnsafePointer(x.data), UnsafePointer(y.data), x.gradientTarget())
        Parallel.forEachChunk(x.count, grain: kernel.grain) { r in
            var i = r.lowerBound
            while i &+ vecWidth <= r.upperBound {
                dx.put(load(g + i) * kernel.derivative(x: load(px + i), y: load(py + i)), at: i)
                i &+= vecWidth
            }
            if i < r.upperBound {
                let m = r.upperBound &- i
                dx.put(loadTail(g + i, m) * kernel.derivative(x: loadTail(px + i, m), y: loadTail(py + i, m)), at: i, count: m)
            }
        }
    }
    return y
}

struct ExpKernel: UnaryKernel {  // d e^x = e^x = y
    @inline(__always) func callAsFunction(_ x: Vec) -> Vec { vexp(x) }
    @inline(__always) func derivative(x: Vec, y: Vec) -> Vec { y }
}
struct LogKernel: UnaryKernel {  // d ln x = 1/x. libm's log lane by lane: rarely on a hot path.
    @inline(__always) func callAsFunction(_ x: Vec) -> Vec {
        var y = Vec()
        for i in 0..<vecWidth { y[i] = Foundation.log(x[i]) }
        return y
    }
    @inline(__always) func derivative(x: Vec, y: Vec) -> Vec { 1 / x }
}
struct SqrtKernel: UnaryKernel {  // d √x = 1/(2√x) = 0.5/y
    @inline(__always) func callAsFunction(_ x: Vec) -> Vec { x.squareRoot() }
    @inline(__always) func derivative(x: Vec, y: Vec) -> Vec { 0.5 / y }
}
struct SquareKernel: UnaryKernel {  // d x² = 2x
    @inline(__always) func callAsFunction(_ x: Vec) -> Vec { x * x }
    @inline(__always) func derivative(x: Vec, y: Vec) -> Vec { 2 * x }
}
struct ReLUKernel: UnaryKernel {  // d max(x, 0) = 1[x > 0]
    @inline(__always) func callAsFunction(_ x: Vec) -> Vec { vmax(x, Vec()) }
    @inline(__always) func derivative(x: Vec, y: Vec) -> Vec { Vec().replacing(with: 1, where: x .> 0) }
}
struct AffineKernel: UnaryKernel {  // scale·x + shift; d/dx = scale
    let scale: Float, shift: Float
    @inline(__always) func callAsFunction(_ x: Vec) -> Vec { x * scale + shift }
    @inline(__always) func derivative(x: Vec, y: Vec) -> Vec { Vec(repeating: scale) }
}
struct ReciprocalKernel: UnaryKernel {  // scale/x; d/dx = −scale/x² = −y/x
    let scale: Float
    @inline(__always) func callAsFunction(_ x: Vec) -> Vec { scale / x }
    @inline(__always) func derivative(x: Vec, y: Vec) -> Vec { -y / x }
}

public func exp(_ x: Tensor) -> Tensor { unaryMap(x, ExpKernel()) }
public func log(_ x: Tensor) -> Tensor { unaryMap(x, LogKernel()) }
public func sqrt(_ x: Tensor) -> Tensor { unaryMap(x, SqrtKernel()) }
public func square(_ x: Tensor) -> Tensor { unaryMap(x, SquareKernel()) }
public func relu(_ x: Tensor) -> Tensor { unaryMap(x, ReLUKernel()) }

// MARK: - Scalar operands

public prefix func - (x: Tensor) -> Tensor { unaryMap(x, AffineKernel(scale: -1, shift: 0)) }
public func + (x: Tensor, s: Float) -> Tensor { unaryMap(x, AffineKernel(scale: 1, shift: s)) }
public func + (s: Float, x: Tensor) -> Tensor { x + s }
public func - (x: Tensor, s: Float) -> Tensor { x + (-s) }
public func - (s: Float, x: Tensor) -> Tensor { unaryMap(x, AffineKernel(scale: -1, shift: s)) }
public func * (x: Tensor, s: Float) -> Tensor { unaryMap(x, AffineKernel(scale: s, shift: 0)) }
public func * (s: Float, x: Tensor) -> Tensor { x * s }
public func / (x: Tensor, s: Float) -> Tensor { x * (1 / s) }
public func / (s: Float, x: Tensor) -> Tensor { unaryMap(x, ReciprocalKernel(scale: s)) }
