// The models: shapes for every prefix-token choice and other image sizes, position-embedding
// interpolation, parameter names exactly as timm's state dicts, no tensor hidden from the
// parameter lists, checkpoints.
import Foundation
import Testing
import NN
import Tensor

@Suite("models") struct ModelTests {
    func vit(_ prefix: ViTConfig.PrefixTokens = .cls, depth: Int = 2, classes: Int = 10, seed: UInt64 = 0) -> VisionTransformer {
        var rng = RNG(seed: seed)
        return try! VisionTransformer(ViTConfig(patchSize: 4, width: 32, depth: depth, heads: 2, classes: classes, prefix: prefix), rng: &rng)
    }

    @Test(arguments: [ViTConfig.PrefixTokens.cls, .clsAndDist, .twoCls])
    func outputShapes(_ prefix: ViTConfig.PrefixTokens) {
        var rng = RNG(seed: 1)
        let model = vit(prefix)
        for size in [28, 12, 32] {  // the training grid 7×7, then 3×3 and 8×8 (interpolated positions)
            let out = model(Tensor.randn([3, 1, size, size], rng: &rng), collectBlockTokens: true, collectAttention: true)
            let tokens = prefix.count + (size / 4) * (size / 4)
            #expect(out.logits?.shape == [3, 10])
            #expect(out.features.shape == [3, 32])
            #expect(out.blockTokens.map(\.shape) == [[3, tokens, 32], [3, tokens, 32]])
            #expect(out.lastAttention?.shape == [3, 2, tokens, tokens])
            #expect(out.secondLogits?.shape == (prefix == .cls ? nil : [3, 10]))
            #expect(out.secondFeatures?.shape == (prefix == .cls ? nil : [3, 32]))
        }
        let rows = model(Tensor.randn([2, 1, 28, 28], rng: &rng), collectAttention: true).lastAttention!
        let sums = rows.sum(axis: -1).scalars
        #expect(sums.allSatisfy { abs($0 - 1) < 1e-5 })  // attention rows are distributions
    }

    @Test func withoutAHeadTheOutputIsTheFeatures() {
        var rng = RNG(seed: 2)
        let out = vit(classes: 0)(Tensor.randn([2, 1, 28, 28], rng: &rng))
        #expect(out.logits == nil && out.features.shape == [2, 32])
    }

    /// On the training grid the learned embeddings are used as they are; resizing a grid to its
    /// own size is the identity; other grids keep the prefix positions untouched.
    @Test func positionEmbeddingInterpolation() {
        let model = vit(.clsAndDist)
        #expect(model.positionEmbedding(gridHeight: 7, gridWidth: 7).scalars == model.posEmbed.scalars)
        let grid = model.posEmbed.slice(axis: 1, 2..<51).reshaped(7, 7, 32).permuted(2, 0, 1)
        let same = bicubicResize(grid, height: 7, width: 7)
        #expect(zip(same.scalars, grid.scalars).allSatisfy { abs($0 - $1) < 1e-6 })
        let resized = model.positionEmbedding(gridHeight: 3, gridWidth: 5)
        #expect(resized.shape == [1, 2 + 15, 32])
        #expect(Array(resized.scalars[0..<64]) == Array(model.posEmbed.scalars[0..<64]))
    }

