// Optimizer steps worked out by hand, schedules against their formulas, clipping, and the
// weight-decay split.
import Testing
import Tensor

@Suite("optimizers") struct OptimizerTests {
    /// Two AdamW steps, lr 0.1, λ 0.01, β (0.9, 0.999), ε 1e-8, on p = (1, −2):
    ///
    /// step 1, g = (0.5, 0.1): p ← 0.999·p = (0.999, −1.998); m = 0.1g = (0.05, 0.01);
    ///   v = 0.001g² = (2.5e-4, 1e-5); m/(1−β₁) = g, √(v/(1−β₂)) = |g|, so p moves by
    ///   lr·g/(|g| + ε) ≈ lr·sign(g):  p = (0.899, −2.098).
    /// step 2, g = (−0.5, 0.3): p ← 0.999·p = (0.898101, −2.095902);
    ///   m = 0.9m + 0.1g = (−0.005, 0.039); v = 0.999v + 0.001g² = (4.9975e-4, 9.999e-5);
    ///   1−β₁² = 0.19, 1−β₂² = 0.001999; √(v/0.001999) = (0.5, 0.2236515);
    ///   p −= 0.1/0.19 · m/(√… + ε):  p = (0.898101 + 0.0052632, −2.095902 − 0.0917781)
    ///                                   = (0.9033642, −2.1876801).
    @Test func adamWByHand() {
        let p = Tensor([1, -2], shape: [2], requiresGrad: true)
        let optimizer = AdamW([p], learningRate: 0.1, weightDecay: 0.01)
        p.grad = Tensor([0.5, 0.1], shape: [2])
        optimizer.step()
        expectClose(p.scalars, [0.899000002, -2.09799999], rtol: 1e-6, atol: 1e-7, "AdamW step 1")
        p.grad = Tensor([-0.5, 0.3], shape: [2])
        optimizer.step()
        expectClose(p.scalars, [0.9033641598, -2.1876800978], rtol: 1e-6, atol: 1e-7, "AdamW step 2")
        #expect(optimizer.steps == [2])
    }

    /// A group without decay moves by the Adam step alone; a parameter without a gradient is left
    /// untouched — not even decayed — and its step count does not advance (PyTorch semantics,
    /// which DINO's frozen last layer relies on).
    @Test func adamWGroupsAndSkippedParameters() {
        let decayed = Tensor([1], shape: [1], requiresGrad: true)
        let plain = Tensor([1], shape: [1], requiresGrad: true)
        let frozen = Tensor([1], shape: [1], requiresGrad: true)
        let optimizer = AdamW([ParameterGroup([decayed, frozen], weightDecay: true), ParameterGroup([plain], weightDecay: false)],
                              learningRate: 0.1, weightDecay: 0.5)
        decayed.grad = Tensor([2], shape: [1])
        plain.grad = Tensor([2], shape: [1])
        optimizer.step()
        expectClose(decayed.scalars, [1 * (1 - 0.1 * 0.5) - 0.1], rtol: 1e-6, atol: 1e-7, "decayed")
        expectClose(plain.scalars, [1 - 0.1], rtol: 1e-6, atol: 1e-7, "not decayed")
        #expect(frozen.scalars == [1])
        #expect(optimizer.steps == [1, 0, 1])
    }

    /// A group's learning-rate scale multiplies both its step and its decay (PyTorch's per-group
    /// lr): AdamW's first step moves p by lr·scale, decayed by lr·scale·λ; SGD's by lr·scale·g.
    @Test func groupLearningRateScale() {
        let base = Tensor([1], shape: [1], requiresGrad: true), scaled = Tensor([1], shape: [1], requiresGrad: true)
        let adam = AdamW([ParameterGroup([base], weightDecay: true), ParameterGroup([scaled], weightDecay: true, learningRateScale: 10)],
                         learningRate: 0.01, weightDecay: 0.5)
        base.grad = Tensor([2], shape: [1])
        scaled.grad = Tensor([2], shape: [1])
        adam.step()
        expectClose(base.scalars, [1 * (1 - 0.01 * 0.5) - 0.01], rtol: 1e-6, atol: 1e-7, "base group")
        expectClose(scaled.scalars, [1 * (1 - 0.1 * 0.5) - 0.1], rtol: 1e-6, atol: 1e-7, "scaled group")
        let p = Tensor([1], shape: [1], requiresGrad: true)
        let sgd = SGD([ParameterGroup([p], weightDecay: false, learningRateScale: 3)], learningRate: 0.1)
        p.grad = Tensor([0.5], shape: [1])
        sgd.step()
        expectClose(p.scalars, [1 - 0.3 * 0.5], rtol: 1e-6, atol: 1e-7, "SGD scaled group")
    }

