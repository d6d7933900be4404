// The fast paths against naive loops, at sizes large enough to run on several cores and to cross
// SIMD tails, where the gradient tests' small shapes do not reach.
import Foundation
import Testing
import Tensor

@Suite("kernels") struct KernelTests {
    /// sgemm through every flag combination, odd shapes included, against the triple loop.
    @Test(arguments: [(1, 1, 1), (1, 17, 3), (17, 1, 33), (33, 65, 17), (129, 257, 64), (200, 3, 200)])
    func matmulMatchesTripleLoop(_ m: Int, _ n: Int, _ k: Int) {
        var rng = RNG(seed: 21)
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = Tensor.randn(transA ? [k, m] : [m, k], rng: &rng)
            let b = Tensor.randn(transB ? [n, k] : [k, n], rng: &rng)
            let c = matmul(a, b, transposeA: transA, transposeB: transB)
            let expected = referenceMatmul(a.scalars, b.scalars, m: m, n: n, k: k, transA: transA, transB: transB)
            #expect(c.shape == [m, n])
            expectClose(c.scalars, expected.map(Double.init), rtol: 1e-4, atol: 1e-4, "matmul \(m)x\(n)x\(k) \(transA) \(transB)")
        }
    }

    @Test func elementwiseOnManyCores() {
        var rng = RNG(seed: 22)
        let a = Tensor.randn([300, 517], rng: &rng), b = Tensor.randn([300, 517], rng: &rng)
        let bias = Tensor.randn([517], rng: &rng), column = Tensor.randn([300, 1], rng: &rng)
        let (av, bv, biasv, colv) = (a.scalars, b.scalars, bias.scalars, column.scalars)
        expectClose((a * b).scalars, zip(av, bv).map { Double($0) * Double($1) }, "a·b")
        expectClose((a + bias).scalars, av.indices.map { Double(av[$0]) + Double(biasv[$0 % 517]) }, "a + bias")
        expectClose((a - column).scalars, av.indices.map { Double(av[$0]) - Double(colv[$0 / 517]) }, "a − column")
        expectClose(relu(a).scalars, av.map { Double(max($0, 0)) }, "relu")
        let wide = Tensor.randn([300 * 517], rng: &rng)
        expectClose((wide * 0.5 + 1).scalars, wide.scalars.map { Double($0) * 0.5 + 1 }, "affine")
    }

    @Test func reductionsOnManyCores() {
        var rng = RNG(seed: 23)
        let x = Tensor.randn([64, 300, 33], rng: &rng)
        let r = R(x)
        expectClose(x.sum(axis: -1), Ref.sum(r, axes: [2], keepDims: false), rtol: 1e-4, atol: 1e-4, "sum last")
        expectClose(x.sum(axis: 1), Ref.sum(r, axes: [1], keepDims: false), rtol: 1e-4, atol: 1e-4, "sum middle")
        expectClose(x.mean(axes: [0, 2]), Ref.sum(r, axes: [0, 2], keepDims: false, scale: 1.0 / (64 * 33)),
                    rtol: 1e-4, atol: 1e-5, "mean outer and last")
    }

    @Test func permuteOfAttentionShapes() {
        var rng = RNG(seed: 24)
        let qkv = Tensor.randn([8, 65, 3, 4, 32], rng: &rng)  // (B, N, 3, H, Dh)
        let p = qkv.permuted(2, 0, 3, 1, 4)                    // (3, B, H, N, Dh)
        expectClose(p, Ref.permute(R(qkv), [2, 0, 3, 1, 4]), "qkv permute")
        let m = Tensor.randn([517, 300], rng: &rng)
        expectClose(m.transposed(), Ref.permute(R(m), [1, 0]), "2-D transpose")
    }

    @Test func rowKernelsOnManyCores() {
        var rng = RNG(seed: 25)
        let scores = Tensor.randn([6 * 197, 197], std: 4, rng: &rng)
        expectClose(softmax(scores), Ref.rows(R(scores), Ref.softmax), rtol: 1e-5, atol: 1e-7, "softmax")
        expectClose(logSoftmax(scores), Ref.rows(R(scores), Ref.logSoftmax), rtol: 1e-5, atol: 1e-5, "logSoftmax")
        let tokens = Tensor.randn([2000, 384], std: 3, rng: &rng)
        let w = Tensor.randn([384], rng: &rng), b = Tensor.randn([384], rng: &rng)
        expectClose(layerNorm(tokens, weight: w, bias: b), Ref.layerNorm(R(tokens), R(w), R(b)),
                    rtol: 1e-4, atol: 1e-4, "layerNorm")
        let hidden = Tensor.randn([200_003], std: 3, rng: &rng)
        expectClose(gelu(hidden), Ref.gelu(R(hidden)), rtol: 1e-5, atol: 5e-7, "gelu")
    }

    /// A batch large enough to be unfolded in several groups gives what each image alone gives,
    /// forward and backward.
    @Test(arguments: [(1, 1), (2, 0)])
    func convolutionGroups(_ stride: Int, _ padding: Int) {
        var rng = RNG(seed: 26)
        let x = Tensor.randn([9, 64, 32, 32], rng: &rng, requiresGrad: true)  // 576 × 1024 columns per image: groups of 7
        let w = Tensor.randn([3, 64, 3, 3], std: 0.1, rng: &rng, requiresGrad: true), b = Tensor.randn([3], rng: &rng, requiresGrad: true)
        let y = conv2d(x, weight: w, bias: b, stride: stride, padding: padding)
        let g = Tensor.randn(y.shape, rng: &rng)
        y.backward(gradient: g)
        let (dx, dw, db) = (x.grad!.scalars, w.grad!.scalars, b.grad!.scalars)
        var ys: [Float] = [], dxs: [Float] = []
        let (dwSum, dbSum) = (Tensor(zeros: w.shape), Tensor(zeros: b.shape))
        let perImage = y.count / 9
        for i in 0..<9 {
            let xi = x.slice(axis: 0, i..<i + 1).detached()
            xi.requiresGrad = true
            w.grad = nil; b.grad = nil
            let yi = conv2d(xi, weight: w, bias: b, stride: stride, padding: padding)
            ys += yi.scalars
            yi.backward(gradient: g.slice(axis: 0, i..<i + 1))
            dxs += xi.grad!.scalars
            for j in 0..<w.count { dwSum.data[j] += w.grad!.data[j] }
            for j in 0..<b.count { dbSum.data[j] += b.grad!.data[j] }
        }
        #expect(y.count == 9 * perImage)
        expectClose(y.scalars, ys.map(Double.init), rtol: 1e-5, atol: 1e-5, "grouped forward")
        expectClose(dx, dxs.map(Double.init), rtol: 1e-5, atol: 1e-5, "grouped dx")
        expectClose(dw, dwSum.scalars.map(Double.init), rtol: 1e-4, atol: 1e-3, "grouped dW")
        expectClose(db, dbSum.scalars.map(Double.init), rtol: 1e-4, atol: 1e-3, "grouped db")
        // And the first image against the Double loop, for one output channel's worth of truth.
        let first = Ref.conv2d(R(x.slice(axis: 0, 0..<1)), R(w), R(b), stride: stride, padding: padding)
        expectClose(Array(y.scalars[0..<perImage]), first.v, rtol: 1e-4, atol: 1e-4, "first image vs naive")
    }

    /// Softmax of a row with a huge spread: the max subtraction keeps it finite and exact.
    @Test func softmaxIsStable() {
        let x = Tensor([1000, 0, -1000, 999], shape: [1, 4])
        let y = softmax(x).scalars
        expectClose(y, [1 / (1 + exp(-1.0)), 0, 0, exp(-1.0) / (1 + exp(-1.0))], rtol: 1e-6, atol: 1e-30, "softmax(±1000)")
        #expect(logSoftmax(x).scalars.allSatisfy { $0.isFinite })
    }

    /// The vectorized exp over its whole range, against Double; GELU's erf through gelu.
    @Test func expAccuracy() {
        let xs = stride(from: -87.0, through: 88.0, by: 0.0137).map { Float($0) }
        let y = exp(Tensor(xs, shape: [xs.count])).scalars
        expectClose(y, xs.map { Foundation.exp(Double($0)) }, rtol: 3e-7, atol: 0, "exp")
        #expect(exp(Tensor([-200, 200], shape: [2])).scalars[0] < 1e-37)
    }
}