    /// timm 1.x: VisionTransformer(img_size=28, patch_size=4, in_chans=1, num_classes=10,
    /// embed_dim=32, depth=2, num_heads=2).state_dict().keys(), in order.
    static let timmViTNames = ["cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias"]
        + (0..<2).flatMap { i in ["norm1.weight", "norm1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                                  "norm2.weight", "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"].map { "blocks.\(i).\($0)" } }
        + ["norm.weight", "norm.bias", "head.weight", "head.bias"]

    @Test func parameterNamesMatchTimm() {
        #expect(vit().namedParameters().map(\.name) == Self.timmViTNames)
        // timm's VisionTransformerDistilled: dist_token after pos_embed, head_dist after head.
        let distilled = vit(.clsAndDist).namedParameters().map(\.name)
        #expect(Array(distilled.prefix(3)) == ["cls_token", "pos_embed", "dist_token"])
        #expect(Array(distilled.suffix(4)) == ["head.weight", "head.bias", "head_dist.weight", "head_dist.bias"])
        #expect(vit(.clsAndDist).namedParameters().first { $0.name == "dist_token" }?.tensor.shape == [1, 1, 32])
        // timm's ResNet(BasicBlock, …) state dict, minus num_batches_tracked.
        var rng = RNG(seed: 0)
        let convnet = ConvNet(ConvNetConfig(widths: [4, 8, 16]), rng: &rng).stateDict().map(\.name)
        #expect(Array(convnet.prefix(12)) == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                                               "layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias",
                                               "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var", "layer1.0.conv2.weight", "layer1.0.bn2.weight"])
        #expect(convnet.contains("layer2.0.downsample.0.weight") && convnet.contains("layer3.0.downsample.1.running_var"))
        #expect(Array(convnet.suffix(2)) == ["fc.weight", "fc.bias"])
    }

