// The tensor: Float32, row-major, contiguous; a shape; and, when it takes part in a recorded
// computation, the node that says how to send its gradient back to its inputs (Autograd.swift).
import Foundation

public final class Tensor {
    /// Sizes along each axis, outermost first. `[]` is a scalar.
    public let shape: [Int]
    /// Number of elements: the product of `shape`.
    public let count: Int
    public let storage: Storage

    /// Whether gradients flow to this tensor: true for parameters and for every result computed
    /// from one while autograd is enabled.
    public var requiresGrad: Bool
    /// dLoss/dSelf after `backward()`, same shape as self; nil until something accumulates into it.
    public var grad: Tensor?
    /// How this tensor was computed, if that was recorded. Nil for leaves (inputs, parameters).
    var node: Node?

    /// The elements, row-major. Writing through this pointer bypasses autograd.
    @inlinable public var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// A tensor over existing storage (views: reshape, detach).
    init(shape: [Int], storage: Storage, requiresGrad: Bool = false) {
        let count = Tensor.elementCount(shape)
        precondition(count <= storage.count, "Tensor: shape \(shape) needs \(count) elements, storage has \(storage.count)")
        self.shape = shape
        self.count = count
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// Uninitialized memory: the caller writes every element before anyone reads it.
    public convenience init(uninitialized shape: [Int]) {
        self.init(shape: shape, storage: Storage(count: Tensor.elementCount(shape), zeroed: false))
    }

    public convenience init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.init(shape: shape, storage: Storage(count: Tensor.elementCount(shape), zeroed: true),
                  requiresGrad: requiresGrad)
    }

    public convenience init(repeating value: Float, shape: [Int], requiresGrad: Bool = false) {
        self.init(uninitialized: shape)
        self.requiresGrad = requiresGrad
        data.update(repeating: value, count: count)
    }

    public convenience init(_ scalars: [Float], shape: [Int], requiresGrad: Bool = false) {
        let n = Tensor.elementCount(shape)
        guard scalars.count == n else {
            fatalError("Tensor: \(scalars.count) values do not fill shape \(shape) (\(n) elements)")
        }
        self.init(uninitialized: shape)
        self.requiresGrad = requiresGrad
        scalars.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: n) }
    }

    /// A 0-dimensional tensor holding one number.
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init([scalar], shape: [], requiresGrad: requiresGrad)
    }

    static func elementCount(_ shape: [Int]) -> Int {
        var n = 1
        for size in shape {
            guard size >= 0 else { fatalError("Tensor: negative size in shape \(shape)") }
            n *= size
        }
        return n
    }

    public var rank: Int { shape.count }

    /// The elements as an array (a copy).
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// Whether every element is finite (no NaN, no ±Inf).
    public var isFinite: Bool { UnsafeBufferPointer(start: data, count: count).allSatisfy(\.isFinite) }

    /// The value of a one-element tensor.
    public var item: Float {
        guard count == 1 else { fatalError("item: tensor of shape \(shape) has \(count) elements, not 1") }
        return data[0]
    }

    /// Element at a multi-index (for tests and small bookkeeping, not for hot loops).
    public subscript(_ index: Int...) -> Float {
        get { data[flatIndex(index)] }
        set { data[flatIndex(index)] = newValue }
    }

    func flatIndex(_ index: [Int]) -> Int {
        guard index.count == rank else { fatalError("subscript: \(index.count) indices for shape \(shape)") }
        var flat = 0
        for (i, size) in zip(index, shape) {
            guard 0 <= i && i < size else { fatalError("subscript: index \(index) out of range for shape \(shape)") }
            flat = flat * size + i
        }
        return flat
    }

    /// A new tensor with its own copy of the elements; no gradient history.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// Overwrites the elements with those of `other` (same count), outside autograd: parameter
    /// loading, EMA teachers.
    public func assign(_ other: Tensor) {
        guard other.count == count else {
            fatalError("assign: shapes \(shape) and \(other.shape) differ in size")
        }
        data.update(from: other.data, count: count)
    }

    /// self ← m·self + (1 − m)·other, outside autograd: the EMA of DINO's teacher (θt ← mθt +
    /// (1 − m)θs) and of its center. m = 1 leaves self unchanged, m = 0 copies other.
    public func interpolate(towards other: Tensor, keeping m: Float) {
        guard other.count == count else {
            fatalError("interpolate: shapes \(shape) and \(other.shape) differ in size")
        }
        let (p, q) = (data, UnsafePointer(other.data))
        let step = 1 - m
        for i in 0..<count { p[i] += step * (q[i] - p[i]) }
    }

    /// Gradient buffer for accumulation, created zeroed on first use.
    @usableFromInline func gradPointer() -> UnsafeMutablePointer<Float> {
        if let g = grad { return g.data }
        let g = Tensor(zeros: shape)
        grad = g
        return g.data
    }

    /// Where an op that writes every element of this tensor's gradient puts its contribution:
    /// into the existing buffer, adding, or, for the first contribution, into a new uninitialized
    /// one that it fills (`store`), which saves zeroing the buffer and reading it back.
    @usableFromInline func gradientTarget() -> GradientTarget {
        if let g = grad { return GradientTarget(pointer: g.data, adds: true) }
        let g = Tensor(uninitialized: shape)
        grad = g
        return GradientTarget(pointer: g.data, adds: false)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}
