// Every differentiable op: forward against its naive Double twin, backward against central finite
// differences of that twin (Support/Checks.swift). Shapes include odd sizes that exercise the
// SIMD tails (widths 1, 15, 17, 33) and every broadcasting pattern the ops special-case.
import Foundation
import Testing
import Tensor

@Suite("gradients") struct GradientTests {
    // MARK: elementwise

    static let broadcastShapes: [([Int], [Int])] = [
        ([3, 17], [3, 17]),         // same shape: one flat loop
        ([2, 3, 17], [17]),         // bias-style: trailing row
        ([2, 3, 17], [3, 1]),       // inner broadcast: one value per row
        ([2, 1, 5], [1, 4, 1]),     // both operands broadcast
        ([4, 5], []),               // scalar tensor
    ]

    @Test(arguments: broadcastShapes)
    func addSubMulDiv(_ shapes: ([Int], [Int])) {
        var rng = RNG(seed: 1)
        let a = param(shapes.0, &rng), b = param(shapes.1, &rng)
        let c = Tensor(b.scalars.map { $0 > 0 ? $0 + 1 : $0 - 1 }, shape: b.shape, requiresGrad: true)  // |c| > 1 for ÷
        #expect(checkOp("add \(shapes)", [a, b], op: { $0[0] + $0[1] }, reference: { Ref.broadcast($0[0], $0[1], +) }) == [])
        #expect(checkOp("sub \(shapes)", [a, b], op: { $0[0] - $0[1] }, reference: { Ref.broadcast($0[0], $0[1], -) }) == [])
        #expect(checkOp("mul \(shapes)", [a, b], op: { $0[0] * $0[1] }, reference: { Ref.broadcast($0[0], $0[1], *) }) == [])
        #expect(checkOp("div \(shapes)", [a, c], op: { $0[0] / $0[1] }, reference: { Ref.broadcast($0[0], $0[1], /) }) == [])
        // Operand order reversed: the broadcast operand first.
        #expect(checkOp("mul reversed \(shapes)", [b, a], op: { $0[0] * $0[1] }, reference: { Ref.broadcast($0[0], $0[1], *) }) == [])
    }

    @Test func scalarOperands() {
        var rng = RNG(seed: 2)
        let x = param([3, 19], &rng)
        #expect(checkOp("x + 2", [x], op: { $0[0] + 2 }, reference: { Ref.map($0[0]) { $0 + 2 } }) == [])
        #expect(checkOp("3 - x", [x], op: { 3 - $0[0] }, reference: { Ref.map($0[0]) { 3 - $0 } }) == [])
        #expect(checkOp("x * -1.5", [x], op: { $0[0] * -1.5 }, reference: { Ref.map($0[0]) { $0 * -1.5 } }) == [])
        #expect(checkOp("x / 4", [x], op: { $0[0] / 4 }, reference: { Ref.map($0[0]) { $0 / 4 } }) == [])
        #expect(checkOp("-x", [x], op: { -$0[0] }, reference: { Ref.map($0[0]) { -$0 } }) == [])
        let away = Tensor(x.scalars.map { $0 > 0 ? $0 + 0.5 : $0 - 0.5 }, shape: x.shape, requiresGrad: true)
        #expect(checkOp("2 / x", [away], op: { 2 / $0[0] }, reference: { Ref.map($0[0]) { 2 / $0 } }) == [])
    }

    @Test func unaryFunctions() {
        var rng = RNG(seed: 3)
        let x = param([5, 33], &rng)
        let positive = Tensor(x.scalars.map { abs($0) + 0.1 }, shape: x.shape, requiresGrad: true)
        #expect(checkOp("exp", [x], op: { exp($0[0]) }, reference: { Ref.map($0[0], Foundation.exp) }) == [])
        #expect(checkOp("log", [positive], op: { log($0[0]) }, reference: { Ref.map($0[0], Foundation.log) }) == [])
        #expect(checkOp("sqrt", [positive], op: { sqrt($0[0]) }, reference: { Ref.map($0[0]) { $0.squareRoot() } }) == [])
        #expect(checkOp("square", [x], op: { square($0[0]) }, reference: { Ref.map($0[0]) { $0 * $0 } }) == [])
        #expect(checkOp("relu", [x], op: { relu($0[0]) }, reference: { Ref.map($0[0]) { max($0, 0) } }) == [])
        #expect(checkOp("gelu", [x], forwardAtol: 3e-7, op: { gelu($0[0]) }, reference: { Ref.gelu($0[0]) }) == [])
    }