    /// Every tensor and sub-module a model stores is in its parameter, buffer or child lists —
    /// walked with Mirror, so a new field that is forgotten there fails here. Likewise a stored
    /// generator must be the module's `generator`, or a training checkpoint would miss it.
    @Test func noTensorIsHiddenFromTheLists() {
        var rng = RNG(seed: 3)
        let models: [any Module] = [vit(.clsAndDist), vit(.twoCls), ConvNet(ConvNetConfig(widths: [4, 8, 16]), rng: &rng)]
        for model in models {
            for module in model.modules {
                var tensors: [ObjectIdentifier] = [], children: [ObjectIdentifier] = [], generators = 0
                func collect(_ value: Any) {
                    if value is RNG { generators += 1; return }
                    if let t = value as? Tensor { tensors.append(ObjectIdentifier(t)); return }
                    if let m = value as? any Module { children.append(ObjectIdentifier(m)); return }
                    for child in Mirror(reflecting: value).children { collect(child.value) }
                }
                for child in Mirror(reflecting: module).children { collect(child.value) }
                let listed = Set((module.ownParameters + module.ownBuffers).map { ObjectIdentifier($0.tensor) })
                #expect(Set(tensors) == listed, "\(type(of: module)) stores a tensor it does not list")
                #expect(Set(children) == Set(module.children.map { ObjectIdentifier($0.module) }),
                        "\(type(of: module)) stores a module it does not list")
                #expect(generators == (module is any RandomizedModule ? 1 : 0), "\(type(of: module)) stores a generator it does not expose")
            }
        }
    }

    @Test func everyParameterReceivesAGradient() {
        var rng = RNG(seed: 4)
        for model in [vit(.clsAndDist, depth: 2)] {
            let out = model(Tensor.randn([2, 1, 28, 28], rng: &rng))
            (crossEntropy(out.logits!, labels: [1, 2]) + crossEntropy(out.secondLogits!, labels: [3, 4])).backward()
            let missing = model.namedParameters().filter { $0.tensor.grad == nil }.map(\.name)
            #expect(missing.isEmpty, "no gradient for \(missing)")
        }
        for stemPool in [false, true] {
            let convnet = ConvNet(ConvNetConfig(widths: [4, 8, 16], stemPool: stemPool), rng: &rng)
            let logits = convnet(Tensor.randn([4, 1, 28, 28], rng: &rng))
            #expect(logits.shape == [4, 10])
            crossEntropy(logits, labels: [0, 1, 2, 3]).backward()
            #expect(convnet.namedParameters().allSatisfy { $0.tensor.grad != nil })
        }
    }

    @Test func checkpointsRoundTrip() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vit-\(UUID().uuidString).safetensors")
        let a = vit(.clsAndDist, seed: 1), b = vit(.clsAndDist, seed: 2)
        var rng = RNG(seed: 5)
        let x = Tensor.randn([2, 1, 28, 28], rng: &rng)
        a.setTraining(false); b.setTraining(false)
        #expect(a(x).logits!.scalars != b(x).logits!.scalars)
        try a.save(to: url, metadata: ["note": "test"])
        #expect(try b.load(from: url) == ["note": "test"])
        #expect(a(x).logits!.scalars == b(x).logits!.scalars)
        // A checkpoint of another architecture is refused with the names that do not fit.
        #expect(throws: CheckpointError.self) { try vit(.cls).load(from: url) }
        do { try vit(.cls).load(from: url) } catch { #expect("\(error)".contains("unexpected dist_token")) }
        let wider = try! { var r = RNG(seed: 0); return try VisionTransformer(ViTConfig(patchSize: 4, width: 64, depth: 2, heads: 2, prefix: .clsAndDist), rng: &r) }()
        do { try wider.load(from: url); Issue.record("loaded a checkpoint of the wrong width") } catch {
            #expect("\(error)".contains("has shape [1, 1, 32], expected [1, 1, 64]"))
        }
    }

    /// The papers count multiply-adds and call them FLOPs: DeiT Table 1 lists 1.3, 4.6 and 17.6
    /// for DeiT-Ti/S/B at 224². Our count is 2 FLOPs per multiply-add, so half of it must round
    /// to theirs; and halving the patch size multiplies the work by at least 4 (4× the tokens).
    @Test func flopCountsMatchDeiTsTable() {
        for (config, paper) in [(ViTConfig.deitTi16, 1.3), (.vitS16, 4.6), (.vitB16, 17.6)] {
            let macs = config.forwardFLOPs() / 2e9
            #expect(abs(macs - paper) < 0.05, "\(config.width)-wide ViT: \(macs) GMACs, DeiT Table 1 says \(paper)")
        }
        #expect(ViTConfig.vitS8.forwardFLOPs() > 4 * ViTConfig.vitS16.forwardFLOPs())
    }

    /// The shape formulas against the products a model really runs (MatrixFLOPs counts every
    /// sgemm): a forward without a graph, and a training step (forward, cross-entropy, backward),
    /// per image, for a small DeiT⚗ ViT and two small ConvNets. Exact: both count 2 per multiply-add.
    @Test func flopFormulasCountTheProductsAModelRuns() throws {
        var rng = RNG(seed: 8)
        let batch = 3
        let x = Tensor.randn([batch, 1, 28, 28], rng: &rng)
        let labels = (0..<batch).map { $0 % 10 }
        func perImage(_ body: () -> Void) -> Double { MatrixFLOPs.counting(body).flops / Double(batch) }
        let vitConfig = ViTConfig(patchSize: 7, width: 16, depth: 2, heads: 2, prefix: .clsAndDist)
        let vit = try VisionTransformer(vitConfig, rng: &rng)
        vit.setTraining(false)
        #expect(perImage { withNoGrad { _ = vit(x) } } == vitConfig.forwardFLOPs())
        vit.setTraining(true)
        let vitStep = perImage { let out = vit(x); (crossEntropy(out.logits!, labels: labels) + crossEntropy(out.secondLogits!, labels: labels)).backward() }
        #expect(vitStep == vitConfig.trainingStepFLOPs(), "\(vitStep) against \(vitConfig.trainingStepFLOPs())")
        // The ConvNet on both engines (on oneDNN its evaluation runs fused kernels, the stem's pool inside).
        for engine in [ConvolutionEngine.im2col, .oneDNN] {
            for config in [ConvNetConfig(widths: [4, 8, 16]), ConvNetConfig(widths: [4, 8], blocksPerStage: 2, stemPool: true)] {
                let net = ConvNet(config, rng: &rng)
                net.setTraining(false)
                let forward = ConvolutionEngine.$current.withValue(engine) { perImage { withNoGrad { _ = net(x) } } }
                #expect(forward == config.forwardFLOPs(), "\(config) on \(engine)")
                net.setTraining(true)
                let step = ConvolutionEngine.$current.withValue(engine) { perImage { crossEntropy(net(x), labels: labels).backward() } }
                #expect(step == config.trainingStepFLOPs(), "\(config) on \(engine): \(step) against \(config.trainingStepFLOPs())")
            }
        }
    }

    @Test func impossibleConfigurationsAreRefused() {
        var rng = RNG(seed: 0)
        #expect(throws: CheckpointError.self) { try VisionTransformer(ViTConfig(patchSize: 5), rng: &rng) }
        do { _ = try VisionTransformer(ViTConfig(patchSize: 5), rng: &rng) } catch {
            #expect("\(error)".contains("patch size 5 does not divide the image size 28"))
        }
        #expect(throws: CheckpointError.self) { try VisionTransformer(ViTConfig(width: 30, heads: 4), rng: &rng) }
    }

    @Test func batchNormTrainsOnBatchStatisticsAndEvaluatesOnRunningOnes() {
        var rng = RNG(seed: 6)
        let convnet = ConvNet(ConvNetConfig(widths: [4, 8, 16]), rng: &rng)
        let x = Tensor.randn([8, 1, 28, 28], rng: &rng)
        let before = convnet.bn1.runningMean.scalars
        let trained = convnet(x).scalars
        #expect(convnet.bn1.runningMean.scalars != before)  // the forward in training updated them
        convnet.setTraining(false)
        let evaluated = convnet(x).scalars
        #expect(evaluated != trained)
        #expect(convnet(x).scalars == evaluated)  // evaluation changes nothing
        #expect(convnet(x).shape == [8, 10])
    }
}