@Suite("BLAS kernels") struct BLASTests {
    @Test func decision() {
        #expect(BLAS.kernelDecision(core: "Haswell", cpuHasAVX512: true, coreTypeVariable: nil) == .relaunch)
        #expect(BLAS.kernelDecision(core: "Haswell", cpuHasAVX512: true, coreTypeVariable: "Haswell") == .warnNarrow("Haswell"))
        #expect(BLAS.kernelDecision(core: "Haswell", cpuHasAVX512: false, coreTypeVariable: nil) == .keep)
        #expect(BLAS.kernelDecision(core: "SkylakeX", cpuHasAVX512: true, coreTypeVariable: nil) == .keep)
        #expect(BLAS.kernelDecision(core: "Cooperlake", cpuHasAVX512: true, coreTypeVariable: "Cooperlake") == .keep)
        // Detected, not chosen: another AVX-512 family rounds differently from what `make` runs.
        #expect(BLAS.kernelDecision(core: "Cooperlake", cpuHasAVX512: true, coreTypeVariable: nil) == .relaunch)
    }

    @Test func reportsTheLibrary() {
        #expect(!BLAS.coreName.isEmpty)
        #expect(BLAS.configuration.contains("OpenBLAS"))
        #expect(BLAS.threads >= 1)
    }
}

/// The naive triple loop sgemm must agree with: C (m×n) = op(A)·op(B) + beta·C.
func referenceMatmul(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transA: Bool, transB: Bool) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s: Double = 0
            for p in 0..<k {
                let av = transA ? a[p * m + i] : a[i * k + p]
                let bv = transB ? b[j * k + p] : b[p * n + j]
                s += Double(av) * Double(bv)
            }
            c[i * n + j] = Float(s)
        }
    }
    return c
}
