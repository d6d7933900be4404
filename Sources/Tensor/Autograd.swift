// Reverse-mode automatic differentiation.
//
// An op computes its output, then calls `output.record(parents, backward)`. If autograd is enabled
// and some parent needs a gradient, the output keeps a `Node`: the parents and a closure that,
// given the output (whose `grad` holds dLoss/dOutput), ADDS dLoss/dParent into each parent's grad.
// Accumulating (never assigning) makes reused tensors, residual connections and parameters shared
// between branches correct without special cases. The closure receives the output as an argument
// instead of capturing it, so a graph holds no reference cycles.

final class Node {
    let parents: [Tensor]
    let backward: (Tensor) -> Void
    init(parents: [Tensor], backward: @escaping (Tensor) -> Void) {
        self.parents = parents
        self.backward = backward
    }
}

public enum Autograd {
    /// False inside `withNoGrad`: nothing is recorded (teacher forwards, evaluation).
    @TaskLocal public static var isEnabled = true

    /// Whether an op on these inputs must record itself.
    @inlinable public static func isRecording(_ inputs: Tensor...) -> Bool {
        isRecording(inputs)
    }

    @inlinable public static func isRecording(_ inputs: [Tensor]) -> Bool {
        guard inputs.contains(where: { $0.requiresGrad }) else { return false }
        return isEnabled
    }
}

/// Runs `body` without recording any op: results have no history and need no gradient.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try Autograd.$isEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// Attaches `backward` to this freshly computed tensor if autograd must record the op.
    /// Returns whether it did, so an op can skip saving what only its backward needs.
    @discardableResult
    public func record(_ parents: [Tensor], backward: @escaping (Tensor) -> Void) -> Bool {
        guard Autograd.isRecording(parents) else { return false }
        requiresGrad = true
        node = Node(parents: parents, backward: backward)
        return true
    }

    /// The same values, cut from the graph: no history, no gradient. Shares storage.
    public func detached() -> Tensor {
        Tensor(shape: shape, storage: storage)
    }

    /// Back-propagates from this scalar: every tensor it was computed from that requires a
    /// gradient receives dSelf/dTensor, added to what its `grad` already holds.
    ///
    /// The graph is consumed as it goes (like PyTorch without `retain_graph`): intermediate
    /// results drop their history and their gradients, so their memory is freed during the pass.
    /// Leaves (parameters, inputs) keep their gradients.
    public func backward() {
        guard count == 1 else {
            fatalError("backward: needs a one-element loss, got shape \(shape); reduce it first (sum or mean)")
        }
        backward(gradient: Tensor(repeating: 1, shape: shape))
    }

    /// Back-propagates a given dLoss/dSelf (PyTorch's `y.backward(gradient)`): the vector-Jacobian
    /// product of everything this tensor was computed from.
    public func backward(gradient: Tensor) {
        guard gradient.shape == shape else {
            shapeError("backward", "gradient shape \(gradient.shape) differs from the tensor's \(shape)")
        }
        guard requiresGrad else {
            fatalError("backward: this tensor needs no gradient: it was computed from no parameter, "
                       + "inside withNoGrad, or its graph was already used by an earlier backward()")
        }
        let order = topologicalOrder()
        if node != nil && grad == nil {
            // Read by this tensor's own backward only, then dropped: the caller's values serve
            // as they are (PyTorch does the same), with no copy.
            grad = Tensor(shape: shape, storage: gradient.storage)
        } else {
            accumulate(gradient.data, into: gradPointer(), count: count)
        }
        for tensor in order.reversed() {
            guard let node = tensor.node else { continue }
            if tensor.grad != nil { node.backward(tensor) }
            tensor.node = nil
            tensor.grad = nil
            tensor.requiresGrad = false
        }
    }

    /// Tensors with a node, each after all the tensors it was computed from (iterative DFS, so
    /// deep graphs cannot overflow the stack).
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Int)] = [(self, 0)]  // (tensor, index of the next parent to visit)
        visited.insert(ObjectIdentifier(self))
        while let (tensor, next) = stack.last {
            guard let parents = tensor.node?.parents, next < parents.count else {
                stack.removeLast()
                if tensor.node != nil { order.append(tensor) }
                continue
            }
            stack[stack.count - 1].1 = next + 1
            let parent = parents[next]
            if parent.node != nil, visited.insert(ObjectIdentifier(parent)).inserted {
                stack.append((parent, 0))
            }
        }
        return order
    }
}
