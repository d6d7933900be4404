// The model cases of torch_reference.py (beside this file), same names and shapes, so the two outputs
// sit side by side: ViT forwards at 224² (3 channels, 1000 classes, random weights), the small-ViT
// AdamW step, a DINO step built from the core's pieces, and `distillation`'s own student step and
// ConvNet teacher (Lab's presets and objective, so the bench times what the experiment runs).
import Data
import Foundation
import Lab
import NN
import Tensor

/// Images per second of a gradient-free forward pass; repeats fill about three seconds, as the
/// PyTorch script's do. The detail line gives the achieved GFLOP/s against `sgemm` of this run.
@MainActor
func forwardCase(_ name: String, _ config: ViTConfig, batch: Int, sgemm: Double) -> Double {
    var rng = RNG(seed: 1)
    let model = try! VisionTransformer(config, rng: &rng)
    model.setTraining(false)
    let x = Tensor.randn([batch, config.channels, config.imageSize, config.imageSize], rng: &rng)
    let t = timeRepeatedly(atLeast: 3, seconds: 3) { withNoGrad { _ = model(x) } }
    let ips = Double(batch) / t.median
    let gflops = config.forwardFLOPs() * ips / 1e9
    emit(name, ips, "img=\(config.imageSize) patch=\(config.patchSize) dim=\(config.width) depth=\(config.depth) heads=\(config.heads) batch=\(batch); "
         + String(format: "%.1f GFLOP/s = %.0f%% of sgemm-1024; spread %.2f–%.2f img/s", gflops, 100 * gflops / sgemm,
                  Double(batch) / t.high, Double(batch) / t.low))
    return ips
}

/// Timed steps (median of repeats filling ~3 s) of `images` images each, and the FLOPs of one,
/// counted from the products it runs (MatrixFLOPs, which a test checks against NN/Flops.swift's
/// shape formulas on small models).
struct StepRate {
    let median: Double, low: Double, high: Double  // steps per second
    let flops: Double                              // per step
    let images: Double

    init(images: Int, _ step: () -> Void) {
        flops = MatrixFLOPs.counting(step).flops
        let t = timeRepeatedly(warmup: 1, atLeast: 5, seconds: 3, step)
        (median, low, high, self.images) = (1 / t.median, 1 / t.high, 1 / t.low, Double(images))
    }

    var imagesPerSecond: Double { images * median }

    /// "G GFLOP/img, R GFLOP/s = P% of sgemm-1024; spread low–high img/s".
    func detail(sgemm: Double) -> String {
        let rate = flops * median / 1e9
        return String(format: "%.3f GFLOP/img, %.1f GFLOP/s = %.0f%% of sgemm-1024; spread %.0f–%.0f img/s",
                      flops / images / 1e9, rate, 100 * rate / sgemm, images * low, images * high)
    }
}

/// The small-ViT AdamW training step: 28², patch 4, width 128, depth 6, 4 heads, batch 256.
@MainActor
func nanoTrainCase(sgemm: Double) {
    var rng = RNG(seed: 2)
    let config = ViTConfig(patchSize: 4, width: 128, depth: 6, heads: 4)
    let model = try! VisionTransformer(config, rng: &rng)
    let optimizer = AdamW(model.parameters, learningRate: 1e-3)
    let x = Tensor.randn([256, 1, 28, 28], rng: &rng)
    let labels = (0..<256).map { _ in rng.int(below: 10) }
    let r = StepRate(images: 256) {
        optimizer.zeroGrad()
        crossEntropy(model.logits(x), labels: labels).backward()
        optimizer.step()
    }
    emit("nano-train", r.imagesPerSecond, "AdamW step, 28x28 patch=4 dim=128 depth=6 heads=4 batch=256; " + r.detail(sgemm: sgemm))
}