    /// SGD, lr 0.1, μ 0.9, g = 0.5 twice, from p = 1:
    /// plain momentum: b = 0.5, p = 0.95; b = 0.9·0.5 + 0.5 = 0.95, p = 0.855.
    /// Nesterov: p −= 0.1·(0.5 + 0.9·0.5) → 0.905; b = 0.95, p −= 0.1·(0.5 + 0.9·0.95) → 0.7695.
    @Test func sgdByHand() {
        for (nesterov, expected) in [(false, [0.95, 0.855]), (true, [0.905, 0.7695])] {
            let p = Tensor([1], shape: [1], requiresGrad: true)
            let optimizer = SGD([ParameterGroup([p], weightDecay: true)], learningRate: 0.1, momentum: 0.9, nesterov: nesterov)
            for e in expected {
                p.grad = Tensor([0.5], shape: [1])
                optimizer.step()
                expectClose(p.scalars, [e], rtol: 1e-6, atol: 1e-7, "SGD nesterov=\(nesterov)")
            }
        }
        let q = Tensor([2], shape: [1], requiresGrad: true)
        let plain = SGD([q], learningRate: 0.5, weightDecay: 0.1)
        q.grad = Tensor([1], shape: [1])
        plain.step()
        expectClose(q.scalars, [2 - 0.5 * (1 + 0.1 * 2)], rtol: 1e-6, atol: 1e-7, "SGD without momentum, with L2")
    }

    @Test func zeroGradDropsGradients() {
        let p = Tensor([1], shape: [1], requiresGrad: true)
        let optimizer = SGD([p], learningRate: 1)
        (p * 3).sum().backward()
        optimizer.zeroGrad()
        #expect(p.grad == nil)
    }

    // MARK: schedules

    /// base 1 → final 0 over 2 epochs of 2 iterations with 1 warmup epoch from 0:
    /// warmup linspace(0, 1, 2) = (0, 1); then 0.5(1 + cos(πi/2)) for i = 0, 1 = (1, 0.5).
    @Test func cosineScheduleByHand() {
        let s = cosineSchedule(base: 1, final: 0, epochs: 2, iterationsPerEpoch: 2, warmupEpochs: 1)
        expectClose(s, [0, 1, 1, 0.5], rtol: 1e-6, atol: 1e-7, "cosine schedule")
    }

    /// DINO's teacher momentum: 0.996 at the first iteration, rising monotonically towards 1.
    @Test func teacherMomentumSchedule() {
        let s = cosineSchedule(base: 0.996, final: 1, epochs: 10, iterationsPerEpoch: 50)
        #expect(s.count == 500)
        #expect(s[0] == 0.996)
        #expect(zip(s, s.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(s.last! > 0.99999 && s.last! < 1)  // the official formula stops one step short …
        // … reachFinal ends exactly at 1: 1 − 0.002·(1 + cos(πi/2)) for i = 0, 1, 2.
        expectClose(cosineSchedule(base: 0.996, final: 1, epochs: 1, iterationsPerEpoch: 3, reachFinal: true),
                    [0.996, 0.998, 1], rtol: 1e-7, atol: 1e-7, "momentum reaching 1")
    }

    @Test func linearWarmupAndLinspace() {
        expectClose(linearWarmupSchedule(start: 0.04, end: 0.07, warmupSteps: 3, totalSteps: 5),
                    [0.04, 0.055, 0.07, 0.07, 0.07], rtol: 1e-6, atol: 1e-7, "teacher temperature")
        #expect(linspace(2, 3, count: 1) == [2])
        #expect(linspace(2, 3, count: 0) == [])
    }

    // MARK: clipping and groups

    @Test func clipping() {
        let a = Tensor([0, 0], shape: [2], requiresGrad: true), b = Tensor([0], shape: [1], requiresGrad: true)
        a.grad = Tensor([3, 4], shape: [2])
        b.grad = Tensor([0], shape: [1])
        let norm = clipGradNorm([a, b], maxNorm: 1)
        #expect(norm == 5)
        expectClose(a.grad!.scalars, [0.6, 0.8], rtol: 1e-5, atol: 1e-6, "global clip")

        a.grad = Tensor([3, 4], shape: [2])
        b.grad = Tensor([0.1], shape: [1])
        let norms = clipGradientsPerParameter([a, b], maxNorm: 1)
        expectClose(norms, [5, 0.1], rtol: 1e-6, atol: 1e-7, "norms before clipping")
        expectClose(a.grad!.scalars + b.grad!.scalars, [0.6, 0.8, 0.1], rtol: 1e-5, atol: 1e-6, "per-parameter clip")
    }

    @Test func weightDecaySplitFollowsDINOAndTimm() {
        let named: [(name: String, tensor: Tensor)] = [
            ("blocks.0.attn.qkv.weight", Tensor(zeros: [6, 2])), ("blocks.0.attn.qkv.bias", Tensor(zeros: [6])),
            ("norm.weight", Tensor(zeros: [2])), ("pos_embed", Tensor(zeros: [1, 5, 2])), ("cls_token", Tensor(zeros: [1, 1, 2])),
        ]
        let dino = ParameterGroup.weightDecaySplit(named)  // DINO: only biases and 1-D tensors are exempt
        #expect(dino[0].parameters.map(\.shape) == [[6, 2], [1, 5, 2], [1, 1, 2]])
        #expect(dino[1].parameters.map(\.shape) == [[6], [2]])
        let timm = ParameterGroup.weightDecaySplit(named, noDecay: ["pos_embed", "cls_token"])
        #expect(timm[0].parameters.map(\.shape) == [[6, 2]])
        #expect(dino[0].weightDecay && !dino[1].weightDecay)
    }
}
