// What autograd promises: recording only when needed, accumulation, no-grad scopes, detach,
// consumption of the graph, values worked out by hand.
import Testing
import Tensor

@Suite("autograd") struct AutogradTests {
    /// L = x² + 3x + x·y at x = 2, y = −1: dL/dx = 2x + 3 + y = 6, dL/dy = x = 2.
    @Test func workedByHand() {
        let x = Tensor(scalar: 2, requiresGrad: true), y = Tensor(scalar: -1, requiresGrad: true)
        let loss = square(x) + 3 * x + x * y
        #expect(loss.item == Float(4 + 6 - 2))
        loss.backward()
        #expect(x.grad?.item == Float(2 * 2 + 3 - 1))  // 2x + 3 + y
        #expect(y.grad?.item == Float(2))              // x
    }

    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let w = Tensor([1, 2, 3], shape: [3], requiresGrad: true)
        (w * 2).sum().backward()
        (w * 5).sum().backward()
        #expect(w.grad?.scalars == [7, 7, 7])
        w.grad = nil
        (w * 5).sum().backward()
        #expect(w.grad?.scalars == [5, 5, 5])
    }

    /// A tensor used by two branches receives the sum of both gradients (residual connections).
    @Test func reusedTensorSumsItsGradients() {
        let x = Tensor([0.5, -1], shape: [2], requiresGrad: true)
        let y = concat([x, x], axis: 0) * Tensor([1, 2, 3, 4], shape: [4])
        (y.sum() + (x * x).sum()).backward()
        let expected: [Float] = [1 + 3 + 2 * 0.5, 2 + 4 + 2 * -1]  // both concat slots + 2x
        #expect(x.grad?.scalars == expected)
    }

    @Test func noGradRecordsNothing() {
        let w = Tensor([1, 2], shape: [2], requiresGrad: true)
        let y = withNoGrad { exp(w * 3).sum() }
        #expect(!y.requiresGrad)
        #expect(Autograd.isEnabled)
        let z = withNoGrad { withNoGrad { w + 1 } }
        #expect(!z.requiresGrad)
        #expect((w + 1).requiresGrad)
    }

    @Test func resultsNeedGradientsOnlyWhenAnInputDoes() {
        let a = Tensor([1, 2], shape: [2]), b = Tensor([3, 4], shape: [2])
        #expect(!(a * b).requiresGrad)
        let frozen = Tensor([1, 1], shape: [2])
        let p = Tensor([2, 2], shape: [2], requiresGrad: true)
        (frozen * p).sum().backward()
        #expect(frozen.grad == nil)  // a frozen operand gets nothing
        #expect(p.grad?.scalars == [1, 1])
    }

    @Test func detachCutsTheGraph() {
        let x = Tensor([3], shape: [1], requiresGrad: true)
        let y = x * x
        let stopped = y.detached()
        #expect(!stopped.requiresGrad)
        (y + stopped * x).sum().backward()  // d/dx (x² + c·x) with c = 9 held constant
        #expect(x.grad?.item == Float(2 * 3 + 9))
    }

    /// Intermediate results drop history and gradient during backward; leaves keep theirs.
    @Test func backwardConsumesTheGraph() {
        let w = Tensor([1, 2], shape: [2], requiresGrad: true)
        let hidden = w * 3
        let loss = hidden.sum()
        loss.backward()
        #expect(hidden.grad == nil && !hidden.requiresGrad)
        #expect(w.grad?.scalars == [3, 3])
    }

    /// The vector-Jacobian product with a given upstream gradient.
    @Test func backwardWithAGivenGradient() {
        let x = Tensor([1, 2, 3], shape: [3], requiresGrad: true)
        let y = square(x)
        y.backward(gradient: Tensor([1, 0, -1], shape: [3]))
        #expect(x.grad?.scalars == [2, 0, -6])
    }

    @Test func deepChainsDoNotOverflowTheStack() {
        let x = Tensor(scalar: 1, requiresGrad: true)
        var y = x
        for _ in 0..<20_000 { y = y * 1 }
        y.backward()
        #expect(x.grad?.item == 1)
    }

    @Test func reshapeSharesStorage() {
        let x = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let y = x.reshaped(3, 2)
        #expect(y.storage === x.storage)
        #expect(y[2, 1] == 6)
    }
}
