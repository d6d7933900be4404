// conv2d on oneDNN (ConvolutionEngine.oneDNN): the same checks as im2col's (forward against the
// Double reference, backward against finite differences), on the shapes oneDNN lays out
// differently (1 input channel, 1×1, stride 2, channels not a multiple of the 8 or 16 of its
// blocks, an odd batch split over the cores), and against im2col on the ConvNet teacher's shapes.
import Testing
import Tensor

@Suite("oneDNN convolutions")
struct OneDNNConvolutionTests {
    /// (batch, channels, out channels, size, kernel, stride, padding)
    @Test(arguments: [(3, 1, 4, 7, 3, 1, 1), (2, 3, 5, 6, 1, 2, 0), (5, 6, 16, 7, 3, 2, 1), (1, 17, 3, 5, 3, 1, 0),
                      (3, 2, 3, 5, 5, 1, 2)])
    func matchesTheReference(_ batch: Int, _ channels: Int, _ out: Int, _ size: Int, _ kernel: Int, _ stride: Int, _ padding: Int) {
        var rng = RNG(seed: 61)
        let x = param([batch, channels, size, size], &rng), w = param([out, channels, kernel, kernel], &rng)
        let zeros = R(Tensor(zeros: [out]))
        let problems = ConvolutionEngine.$current.withValue(.oneDNN) {
            checkOp("oneDNN conv2d \(kernel)×\(kernel) s\(stride) p\(padding) C\(channels)→\(out)", [x, w], forwardRtol: 1e-4,
                    op: { conv2d($0[0], weight: $0[1], bias: nil, stride: stride, padding: padding) },
                    reference: { Ref.conv2d($0[0], $0[1], zeros, stride: stride, padding: padding) })
        }
        #expect(problems == [])
    }

    /// The ConvNet teacher's convolutions (stem, 3×3 of each stage, the 1×1 downsamples): oneDNN's
    /// output and both gradients agree with im2col's, and a second backward adds to the first.
    @Test(arguments: [(1, 32, 28, 3, 1, 1), (32, 32, 14, 3, 1, 1), (32, 64, 14, 3, 2, 1), (64, 64, 7, 3, 1, 1),
                      (32, 64, 14, 1, 2, 0), (64, 128, 7, 3, 2, 1), (128, 128, 4, 3, 1, 1)])
    func agreesWithIm2col(_ channels: Int, _ out: Int, _ size: Int, _ kernel: Int, _ stride: Int, _ padding: Int) {
        var rng = RNG(seed: 62)
        let x = Tensor.randn([9, channels, size, size], rng: &rng), w = Tensor.randn([out, channels, kernel, kernel], std: 0.1, rng: &rng)
        func run(_ engine: ConvolutionEngine, backwards: Int) -> (y: [Float], dx: [Float], dw: [Float]) {
            let (xi, wi) = (x.copy(), w.copy())
            (xi.requiresGrad, wi.requiresGrad) = (true, true)
            let y = ConvolutionEngine.$current.withValue(engine) { conv2d(xi, weight: wi, bias: nil, stride: stride, padding: padding) }
            var g = RNG(seed: 63)
            let upstream = Tensor.randn(y.shape, rng: &g)
            for _ in 0..<backwards {
                let again = ConvolutionEngine.$current.withValue(engine) { conv2d(xi, weight: wi, bias: nil, stride: stride, padding: padding) }
                again.backward(gradient: upstream)
            }
            return (y.scalars, xi.grad!.scalars, wi.grad!.scalars)
        }
        let (a, b) = (run(.oneDNN, backwards: 2), run(.im2col, backwards: 2))
        for (name, p, q) in [("output", a.y, b.y), ("d/dx", a.dx, b.dx), ("d/dweight", a.dw, b.dw)] {
            let scale = q.map(abs).max() ?? 1
            let worst = zip(p, q).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * scale, "\(name): oneDNN and im2col differ by \(worst) (largest value \(scale))")
        }
    }

    /// Inside a parallel region (one chunk, as when the bench counts a step's FLOPs) and for an
    /// input without a gradient (the stem's images): the gradients still agree with im2col's, and
    /// the FLOP tally counts the passes that ran.
    @Test(arguments: [(true, true), (false, true), (true, false)])
    func oneChunkAndInputsWithoutGradient(_ insideARegion: Bool, _ inputNeedsGradient: Bool) {
        var rng = RNG(seed: 67)
        let x = Tensor.randn([6, 8, 9, 9], rng: &rng), w = Tensor.randn([16, 8, 3, 3], std: 0.1, rng: &rng)
        func run(_ engine: ConvolutionEngine) -> (dx: [Float]?, dw: [Float], flops: Double) {
            let (xi, wi) = (x.copy(), w.copy())
            (xi.requiresGrad, wi.requiresGrad) = (inputNeedsGradient, true)
            let step = {
                let y = ConvolutionEngine.$current.withValue(engine) { conv2d(xi, weight: wi, bias: nil, stride: 1, padding: 1) }
                y.backward(gradient: y)
            }
            let flops = insideARegion ? MatrixFLOPs.counting(step).flops : { step(); return 0 }()
            return (xi.grad?.scalars, wi.grad!.scalars, flops)
        }
        let (a, b) = (run(.oneDNN), run(.im2col))
        #expect((a.dx == nil) == !inputNeedsGradient)
        for (name, p, q) in [("d/dx", a.dx ?? [], b.dx ?? []), ("d/dweight", a.dw, b.dw)] {
            let worst = zip(p, q).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5 * (q.map(abs).max() ?? 1), "\(name): oneDNN and im2col differ by \(worst)")
        }
        #expect(a.flops == b.flops)
        let passes = inputNeedsGradient ? 3 : 2
        let expected = Double(2 * 6 * 16 * 81 * 72 * passes)  // 2·images·O·Ho·Wo·C·kh·kw per pass
        if insideARegion { #expect(a.flops == expected) }
    }

    /// The same inputs give the same bits, whatever the cores did between.
    @Test func isDeterministic() {
        var rng = RNG(seed: 64)
        let x = Tensor.randn([7, 32, 14, 14], rng: &rng), w = Tensor.randn([64, 32, 3, 3], std: 0.1, rng: &rng)
        func run() -> [Float] {
            let (xi, wi) = (x.copy(), w.copy())
            (xi.requiresGrad, wi.requiresGrad) = (true, true)
            let y = ConvolutionEngine.$current.withValue(.oneDNN) { conv2d(xi, weight: wi, bias: nil, stride: 2, padding: 1) }
            y.backward(gradient: y)
            return y.scalars + xi.grad!.scalars + wi.grad!.scalars
        }
        let first = run()
        _ = matmul(Tensor.randn([300, 300], rng: &rng), Tensor.randn([300, 300], rng: &rng))
        #expect(run() == first)
    }
}

