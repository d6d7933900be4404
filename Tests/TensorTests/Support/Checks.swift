// The two checks every op test uses: values against a reference, and gradients against central
// finite differences of the Double reference.
import Foundation
import Testing
import Tensor

/// Where |actual − expected| > atol + rtol·|expected|: one message naming the worst element, its
/// index and both values, or none.
func mismatches(_ actual: [Float], _ expected: [Double], rtol: Double = 1e-5, atol: Double = 1e-6,
                _ name: String) -> [String] {
    guard actual.count == expected.count else { return ["\(name): \(actual.count) values, expected \(expected.count)"] }
    var worst = (index: -1, excess: 0.0)
    for (i, (a, e)) in zip(actual, expected).enumerated() {
        let excess = abs(Double(a) - e) - (atol + rtol * abs(e))
        if excess > worst.excess || !Double(a).isFinite { worst = (i, excess.isNaN ? .infinity : excess) }
    }
    guard worst.index >= 0 else { return [] }
    let i = worst.index
    return ["\(name): element \(i) is \(actual[i]), expected \(expected[i]) (|diff| \(abs(Double(actual[i]) - expected[i])), rtol \(rtol), atol \(atol))"]
}

func mismatches(_ actual: Tensor, _ expected: R, rtol: Double = 1e-5, atol: Double = 1e-6, _ name: String) -> [String] {
    guard actual.shape == expected.shape else { return ["\(name): shape \(actual.shape), expected \(expected.shape)"] }
    return mismatches(actual.scalars, expected.v, rtol: rtol, atol: atol, name)
}

/// Expects actual ≈ expected (see `mismatches`).
func expectClose(_ actual: [Float], _ expected: [Double], rtol: Double = 1e-5, atol: Double = 1e-6,
                 _ name: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(mismatches(actual, expected, rtol: rtol, atol: atol, name) == [], sourceLocation: sourceLocation)
}

func expectClose(_ actual: Tensor, _ expected: R, rtol: Double = 1e-5, atol: Double = 1e-6, _ name: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(mismatches(actual, expected, rtol: rtol, atol: atol, name) == [], sourceLocation: sourceLocation)
}

/// Checks an op twice and returns what disagrees (empty when it is right): its forward against
/// `reference` (Double), and its backward against central finite differences of `reference`.
///
/// The backward is driven by a random upstream gradient r (so every output element matters):
/// analytic dL/dx from `y.backward(gradient: r)` is compared with (L(x+h) − L(x−h))/2h where
/// L(x) = Σ reference(x)·r is evaluated in Double with h = 1e-5 — accurate to ~1e-9, so any
/// mismatch beyond Float rounding is the backward's. Inputs with `requiresGrad` are checked, at
/// up to `sample` coordinates each. Use as `#expect(checkOp(…) == [])`.
func checkOp(_ name: String, _ inputs: [Tensor], forwardRtol: Double = 1e-5, forwardAtol: Double = 1e-5,
             gradRtol: Double = 1e-3, gradAtol: Double = 1e-4, sample: Int = 40, seed: UInt64 = 99,
             op: ([Tensor]) -> Tensor, reference: ([R]) -> R) -> [String] {
    var rng = RNG(seed: seed)
    for x in inputs { x.grad = nil }
    let y = op(inputs)
    let refs = inputs.map(R.init)
    var problems = mismatches(y, reference(refs), rtol: forwardRtol, atol: forwardAtol, "\(name) forward")

    let r = Tensor.randn(y.shape, rng: &rng)
    let rd = r.scalars.map(Double.init)
    guard y.requiresGrad else { return problems + ["\(name): output does not require a gradient"] }
    y.backward(gradient: r)

    func loss(_ xs: [R]) -> Double { zip(reference(xs).v, rd).reduce(0) { $0 + $1.0 * $1.1 } }
    let h = 1e-5
    for (k, x) in inputs.enumerated() where x.requiresGrad {
        guard let grad = x.grad?.scalars else {
            problems.append("\(name): input \(k) received no gradient")
            continue
        }
        let coordinates = x.count <= sample ? Array(0..<x.count) : (0..<sample).map { _ in rng.int(below: x.count) }
        var numeric: [Double] = [], analytic: [Float] = []
        for j in coordinates {
            var plus = refs, minus = refs
            plus[k].v[j] += h
            minus[k].v[j] -= h
            numeric.append((loss(plus) - loss(minus)) / (2 * h))
            analytic.append(grad[j])
        }
        let scale = max(1, numeric.map(abs).max() ?? 1)
        problems += mismatches(analytic, numeric, rtol: gradRtol, atol: gradAtol * scale, "\(name) d/dinput\(k)")
    }
    return problems
}

/// A random input that needs a gradient.
func param(_ shape: [Int], _ rng: inout RNG, scale: Float = 1) -> Tensor {
    let t = Tensor.randn(shape, std: scale, rng: &rng)
    t.requiresGrad = true
    return t
}