/// The DINO step of torch_reference.py: student and EMA teacher ViTs (patch 4, width 128, depth
/// 6) with DINO's head 128 → 256 → 256 → 64 → L2-normalize → weight-normalized 64 → 1024 (NN's
/// DINONetwork); 2 global 28² and 6 local 12² crops; NN's DINOLoss (teacher τ 0.04 after
/// centering, student τ 0.1, the 14 cross-view pairs); AdamW; EMA 0.996. Crops of one size go
/// through the backbone as one batch, as DINO's MultiCropWrapper does.
@MainActor
func nanoDINOCase(batch: Int = 128, outDim: Int = 1024, localCrops: Int = 6, sgemm: Double) {
    var rng = RNG(seed: 3)
    let backbone = ViTConfig(patchSize: 4, width: 128, depth: 6, heads: 4, classes: 0)
    let head = DINOHeadConfig(outDim: outDim, hiddenDim: 256, bottleneckDim: 64)
    let student = try! DINONetwork(backbone: VisionTransformer(backbone, rng: &rng), head: head, rng: &rng)
    let teacher = try! DINONetwork(backbone: VisionTransformer(backbone, rng: &rng), head: head, rng: &rng)
    for (t, s) in zip(teacher.parameters, student.parameters) { t.assign(s); t.requiresGrad = false }
    let optimizer = AdamW(student.parameters, learningRate: 5e-4)
    let loss = try! DINOLoss(outDim: outDim)
    let globals = Tensor.randn([batch, 1, 28, 28], rng: &rng)
    let locals = Tensor.randn([batch, 1, 12, 12], rng: &rng)
    let crops = [globals, globals] + Array(repeating: locals, count: localCrops)

    let r = StepRate(images: batch) {
        let t = withNoGrad { teacher(Array(crops.prefix(2))).outputs }       // (2B, K)
        let (value, _) = loss(student: student(crops).outputs, teacher: t, teacherTemperature: 0.04)
        optimizer.zeroGrad()
        value.backward()
        optimizer.step()
        for (pt, ps) in zip(teacher.parameters, student.parameters) { pt.interpolate(towards: ps, keeping: 0.996) }
        loss.updateCenter(teacher: t)
    }
    emit("nano-dino", r.imagesPerSecond,
         "DINO step, 2x28x28 + \(localCrops)x12x12 crops, patch=4 dim=128 depth=6 heads=4 out_dim=\(outDim) batch=\(batch); "
         + r.detail(sgemm: sgemm))
}

/// distillation's default step (`deit-student-step` of torch_reference.py): the DeiT⚗ student
/// (patch 7, width 64, depth 4, 2 heads, class and distillation tokens) with its objective, the
/// ConvNet teacher's forward on the same batch inside it, then AdamW; batch 128.
@MainActor
func deitStudentCase(batch: Int = 128, sgemm: Double) {
    var rng = RNG(seed: 4)
    let student = try! DeiTStudent.make(.default, type: .token, rng: &rng)
    let teacher = ConvNet(Teachers.convNet(.default).config, rng: &rng)
    teacher.setTraining(false)
    let objective = try! distillationObjective(student: student, teacher: teacher, config: DistillationConfig(type: .token))
    let optimizer = AdamW(student.parameters, learningRate: 2e-3, weightDecay: 0.05)
    let x = Tensor.randn([batch, 1, 28, 28], rng: &rng)
    let labels = MixedLabels((0..<batch).map { _ in rng.int(below: 10) })
    let r = StepRate(images: batch) {
        optimizer.zeroGrad()
        objective(x, labels).loss.backward()
        optimizer.step()
    }
    emit("deit-student-step", r.imagesPerSecond, "distillation's DeiT-token student step with the ConvNet teacher's forward, "
         + "patch=7 dim=64 depth=4 heads=2 batch=\(batch); " + r.detail(sgemm: sgemm))
}

