// The model cases of ../shared/bench/torch_reference.py, same names and shapes, so the two outputs
// sit side by side: ViT forwards at 224² (3 channels, 1000 classes, random weights), the small-ViT
// AdamW step, and a DINO step built from the core's pieces.
import Foundation
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
    let once = timed(repeats: 1) { withNoGrad { _ = model(x) } }.median
    let t = timed(repeats: max(3, Int(3 / once)), warmup: 0) { withNoGrad { _ = model(x) } }
    let ips = Double(batch) / t.median
    let gflops = config.forwardFLOPs() * ips / 1e9
    emit(name, ips, "img=\(config.imageSize) patch=\(config.patchSize) dim=\(config.width) depth=\(config.depth) heads=\(config.heads) batch=\(batch); "
         + String(format: "%.1f GFLOP/s = %.0f%% of sgemm-1024; spread %.2f–%.2f img/s", gflops, 100 * gflops / sgemm,
                  Double(batch) / t.high, Double(batch) / t.low))
    return ips
}

/// Images per second of timed training steps (median of repeats filling ~3 s).
func stepsPerSecond(_ step: () -> Void) -> (median: Double, low: Double, high: Double) {
    let once = timed(repeats: 1, warmup: 1, step).median
    let t = timed(repeats: max(5, Int(3 / once)), warmup: 0, step)
    return (1 / t.median, 1 / t.high, 1 / t.low)
}

/// The small-ViT AdamW training step: 28², patch 4, width 128, depth 6, 4 heads, batch 256.
@MainActor
func nanoTrainCase() {
    var rng = RNG(seed: 2)
    let config = ViTConfig(patchSize: 4, width: 128, depth: 6, heads: 4)
    let model = try! VisionTransformer(config, rng: &rng)
    let optimizer = AdamW(model.parameters, learningRate: 1e-3)
    let x = Tensor.randn([256, 1, 28, 28], rng: &rng)
    let labels = (0..<256).map { _ in rng.int(below: 10) }
    let r = stepsPerSecond {
        optimizer.zeroGrad()
        crossEntropy(model.logits(x), labels: labels).backward()
        optimizer.step()
    }
    emit("nano-train", 256 * r.median, "AdamW step, 28x28 patch=4 dim=128 depth=6 heads=4 batch=256; "
         + String(format: "spread %.0f–%.0f img/s", 256 * r.low, 256 * r.high))
}

/// The DINO step of torch_reference.py: student and EMA teacher ViTs (patch 4, width 128, depth
/// 6) with a head 128 → 256 → 256 → 64 → L2-normalize → weight-normalized 64 → 1024; 2 global
/// 28² and 6 local 12² crops; teacher softmax at τ 0.04 after centering, student log-softmax at
/// τ 0.1; cross-entropy over the 14 (teacher crop, other student crop) pairs; AdamW; EMA 0.996.
/// Crops of one size go through the network as one batch, as DINO's MultiCropWrapper does.
@MainActor
func nanoDINOCase(batch: Int = 128, outDim: Int = 1024, localCrops: Int = 6) {
    var rng = RNG(seed: 3)
    final class Network {
        let backbone: VisionTransformer
        let fc: [Linear]
        let lastLayer: Tensor  // v of the weight-normalized layer; weight = v / ‖v‖ per row (g fixed at 1)
        init(outDim: Int, rng: inout RNG) {
            backbone = try! VisionTransformer(ViTConfig(patchSize: 4, width: 128, depth: 6, heads: 4, classes: 0), rng: &rng)
            fc = [Linear(128, 256, rng: &rng), Linear(256, 256, rng: &rng), Linear(256, 64, rng: &rng)]
            lastLayer = Tensor.truncatedNormal([outDim, 64], std: 0.02, rng: &rng, requiresGrad: true)
        }
        var parameters: [Tensor] { backbone.parameters + fc.flatMap(\.parameters) + [lastLayer] }
        func callAsFunction(_ x: Tensor) -> Tensor {
            var h = backbone(x).features
            h = fc[2](gelu(fc[1](gelu(fc[0](h)))))
            return linear(l2Normalize(h), weight: l2Normalize(lastLayer, axis: 1), bias: nil)
        }
    }
    let student = Network(outDim: outDim, rng: &rng), teacher = Network(outDim: outDim, rng: &rng)
    for (t, s) in zip(teacher.parameters, student.parameters) { t.assign(s); t.requiresGrad = false }
    let optimizer = AdamW(student.parameters, learningRate: 5e-4)
    let center = Tensor(zeros: [1, outDim])
    let globals = Tensor.randn([2 * batch, 1, 28, 28], rng: &rng)           // crops 0, 1
    let locals = Tensor.randn([localCrops * batch, 1, 12, 12], rng: &rng)   // crops 2 …
    let crops = 2 + localCrops

    let r = stepsPerSecond {
        let t = withNoGrad { softmax((teacher(globals) - center) * (1 / 0.04)) }          // (2B, K)
        let s = concat([logSoftmax(student(globals) * 10), logSoftmax(student(locals) * 10)], axis: 0)  // (8B, K)
        var loss: Tensor? = nil
        var terms = 0
        for i in 0..<2 {
            let ti = t.slice(axis: 0, i * batch..<(i + 1) * batch)
            for j in 0..<crops where j != i {
                let term = -(ti * s.slice(axis: 0, j * batch..<(j + 1) * batch)).sum(axis: -1).mean()
                loss = loss.map { $0 + term } ?? term
                terms += 1
            }
        }
        optimizer.zeroGrad()
        (loss! / Float(terms)).backward()
        optimizer.step()
        for (pt, ps) in zip(teacher.parameters, student.parameters) {  // EMA: θt ← 0.996·θt + 0.004·θs
            for k in 0..<pt.count { pt.data[k] = 0.996 * pt.data[k] + 0.004 * ps.data[k] }
        }
    }
    emit("nano-dino", Double(batch) * r.median,
         "DINO step, 2x28x28 + \(localCrops)x12x12 crops, patch=4 dim=128 depth=6 heads=4 out_dim=\(outDim) batch=\(batch); "
         + String(format: "spread %.0f–%.0f img/s", Double(batch) * r.low, Double(batch) * r.high))
}