/// The ConvNet's evaluation forward without a graph fuses each convolution with its BatchNorm on
/// oneDNN: its logits agree with the layers run one by one (on im2col), stem pool or not.
@Test(arguments: [false, true])
func convNetFusedEvaluationAgrees(_ stemPool: Bool) {
    var rng = RNG(seed: 66)
    let model = ConvNet(ConvNetConfig(widths: [16, 32, 64], stemPool: stemPool), rng: &rng)
    for bn in model.modules.compactMap({ $0 as? BatchNorm2d }) {  // statistics as after training
        bn.runningMean.assign(Tensor.randn(bn.runningMean.shape, std: 0.2, rng: &rng))
        bn.runningVar.assign(Tensor.uniform(bn.runningVar.shape, low: 0.5, high: 2, rng: &rng))
        bn.weight.assign(Tensor.uniform(bn.weight.shape, low: 0.5, high: 1.5, rng: &rng))
    }
    model.setTraining(false)
    let x = Tensor.randn([6, 1, 28, 28], rng: &rng)
    let fused = withNoGrad { ConvolutionEngine.$current.withValue(.oneDNN) { model(x) } }
    let oneByOne = withNoGrad { ConvolutionEngine.$current.withValue(.im2col) { model(x) } }
    let worst = zip(fused.scalars, oneByOne.scalars).map { abs($0 - $1) }.max() ?? 0
    #expect(worst <= 1e-4 * max(1, oneByOne.scalars.map(abs).max() ?? 1), "fused and one by one differ by \(worst)")
}

/// A training step of the ConvNet (BatchNorm on batch statistics) gives the same gradients on
/// oneDNN as on im2col, to rounding.
@Test func convNetTrainingGradientsAgreeAcrossEngines() {
    var rng = RNG(seed: 67)
    let config = ConvNetConfig(widths: [16, 32, 64], stemPool: true)
    let x = Tensor.randn([6, 1, 28, 28], rng: &rng)
    let labels = (0..<6).map { $0 % 10 }
    func gradients(_ engine: ConvolutionEngine) -> [[Float]] {
        var r = RNG(seed: 68)
        let model = ConvNet(config, rng: &r)
        ConvolutionEngine.$current.withValue(engine) { crossEntropy(model(x), labels: labels).backward() }
        return model.parameters.map { $0.grad!.scalars }
    }
    let (a, b) = (gradients(.oneDNN), gradients(.im2col))
    for (i, (p, q)) in zip(a, b).enumerated() {
        let worst = zip(p, q).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-4 * max(1e-3, q.map(abs).max() ?? 1), "parameter \(i): oneDNN and im2col differ by \(worst)")
    }
}