/// The ConvNet teacher (stages 32/64/128, pooled stem): its AdamW training step
/// (`convnet-step` of torch_reference.py) and its gradient-free evaluation forward, the part of
/// every distilled step that computes a view; batch 128.
@MainActor
func convNetCases(batch: Int = 128, engine: ConvolutionEngine, step: Bool, forward: Bool, sgemm: Double) {
    let suffix = engine == .oneDNN ? "" : "-im2col"
    ConvolutionEngine.$current.withValue(engine) {
        var rng = RNG(seed: 5)
        let model = ConvNet(Teachers.convNet(.default).config, rng: &rng)
        let x = Tensor.randn([batch, 1, 28, 28], rng: &rng)
        if step {
            let optimizer = AdamW(model.parameters, learningRate: 2e-3, weightDecay: 0.05)
            let labels = MixedLabels((0..<batch).map { _ in rng.int(below: 10) })
            let r = StepRate(images: batch) {
                optimizer.zeroGrad()
                crossEntropy(model.logits(x), mixed: labels, labelSmoothing: 0.1).backward()
                optimizer.step()
            }
            emit("convnet-step\(suffix)", r.imagesPerSecond, "the ConvNet teacher's training step (stages 32/64/128, pooled stem), batch=\(batch); "
                 + r.detail(sgemm: sgemm))
        }
        if forward {
            model.setTraining(false)
            let r = StepRate(images: batch) { withNoGrad { _ = model.logits(x) } }
            emit("convnet-teacher-fwd\(suffix)", r.imagesPerSecond, "the ConvNet teacher's evaluation forward without a graph, batch=\(batch); "
                 + r.detail(sgemm: sgemm))
        }
    }
}

/// ema-teacher's default step (`dino-recipe-step` of torch_reference.py): DINORecipe.teacherStudy
/// (backbone patch 7, width 64, depth 4; its head, loss, centering, EMA and schedules) through
/// DINOTrainer.trainStep. First on ready crops, as the PyTorch twin times it, then with the
/// multi-crop augmentation drawn from the training images; and `knn-eval`, the end-of-epoch
/// evaluation: teacher features of all 70 000 images and the 60 000 × 10 000 weighted k-NN.
@MainActor
func dinoCases(data: FashionMNIST, step: Bool, augmented: Bool, knn: Bool, sgemm: Double) {
    let recipe = DINORecipe.teacherStudy(epochs: 3, trainImages: nil)
    let trainer = try! DINOTrainer(recipe: recipe, data: data, seed: 0)
    let b = recipe.batchSize
    let detail = "patch=7 dim=\(recipe.backbone.width) depth=\(recipe.backbone.depth) heads=\(recipe.backbone.heads) "
        + "out_dim=\(recipe.head.outDim), \(recipe.globalCrops)x28x28 + \(recipe.localCrops)x\(recipe.localSize)x\(recipe.localSize) crops, batch=\(b)"
    if step {
        var rng = RNG(seed: 6)
        let crops = (0..<recipe.globalCrops).map { _ in Tensor.randn([b, 1, 28, 28], rng: &rng) }
            + (0..<recipe.localCrops).map { _ in Tensor.randn([b, 1, recipe.localSize, recipe.localSize], rng: &rng) }
        let r = StepRate(images: b) { _ = try! trainer.trainStep(crops: crops, epoch: 0) }
        emit("dino-recipe-step", r.imagesPerSecond, "ema-teacher's step on ready crops, \(detail); " + r.detail(sgemm: sgemm))
    }
    if augmented {
        var start = 0
        let r = StepRate(images: b) {
            _ = try! trainer.trainStep(Array(start..<start + b), epoch: 0)
            start = (start + b) % (data.train.count - b)
        }
        emit("dino-recipe-step-augmented", r.imagesPerSecond, "the same step with its multi-crop augmentation of training images; "
             + r.detail(sgemm: sgemm))
    }
    if knn {
        let t = timeRepeatedly(atLeast: 3) { _ = trainer.evaluateTeacher(KNNSchedule(ks: [20, 200])) }
        emit("knn-eval", t.median, "seconds: teacher features of 60 000 + 10 000 images and their weighted k-NN (k 20, 200); "
             + String(format: "spread %.2f–%.2f s", t.low, t.high))
    }
}