@Suite("fused evaluation convolutions")
struct FusedConvolutionTests {
    /// conv → BatchNorm (running statistics) → + residual → ReLU as one kernel agrees with the ops
    /// run one by one, on both engines, with and without the residual and the ReLU.
    @Test(arguments: [(ConvolutionEngine.oneDNN, true, true), (.oneDNN, false, true), (.oneDNN, false, false), (.im2col, true, true)])
    func agreesWithTheOpsOneByOne(_ engine: ConvolutionEngine, _ withResidual: Bool, _ applyReLU: Bool) {
        var rng = RNG(seed: 65)
        let x = Tensor.randn([5, 16, 9, 9], rng: &rng), w = Tensor.randn([24, 16, 3, 3], std: 0.1, rng: &rng)
        let (gamma, beta) = (Tensor.randn([24], rng: &rng), Tensor.randn([24], rng: &rng))
        let (mean, variance) = (Tensor.randn([24], std: 0.3, rng: &rng), Tensor.uniform([24], low: 0.5, high: 2, rng: &rng))
        let residual = withResidual ? Tensor.randn([5, 24, 5, 5], rng: &rng) : nil
        let (fused, expected) = withNoGrad {
            let fused = ConvolutionEngine.$current.withValue(engine) {
                convBatchNormForInference(x, weight: w, stride: 2, padding: 1, bnWeight: gamma, bnBias: beta, runningMean: mean,
                                          runningVar: variance, residual: residual, relu: applyReLU)
            }
            var y = batchNorm2d(conv2d(x, weight: w, bias: nil, stride: 2, padding: 1), weight: gamma, bias: beta,
                                runningMean: mean, runningVar: variance, training: false)
            if let residual { y = y + residual }
            return (fused, applyReLU ? relu(y) : y)
        }
        #expect(fused.shape == expected.shape)
        let worst = zip(fused.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * (expected.scalars.map(abs).max() ?? 1), "fused and one by one differ by \(worst)")
        if applyReLU { #expect(fused.scalars.allSatisfy { $0 >= 0 }) }
    }

    /// ResNet's stem: a 1-channel image, the fused convolution, then its 2×2 max-pool inside the
    /// kernel (oneDNN) or after it (im2col), against the ops one by one; channel counts that fill
    /// oneDNN's blocks of 16 and that do not, with a residual or not, over two cores' runs.
    @Test(arguments: [(ConvolutionEngine.oneDNN, 16, false), (.oneDNN, 8, false), (.oneDNN, 20, true), (.im2col, 8, true)])
    func stemWithItsMaxPool(_ engine: ConvolutionEngine, _ channels: Int, _ withResidual: Bool) {
        var rng = RNG(seed: 69)
        let x = Tensor.randn([5, 1, 12, 10], rng: &rng), w = Tensor.randn([channels, 1, 3, 3], std: 0.3, rng: &rng)
        let (gamma, beta) = (Tensor.randn([channels], rng: &rng), Tensor.randn([channels], rng: &rng))
        let (mean, variance) = (Tensor.randn([channels], std: 0.3, rng: &rng), Tensor.uniform([channels], low: 0.5, high: 2, rng: &rng))
        let residual = withResidual ? Tensor.randn([5, channels, 12, 10], rng: &rng) : nil
        let (fused, expected) = withNoGrad {
            let fused = ConvolutionEngine.$current.withValue(engine) {
                convBatchNormForInference(x, weight: w, stride: 1, padding: 1, bnWeight: gamma, bnBias: beta, runningMean: mean,
                                          runningVar: variance, residual: residual, relu: true, maxPool: 2)
            }
            var y = batchNorm2d(conv2d(x, weight: w, bias: nil, stride: 1, padding: 1), weight: gamma, bias: beta,
                                runningMean: mean, runningVar: variance, training: false)
            if let residual { y = y + residual }
            return (fused, maxPool2d(relu(y), kernel: 2))
        }
        #expect(fused.shape == [5, channels, 6, 5] && expected.shape == fused.shape)
        let worst = zip(fused.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-5 * (expected.scalars.map(abs).max() ?? 1), "fused and one by one differ by \(worst)")
    }
}