    // MARK: reductions and layout

    @Test(arguments: [([0], false), ([1], false), ([2], true), ([0, 2], false), ([-1], true), ([0, 1, 2], false)])
    func sumAndMean(_ axes: [Int], _ keepDims: Bool) {
        var rng = RNG(seed: 4)
        let x = param([3, 4, 17], &rng)
        let normalized = Set(axes.map { $0 < 0 ? $0 + 3 : $0 })
        let n = Double(normalized.reduce(1) { $0 * x.shape[$1] })
        #expect(checkOp("sum \(axes)", [x], op: { $0[0].sum(axes: axes, keepDims: keepDims) },
                reference: { Ref.sum($0[0], axes: normalized, keepDims: keepDims) }) == [])
        #expect(checkOp("mean \(axes)", [x], op: { $0[0].mean(axes: axes, keepDims: keepDims) },
                reference: { Ref.sum($0[0], axes: normalized, keepDims: keepDims, scale: 1 / n) }) == [])
    }

    @Test func broadcastTo() {
        var rng = RNG(seed: 27)
        let token = param([1, 1, 5], &rng), column = param([3, 1], &rng)
        #expect(checkOp("broadcast token", [token], op: { $0[0].broadcast(to: [4, 1, 5]) },
                        reference: { Ref.broadcast($0[0], R([4, 1, 5], Array(repeating: 0, count: 20)), +) }) == [])
        #expect(checkOp("broadcast column", [column], op: { $0[0].broadcast(to: [2, 3, 17]) },
                        reference: { Ref.broadcast($0[0], R([2, 3, 17], Array(repeating: 0, count: 102)), +) }) == [])
    }

    @Test func reshapePermuteTranspose() {
        var rng = RNG(seed: 5)
        let x = param([2, 3, 4, 5], &rng)
        #expect(checkOp("reshape", [x], op: { $0[0].reshaped(6, -1) }, reference: { R([6, 20], $0[0].v) }) == [])
        for axes in [[0, 2, 1, 3], [3, 2, 1, 0], [1, 0, 2, 3], [0, 1, 3, 2], [2, 0, 3, 1]] {
            #expect(checkOp("permute \(axes)", [x], op: { $0[0].permuted(axes) }, reference: { Ref.permute($0[0], axes) }) == [])
        }
        #expect(checkOp("transpose", [x], op: { $0[0].transposed() }, reference: { Ref.permute($0[0], [0, 1, 3, 2]) }) == [])
    }

    @Test func concatSliceSelect() {
        var rng = RNG(seed: 6)
        let a = param([2, 3, 5], &rng), b = param([2, 1, 5], &rng), c = param([2, 4, 5], &rng)
        #expect(checkOp("concat axis 1", [a, b, c], op: { concat($0, axis: 1) }, reference: { Ref.concat($0, axis: 1) }) == [])
        let d = param([2, 3, 2], &rng)
        #expect(checkOp("concat axis -1", [a, d], op: { concat($0, axis: -1) }, reference: { Ref.concat($0, axis: 2) }) == [])
        let e = param([1, 3, 5], &rng)
        #expect(checkOp("concat axis 0", [a, e], op: { concat($0, axis: 0) }, reference: { Ref.concat($0, axis: 0) }) == [])
        #expect(checkOp("slice", [a], op: { $0[0].slice(axis: 1, 1..<3) }, reference: { Ref.slice($0[0], axis: 1, 1..<3) }) == [])
        #expect(checkOp("select token 0", [c], op: { $0[0].select(axis: 1, 0) },
                reference: { R([2, 5], Ref.slice($0[0], axis: 1, 0..<1).v) }) == [])
    }

    // MARK: products

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmul2D(_ transA: Bool, _ transB: Bool) {
        var rng = RNG(seed: 7)
        let (m, k, n) = (5, 7, 3)
        let a = param(transA ? [k, m] : [m, k], &rng), b = param(transB ? [n, k] : [k, n], &rng)
        #expect(checkOp("matmul \(transA) \(transB)", [a, b], op: { matmul($0[0], $0[1], transposeA: transA, transposeB: transB) },
                reference: { Ref.matmul($0[0], $0[1], transA: transA, transB: transB) }) == [])
    }

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func matmulBatched(_ transA: Bool, _ transB: Bool) {
        var rng = RNG(seed: 8)
        let (m, k, n) = (4, 6, 3)
        let a = param([2, 3] + (transA ? [k, m] : [m, k]), &rng)
        let b = param([2, 3] + (transB ? [n, k] : [k, n]), &rng)
        #expect(checkOp("bmm \(transA) \(transB)", [a, b], op: { matmul($0[0], $0[1], transposeA: transA, transposeB: transB) },
                reference: { Ref.matmul($0[0], $0[1], transA: transA, transB: transB) }) == [])
        // A shared 2-D operand on either side (a weight applied to every batch entry).
        let w = param(transB ? [n, k] : [k, n], &rng)
        #expect(checkOp("batched × shared \(transA) \(transB)", [a, w],
                op: { matmul($0[0], $0[1], transposeA: transA, transposeB: transB) },
                reference: { Ref.matmul($0[0], $0[1], transA: transA, transB: transB) }) == [])
        let v = param(transA ? [k, m] : [m, k], &rng)
        #expect(checkOp("shared × batched \(transA) \(transB)", [v, b],
                op: { matmul($0[0], $0[1], transposeA: transA, transposeB: transB) },
                reference: { Ref.matmul($0[0], $0[1], transA: transA, transB: transB) }) == [])
    }

    @Test func linearLayer() {
        var rng = RNG(seed: 9)
        let x = param([2, 3, 7], &rng), w = param([5, 7], &rng), b = param([5], &rng)
        #expect(checkOp("linear", [x, w, b], op: { linear($0[0], weight: $0[1], bias: $0[2]) },
                reference: { Ref.linear($0[0], $0[1], $0[2]) }) == [])
        #expect(checkOp("linear, no bias", [x, w], op: { linear($0[0], weight: $0[1], bias: nil) },
                reference: { Ref.linear($0[0], $0[1], nil) }) == [])
        let res = param([2, 3, 5], &rng)
        #expect(checkOp("linear + residual", [x, w, b, res], op: { linear($0[0], weight: $0[1], bias: $0[2], residual: $0[3]) },
                        reference: { Ref.broadcast(Ref.linear($0[0], $0[1], $0[2]), $0[3], +) }) == [])
        #expect(checkOp("linear + residual, no bias", [x, w, res], op: { linear($0[0], weight: $0[1], bias: nil, residual: $0[2]) },
                        reference: { Ref.broadcast(Ref.linear($0[0], $0[1], nil), $0[2], +) }) == [])
    }

    // MARK: normalizations and losses

    @Test(arguments: [1, 15, 16, 17, 33])
    func softmaxAndLogSoftmax(_ width: Int) {
        var rng = RNG(seed: 10)
        let x = param([3, width], &rng, scale: 3)
        #expect(checkOp("softmax \(width)", [x], op: { softmax($0[0]) }, reference: { Ref.rows($0[0], Ref.softmax) }) == [])
        #expect(checkOp("logSoftmax \(width)", [x], op: { logSoftmax($0[0]) }, reference: { Ref.rows($0[0], Ref.logSoftmax) }) == [])
    }

    @Test(arguments: [1, 7, 16, 33])
    func layerNormalization(_ width: Int) {
        var rng = RNG(seed: 11)
        let x = param([2, 3, width], &rng, scale: 2), w = param([width], &rng), b = param([width], &rng)
        let tol = width == 1 ? 1e-2 : 1e-4  // width 1: x̂ = 0/√ε, all gradient lives in ε
        #expect(checkOp("layerNorm \(width)", [x, w, b], forwardRtol: 1e-4, forwardAtol: 1e-4, gradRtol: tol, gradAtol: tol,
                op: { layerNorm($0[0], weight: $0[1], bias: $0[2]) }, reference: { Ref.layerNorm($0[0], $0[1], $0[2]) }) == [])
    }

    /// The ops whose backward fills a new gradient buffer on its first contribution and adds on
    /// later ones: an input used twice gets the sum, and a gradient already there is added to.
    @Test(arguments: ["gelu", "softmax", "logSoftmax", "layerNorm"])
    func gradientsAddUpOverUses(_ name: String) {
        var rng = RNG(seed: 30)
        let x = param([3, 17], &rng, scale: 2), w = param([17], &rng), b = param([17], &rng)
        let op: (Tensor) -> Tensor = switch name {
        case "gelu": { gelu($0) }
        case "softmax": { softmax($0) }
        case "logSoftmax": { logSoftmax($0) }
        default: { layerNorm($0, weight: w, bias: b) }
        }
        let (r1, r2) = (Tensor.randn(x.shape, rng: &rng), Tensor.randn(x.shape, rng: &rng))
        func gradient(_ body: () -> Void) -> [Float] { x.grad = nil; body(); return x.grad!.scalars }
        let g1 = gradient { op(x).backward(gradient: r1) }
        let g2 = gradient { op(x).backward(gradient: r2) }
        let both = gradient { (op(x) * r1 + op(x) * r2).sum().backward() }
        expectClose(both, zip(g1, g2).map { Double($0 + $1) }, rtol: 1e-6, atol: 1e-7, "\(name): two uses")
        x.grad = Tensor(repeating: 0.5, shape: x.shape)
        op(x).backward(gradient: r1)
        expectClose(x.grad!.scalars, g1.map { Double($0 + 0.5) }, rtol: 1e-6, atol: 1e-7, "\(name): onto a gradient")
    }

    @Test(arguments: [0, -1, 1])
    func l2Normalization(_ axis: Int) {
        var rng = RNG(seed: 12)
        let x = param([3, 4, 17], &rng)
        #expect(checkOp("l2Normalize axis \(axis)", [x], op: { l2Normalize($0[0], axis: axis) },
                reference: { Ref.l2Normalize($0[0], axis: axis < 0 ? axis + 3 : axis) }) == [])
    }

    @Test(arguments: [Float(0), 0.1, 1])
    func crossEntropyWithSmoothing(_ smoothing: Float) {
        var rng = RNG(seed: 13)
        let z = param([6, 11], &rng, scale: 2)
        let labels = [0, 10, 3, 3, 7, 1]
        #expect(checkOp("crossEntropy ε=\(smoothing)", [z], op: { crossEntropy($0[0], labels: labels, labelSmoothing: smoothing) },
                reference: { Ref.crossEntropy($0[0], labels: labels, smoothing: Double(smoothing)) }) == [])
    }

    @Test(arguments: [Float(1), 3, 0.5])
    func klAtTemperature(_ temperature: Float) {
        var rng = RNG(seed: 14)
        let s = param([4, 9], &rng, scale: 2), t = param([4, 9], &rng, scale: 2)
        #expect(checkOp("KL τ=\(temperature)", [s, t], op: { klDivergence(student: $0[0], teacher: $0[1], temperature: temperature) },
                reference: { Ref.kl($0[0], $0[1], temperature: Double(temperature)) }) == [])
    }

    // MARK: images

    /// Kernel shapes whose padding keeps the width ("same": im2col copies each plane as one
    /// shifted run) and shapes that do not, on a plane wider than tall.
    @Test(arguments: [(1, 1, 0), (5, 5, 2), (1, 3, 1), (3, 1, 0), (3, 5, 2), (2, 2, 1)])
    func convolutionKernelShapes(_ kernelH: Int, _ kernelW: Int, _ padding: Int) {
        var rng = RNG(seed: 16)
        let x = param([3, 2, 5, 7], &rng), w = param([3, 2, kernelH, kernelW], &rng), b = param([3], &rng)
        #expect(checkOp("conv2d \(kernelH)×\(kernelW) p\(padding)", [x, w, b], forwardRtol: 1e-4,
                op: { conv2d($0[0], weight: $0[1], bias: $0[2], stride: 1, padding: padding) },
                reference: { Ref.conv2d($0[0], $0[1], $0[2], stride: 1, padding: padding) }) == [])
    }

    @Test(arguments: [(1, 0), (2, 1), (1, 1), (3, 2)])
    func convolution(_ stride: Int, _ padding: Int) {
        var rng = RNG(seed: 15)
        let x = param([2, 3, 7, 6], &rng), w = param([4, 3, 3, 3], &rng), b = param([4], &rng)
        #expect(checkOp("conv2d s\(stride) p\(padding)", [x, w, b], forwardRtol: 1e-4,
                op: { conv2d($0[0], weight: $0[1], bias: $0[2], stride: stride, padding: padding) },
                reference: { Ref.conv2d($0[0], $0[1], $0[2], stride: stride, padding: padding) }) == [])
    }

    @Test func batchNormalization() {
        var rng = RNG(seed: 20)
        let x = param([4, 3, 5, 3], &rng, scale: 2), w = param([3], &rng), b = param([3], &rng)
        let (runningMean, runningVar) = (Tensor(zeros: [3]), Tensor(repeating: 1, shape: [3]))
        #expect(checkOp("batchNorm training", [x, w, b], forwardRtol: 1e-4, forwardAtol: 1e-4, op: {
            batchNorm2d($0[0], weight: $0[1], bias: $0[2], runningMean: runningMean, runningVar: runningVar, training: true)
        }, reference: { Ref.batchNorm($0[0], $0[1], $0[2]) }) == [])
        // Evaluation uses fixed statistics: an affine map per channel.
        let (mean, variance) = (Tensor([0.5, -1, 2], shape: [3]), Tensor([4, 0.25, 1], shape: [3]))
        #expect(checkOp("batchNorm eval", [x, w, b], op: {
            batchNorm2d($0[0], weight: $0[1], bias: $0[2], runningMean: mean, runningVar: variance, training: false)
        }, reference: { t in
            var y = t[0]
            for j in 0..<y.count {
                let c = (j / 15) % 3
                y.v[j] = (y.v[j] - Double(mean.scalars[c])) / (Double(variance.scalars[c]) + 1e-5).squareRoot() * t[1].v[c] + t[2].v[c]
            }
            return y
        }) == [])
    }

    /// BatchNorm with its ReLU in the same pass, on planes with a vector part and a tail, in
    /// training and at evaluation.
    @Test(arguments: [true, false])
    func batchNormalizationWithReLU(_ training: Bool) {
        var rng = RNG(seed: 21)
        let x = param([3, 2, 6, 5], &rng, scale: 2), w = param([2], &rng), b = param([2], &rng)
        let (mean, variance) = (Tensor([0.5, -1], shape: [2]), Tensor([4, 0.25], shape: [2]))
        #expect(checkOp("batchNorm+ReLU training \(training)", [x, w, b], forwardRtol: 1e-4, forwardAtol: 1e-4, op: {
            batchNorm2d($0[0], weight: $0[1], bias: $0[2], runningMean: mean.copy(), runningVar: variance.copy(), training: training,
                        relu: true)
        }, reference: { t in
            var y = t[0]
            if training {
                y = Ref.batchNorm(t[0], t[1], t[2])
            } else {
                for j in 0..<y.count {
                    let c = (j / 30) % 2
                    y.v[j] = (y.v[j] - Double(mean.scalars[c])) / (Double(variance.scalars[c]) + 1e-5).squareRoot() * t[1].v[c] + t[2].v[c]
                }
            }
            y.v = y.v.map { max($0, 0) }
            return y
        }) == [])
    }

    /// BatchNorm's ReLU gives exactly the numbers of relu(batchNorm(x)), forward and backward, on
    /// planes with a tail, a NaN in the upstream gradient included (it must reach the same places).
    @Test(arguments: [true, false])
    func batchNormReLUIsReLUOfBatchNorm(_ training: Bool) {
        var rng = RNG(seed: 22)
        let x = Tensor.randn([3, 4, 7, 7], std: 2, rng: &rng), w = Tensor.randn([4], rng: &rng), b = Tensor.randn([4], rng: &rng)
        let upstream = Tensor.randn([3, 4, 7, 7], rng: &rng)
        upstream.data[5] = .nan
        upstream.data[60] = .nan
        func run(fused: Bool) -> [[Float]] {
            let (xi, wi, bi) = (x.copy(), w.copy(), b.copy())
            (xi.requiresGrad, wi.requiresGrad, bi.requiresGrad) = (true, true, true)
            let (mean, variance) = (Tensor([0.5, -1, 0, 2], shape: [4]), Tensor([4, 0.25, 1, 2], shape: [4]))
            let y = fused
                ? batchNorm2d(xi, weight: wi, bias: bi, runningMean: mean, runningVar: variance, training: training, relu: true)
                : relu(batchNorm2d(xi, weight: wi, bias: bi, runningMean: mean, runningVar: variance, training: training))
            y.backward(gradient: upstream)
            return [y, xi.grad!, wi.grad!, bi.grad!].map(\.scalars)
        }
        let (fused, separate) = (run(fused: true), run(fused: false))
        for (i, name) in ["output", "d/dx", "d/dweight", "d/dbias"].enumerated() {
            let (p, q) = (fused[i], separate[i])
            #expect(zip(p, q).allSatisfy { $0.bitPattern == $1.bitPattern || ($0.isNaN && $1.isNaN) }, "\(name) differs")
        }
    }

    /// NaN in a 2×2 window: in its first cell it is the window's maximum (nothing compares
    /// greater), elsewhere it is passed over, on the vector path and the tail alike.
    @Test func maxPool2x2WithNaN() {
        let x = Tensor((0..<2 * 34).map { Float($0 % 7) }, shape: [1, 1, 2, 34])
        for column in [0, 3, 30, 33] { x.data[column] = .nan }  // first cells (0, 30); later cells (3, 33)
        let y = maxPool2d(x, kernel: 2).scalars
        #expect(y[0].isNaN && y[15].isNaN)
        for window in [1, 16] {
            let cells = [2 * window, 2 * window + 1, 34 + 2 * window, 35 + 2 * window].map { x.data[$0] }.filter { !$0.isNaN }
            #expect(y[window] == cells.max(), "window \(window)")
        }
    }

    /// ResNet's stem pool (2×2, stride 2) on planes wide enough for its vector path (eight outputs
    /// at a time) and its tail, odd widths included; ties go to the window's first cell, as in PyTorch.
    @Test(arguments: [34, 35, 16])
    func maxPool2x2(_ width: Int) {
        var rng = RNG(seed: 17)
        let x = param([2, 3, 6, width], &rng)
        #expect(checkOp("maxPool 2×2 on width \(width)", [x], op: { maxPool2d($0[0], kernel: 2) },
                reference: { Ref.pool($0[0], kernel: 2, stride: 2, padding: 0, max: true) }) == [])
        let level = Tensor(repeating: 1, shape: [1, 1, 2, width], requiresGrad: true)
        maxPool2d(level, kernel: 2).sum().backward()
        let firstCells = (0..<2 * width).map { $0 < width && $0 % 2 == 0 && $0 < width / 2 * 2 ? Float(1) : 0 }
        #expect(level.grad!.scalars == firstCells)
    }

    @Test(arguments: [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 0)])
    func pooling(_ kernel: Int, _ stride: Int, _ padding: Int) {
        var rng = RNG(seed: 16)
        let x = param([2, 3, 7, 6], &rng)
        #expect(checkOp("maxPool k\(kernel) s\(stride) p\(padding)", [x],
                op: { maxPool2d($0[0], kernel: kernel, stride: stride, padding: padding) },
                reference: { Ref.pool($0[0], kernel: kernel, stride: stride, padding: padding, max: true) }) == [])
        #expect(checkOp("avgPool k\(kernel) s\(stride) p\(padding)", [x],
                op: { avgPool2d($0[0], kernel: kernel, stride: stride, padding: padding) },
                reference: { Ref.pool($0[0], kernel: kernel, stride: stride, padding: padding, max: false) }) == [])
    }

    @Test(arguments: [(4, 4, 7, 7), (7, 7, 4, 4), (5, 3, 8, 2), (3, 3, 3, 3)])
    func bicubic(_ h: Int, _ w: Int, _ oh: Int, _ ow: Int) {
        var rng = RNG(seed: 17)
        let grid = param([3, h, w], &rng)
        #expect(checkOp("bicubic \(h)x\(w)→\(oh)x\(ow)", [grid], forwardRtol: 1e-5, forwardAtol: 1e-5,
                op: { bicubicResize($0[0], height: oh, width: ow) }, reference: { Ref.bicubic($0[0], height: oh, width: ow) }) == [])
    }

    @Test(arguments: [1, 2, 4])
    func patches(_ patch: Int) {
        var rng = RNG(seed: 18)
        let x = param([2, 3, 8, 4], &rng)
        #expect(checkOp("patchify p\(patch)", [x], op: { patchify($0[0], patch: patch) },
                reference: { Ref.patchify($0[0], patch: patch) }) == [])
    }

    /// The fused attention against the definition: q, k, v sliced out of qkv (B, N, 3, H, Dh),
    /// softmax(q·kᵀ/√Dh)·v per head, heads concatenated. Sizes cross the SIMD width (N = 17).
    @Test(arguments: [(2, 17, 2, 8), (3, 5, 4, 4), (1, 33, 1, 16)])
    func fusedAttention(_ b: Int, _ n: Int, _ heads: Int, _ dh: Int) {
        var rng = RNG(seed: 21)
        let d = heads * dh
        let qkv = param([b, n, 3 * d], &rng)
        #expect(checkOp("attention \(b)×\(n), \(heads) heads", [qkv], forwardRtol: 1e-4, forwardAtol: 1e-5,
                        op: { multiHeadAttention($0[0], heads: heads).output }, reference: { t in
            let split = Ref.permute(R([b, n, 3, heads, dh], t[0].v), [2, 0, 3, 1, 4])
            let part = { (i: Int) in R([b, heads, n, dh], Ref.slice(split, axis: 0, i..<i + 1).v) }
            let scores = Ref.map(Ref.matmul(part(0), part(1), transB: true)) { $0 / Double(dh).squareRoot() }
            return R([b, n, d], Ref.permute(Ref.matmul(Ref.rows(scores, Ref.softmax), part(2)), [0, 2, 1, 3]).v)
        }) == [])
        let weights = multiHeadAttention(qkv, heads: heads, returnWeights: true).weights!
        #expect(weights.shape == [b, heads, n, n])
        #expect(weights.sum(axis: -1).scalars.allSatisfy { abs($0 - 1) < 1e-5 })
        #expect(multiHeadAttention(qkv, heads: heads).weights == nil)
        // A second attention over the same qkv adds its gradient to the first's.
        qkv.grad = nil
        let upstream = Tensor.randn([b, n, d], rng: &rng)
        multiHeadAttention(qkv, heads: heads).output.backward(gradient: upstream)
        let once = qkv.grad!.scalars
        multiHeadAttention(qkv, heads: heads).output.backward(gradient: upstream)
        #expect(zip(qkv.grad!.scalars, once).allSatisfy { abs($0 - 2 * $1) <= 1e-5 * max(1, abs($1)) })
    }

    // MARK: compositions

    /// A pre-norm transformer block built from the ops, checked end to end: the backward of a
    /// graph with residual branches (a tensor used twice) and every op a ViT uses.
    @Test func transformerBlock() {
        var rng = RNG(seed: 19)
        let (b, n, d, heads) = (2, 5, 8, 2)
        let x = param([b, n, d], &rng)
        let ln1w = param([d], &rng), ln1b = param([d], &rng)
        let qkvW = param([3 * d, d], &rng, scale: 0.3), qkvB = param([3 * d], &rng, scale: 0.1)
        let projW = param([d, d], &rng, scale: 0.3), fc1W = param([2 * d, d], &rng, scale: 0.3), fc2W = param([d, 2 * d], &rng, scale: 0.3)
        let ps = [x, ln1w, ln1b, qkvW, qkvB, projW, fc1W, fc2W]
        func block(_ t: [Tensor]) -> Tensor {
            let h = layerNorm(t[0], weight: t[1], bias: t[2])
            let qkv = linear(h, weight: t[3], bias: t[4]).reshaped(b, n, 3, heads, d / heads).permuted(2, 0, 3, 1, 4)
            let (q, k, v) = (qkv.select(axis: 0, 0), qkv.select(axis: 0, 1), qkv.select(axis: 0, 2))
            let attn = softmax(matmul(q, k, transposeB: true) * (1 / Float(d / heads).squareRoot()))
            let mixed = matmul(attn, v).permuted(0, 2, 1, 3).reshaped(b, n, d)
            let y = t[0] + linear(mixed, weight: t[5], bias: nil)
            return y + linear(gelu(linear(y, weight: t[6], bias: nil)), weight: t[7], bias: nil)
        }
        func reference(_ t: [R]) -> R {
            let h = Ref.layerNorm(t[0], t[1], t[2])
            let qkv = Ref.permute(R([b, n, 3, heads, d / heads], Ref.linear(h, t[3], t[4]).v), [2, 0, 3, 1, 4])
            let part = { (i: Int) in R([b, heads, n, d / heads], Ref.slice(qkv, axis: 0, i..<i + 1).v) }
            let scores = Ref.map(Ref.matmul(part(0), part(1), transB: true)) { $0 / Double(d / heads).squareRoot() }
            let mixed = R([b, n, d], Ref.permute(Ref.matmul(Ref.rows(scores, Ref.softmax), part(2)), [0, 2, 1, 3]).v)
            let y = Ref.broadcast(t[0], Ref.linear(mixed, t[5], nil), +)
            return Ref.broadcast(y, Ref.linear(Ref.gelu(Ref.linear(y, t[6], nil)), t[7], nil), +)
        }
        #expect(checkOp("transformer block", ps, forwardRtol: 1e-4, forwardAtol: 1e-4, op: block, reference: reference) == [])
    }
}
