// DINO's recipe: every knob of a run, the official defaults beside each, and the presets per
// scale (the experiments' own presets extend DINORecipe in their executables).
import Data
import Foundation
import NN
import Tensor

/// How the teacher's weights follow the student's (DINO §5.2, Fig. 6 right).
public enum TeacherUpdate: String, Codable, CaseIterable, Sendable {
    case momentum = "momentum"                       // θt ← λθt + (1 − λ)θs after each step: DINO
    case studentCopy = "student-copy"                // θt = θs at every forward
    case previousIteration = "previous-iteration"    // θt = θs of the step before
    case previousEpoch = "previous-epoch"            // θt = θs at the end of the previous epoch
    case fixedRandom = "fixed-random"                // θt = θs at initialization, forever
}

/// Every knob of a DINO run; the official defaults (main_dino.py, ViT-S/16, and the paper)
/// beside each.
public struct DINORecipe: Codable, Hashable, Sendable {
    public var backbone: ViTConfig                     // paper ViT-S/16 at 224² (patch 16, width 384, depth 12, 6 heads)
    public var head = DINOHeadConfig()                 // paper K 65 536, hidden 2048, bottleneck 256
    public var convNetBackbone: ConvNetConfig? = nil   // paper's ResNet-50 rows; nil: the ViT of `backbone`
    public var globalCrops = 2                         // paper 2, 224² of scale (0.4, 1)
    public var localCrops = 6                          // official 8 (the paper's Tab. 8 also 2, 6, 10), 96² of scale (0.05, 0.4)
    public var localSize = 14                          // paper 96 = 0.43 of 224; must be a multiple of the patch size
    public var globalScale: ClosedRange<Float> = 0.4...1    // paper (0.4, 1)
    public var localScale: ClosedRange<Float> = 0.05...0.4  // paper (0.05, 0.4)
    public var augmentation = CropAugmentation()       // flip, jitter, blur, solarize: the paper's beside each field (Data/MultiCrop.swift)
    public var epochs: Int                             // paper 100–800; the teacher study 300
    public var batchSize: Int                          // paper 1024 (16 GPUs × 64)
    public var trainImages: Int? = nil                 // nil: all 60 000 (ImageNet: 1.28 M)
    public var learningRate: Float = 5e-4              // peak = this × batch/256, paper 5e-4 × batch/256
    public var minLearningRate: Float = 1e-6           // paper 1e-6
    public var warmupEpochs = 10                       // paper 10
    public var weightDecay: ClosedRange<Float> = 0.04...0.4  // paper cosine 0.04 → 0.4, weights only
    public var teacherMomentum: Float = 0.996          // paper 0.996 → 1 on a cosine, per iteration
    public var teacherTemperature: Float = 0.04        // paper 0.04 (official default) …
    public var warmupTeacherTemperature: Float = 0.04  // … the paper's text: 0.04 → 0.07 over 30 epochs
    public var warmupTeacherTemperatureEpochs = 0      // official default 0 (its help text says 30)
    public var studentTemperature: Float = 0.1         // paper 0.1
    public var centerMomentum: Float = 0.9             // paper 0.9
    public var centering = true                        // the collapse study turns these off
    public var clipGrad: Float = 3.0                   // paper 3.0, per parameter
    public var freezeLastLayerEpochs = 1               // paper 1
    public var dropPathRate: Float = 0.1               // paper 0.1, student only
    public var teacher = TeacherUpdate.momentum

    public init(backbone: ViTConfig, epochs: Int, batchSize: Int) {
        (self.backbone, self.epochs, self.batchSize) = (backbone, epochs, batchSize)
    }

    public var crops: Int { globalCrops + localCrops }

    /// Sets the epoch count, shortening the warmups to fit inside it.
    public mutating func setEpochs(_ count: Int) {
        epochs = count
        warmupEpochs = min(warmupEpochs, count)
        warmupTeacherTemperatureEpochs = min(warmupTeacherTemperatureEpochs, count)
    }

    /// The bounds `validate` holds a run to: far beyond the paper's settings, small enough that
    /// the schedules and a step's activations fit this machine.
    public static let maxEpochs = 1000, maxBatchSize = 1024, maxLocalCrops = 32, maxSteps = 10_000_000
    /// ViT-B's width and depth, and the paper's K: beyond them a run would not finish on a CPU.
    public static let maxWidth = 768, maxDepth = 12, maxOutDim = 65_536

    /// Bytes of a training step's activations and their gradients, roughly: per crop and block,
    /// 24 floats per token and channel (norms, qkv, projections, the 4× MLP and its GELU) and 4 per
    /// head and token pair (scores, softmax and their gradients), kept for the backward pass; per
    /// crop in the head, its hidden layers and bottleneck, and 4 per logit (student and teacher
    /// softmax and their gradients: K = 65 536 makes this the largest term).
    public var estimatedStepBytes: Double {
        func crop(_ size: Int) -> Double {
            let tokens = Double((size / backbone.patchSize) * (size / backbone.patchSize) + 1)
            return Double(backbone.depth) * (tokens * Double(backbone.width) * 24 + tokens * tokens * Double(backbone.heads) * 4)
                + Double(2 * (head.layers * head.hiddenDim + head.bottleneckDim) + 4 * head.outDim)
        }
        let perImage = Double(globalCrops) * crop(backbone.imageSize) + Double(localCrops) * crop(localSize)
        return 4 * Double(batchSize) * perImage
    }

    /// What would make the run impossible or meaningless, with the fix in the message.
    public func validate() throws {
        func fail(_ s: String) -> TrainingError { TrainingError("DINO recipe: \(s)") }
        // Below 1e-8 an AdamW step moves no weight of Float precision; above 1 it destroys them.
        guard (1e-8...1).contains(learningRate), minLearningRate.isFinite, minLearningRate >= 0 else {
            throw fail("the learning rate must be from 1e-8 to 1, got \(learningRate) (the paper's is 5e-4 per 256 images)")
        }
        guard weightDecay.lowerBound >= 0, weightDecay.upperBound.isFinite else {
            throw fail("the weight decay must be finite and ≥ 0, got \(weightDecay) (the paper's is 0.04 → 0.4)")
        }
        // Logits are cosines times a weight-normalized layer's gain: at τ below 0.001 the softmax
        // saturates to one-hot in Float, above 10 it is uniform to Float precision.
        for (name, t) in [("teacher", teacherTemperature), ("warmup teacher", warmupTeacherTemperature), ("student", studentTemperature)]
        where !(0.001...10).contains(t) {
            throw fail("the \(name) temperature must be from 0.001 to 10, got \(t) (the paper's: teacher 0.04 → 0.07, student 0.1)")
        }
        do { try backbone.validate(); try head.validate() } catch let error as CheckpointError { throw fail(error.description) }
        guard backbone.width <= DINORecipe.maxWidth, backbone.depth <= DINORecipe.maxDepth else {
            throw fail("a backbone of width \(backbone.width) and depth \(backbone.depth) is beyond ViT-B's \(DINORecipe.maxWidth) and \(DINORecipe.maxDepth)")
        }
        guard head.outDim <= DINORecipe.maxOutDim, head.hiddenDim <= 4096, head.bottleneckDim <= 1024 else {
            throw fail("a head of K \(head.outDim), hidden \(head.hiddenDim), bottleneck \(head.bottleneckDim) is beyond the paper's 65 536, 2048, 256")
        }
        guard (1...DINORecipe.maxEpochs).contains(epochs) else { throw fail("the epoch count must be from 1 to \(DINORecipe.maxEpochs), got \(epochs)") }
        guard (2...DINORecipe.maxBatchSize).contains(batchSize) else {
            throw fail("the batch size must be from 2 (the center is a batch mean) to \(DINORecipe.maxBatchSize), got \(batchSize)")
        }
        guard (0...DINORecipe.maxLocalCrops).contains(localCrops), (1...4).contains(globalCrops) else {
            throw fail("\(globalCrops) global and \(localCrops) local crops: use 1 to 4 global and 0 to \(DINORecipe.maxLocalCrops) local crops (the paper's 2 and 8)")
        }
        if let trainImages, !(1...60_000).contains(trainImages) {
            throw fail("the training images must be from 1 to 60000 (Fashion-MNIST's training set), got \(trainImages)")
        }
        for (name, scale) in [("global", globalScale), ("local", localScale)] where !(scale.lowerBound > 0 && scale.upperBound <= 1) {
            throw fail("the \(name) crop scale must lie in (0, 1], got \(scale)")
        }
        let steps = epochs * max(1, (trainImages ?? 60_000) / batchSize)
        guard steps <= DINORecipe.maxSteps else {
            throw fail("\(epochs) epochs of \(max(1, (trainImages ?? 60_000) / batchSize)) steps are \(steps) steps; at most \(DINORecipe.maxSteps)")
        }
        do {
            try Memory.check(estimatedStepBytes, "a step of batch \(batchSize) with \(globalCrops) + \(localCrops) crops (width \(backbone.width), K \(head.outDim)) would",
                             fix: "use a smaller --batch-size, fewer --local-crops or a smaller --out-dim")
        } catch let error as TrainingError { throw fail(error.description) }
        guard (0...1).contains(teacherMomentum) else { throw fail("the teacher momentum must be in [0, 1], got \(teacherMomentum) (the paper's is 0.996)") }
        guard (0...1).contains(centerMomentum) else { throw fail("the center momentum must be in [0, 1], got \(centerMomentum) (the paper's is 0.9)") }
        let p = backbone.patchSize
        guard backbone.imageSize % p == 0, localSize % p == 0, localSize > 0 else {
            throw fail("crops of \(backbone.imageSize)² and \(localSize)² must be multiples of the patch size \(p); choose a local size in "
                + "\(stride(from: p, through: backbone.imageSize, by: p).map(String.init).joined(separator: ", "))")
        }
        guard globalCrops >= 1, localCrops >= 0, globalCrops * crops - globalCrops > 0 else {
            throw fail("\(globalCrops) global and \(localCrops) local crops give the loss no (teacher crop, other student crop) pair; "
                + "use 2 global crops or add local crops")
        }
        guard warmupEpochs >= 0, warmupTeacherTemperatureEpochs >= 0, freezeLastLayerEpochs >= 0 else {
            throw fail("warmup and freeze epochs must be ≥ 0")
        }
        guard warmupEpochs <= epochs, warmupTeacherTemperatureEpochs <= epochs, freezeLastLayerEpochs <= epochs else {
            throw fail("warmup epochs (\(warmupEpochs), teacher temperature \(warmupTeacherTemperatureEpochs)) or freeze epochs (\(freezeLastLayerEpochs)) exceed the \(epochs) epochs")
        }
        guard clipGrad >= 0, clipGrad.isFinite, (0..<1).contains(dropPathRate) else { throw fail("clip_grad must be ≥ 0 and drop path in [0, 1)") }
        if let problem = augmentation.problem { throw fail(problem) }
    }

    /// The multi-crop augmentation these settings describe (Data's MultiCrop, scaled to 28²).
    public var multiCrop: MultiCrop {
        var m = MultiCrop()
        (m.globalCrops, m.globalSize, m.globalScale) = (globalCrops, backbone.imageSize, globalScale)
        (m.localCrops, m.localSize, m.localScale) = (localCrops, localSize, localScale)
        m.augmentation = augmentation
        return m
    }
}

extension DINORecipe {
    /// The backbone this recipe trains, its weights drawn from `rng`: the ViT of `backbone` (with
    /// the recipe's drop path in the student) or, when set, the ConvNet of `convNetBackbone`; either
    /// without a classifier.
    public func makeBackbone(student: Bool, rng: inout RNG) throws -> any Backbone {
        if var convNet = convNetBackbone {
            convNet.classes = 0
            return ConvNet(convNet, rng: &rng)
        }
        var vit = backbone
        vit.classes = 0
        if student { vit.dropPathRate = dropPathRate }
        return try VisionTransformer(vit, rng: &rng)
    }
}

extension DINORecipe {
    /// A tiny DINO for `--scale quick` smoke runs (seconds; the numbers mean nothing).
    public static func quick(epochs: Int) -> DINORecipe {
        var r = DINORecipe(backbone: ViTConfig(patchSize: 7, width: 32, depth: 2, heads: 2, classes: 0), epochs: epochs, batchSize: 64)
        r.head = DINOHeadConfig(outDim: 256, hiddenDim: 64, bottleneckDim: 32)
        (r.trainImages, r.localCrops, r.warmupEpochs) = (1024, 2, 1)
        return r
    }

    /// Our DINO on Fashion-MNIST (the collapse and attention studies, and the base of the
    /// teacher study): the paper's values are beside each field above; papers/dino-sweep.md has the
    /// trials that chose these.
    public static func fashionMNIST(epochs: Int, trainImages: Int?) -> DINORecipe {
        var r = DINORecipe(backbone: ViTConfig(patchSize: 7, width: 96, depth: 4, heads: 3, classes: 0), epochs: epochs, batchSize: 32)
        r.head = DINOHeadConfig(outDim: 1024, hiddenDim: 256, bottleneckDim: 64)
        r.trainImages = trainImages
        (r.localCrops, r.localSize) = (4, 14)
        r.learningRate = 1.6e-2     // × 32/256 = 2e-3 per step
        r.teacherMomentum = 0.99
        r.warmupEpochs = 1
        (r.warmupTeacherTemperature, r.teacherTemperature, r.warmupTeacherTemperatureEpochs) = (0.04, 0.04, 0)
        return r
    }

    /// The teacher study's recipe (DINO §5.2): the one above on a narrower backbone, width 64
    /// and 2 heads (ViT-S: 384 and 6), which trains 1.6× faster and gains as much over its own
    /// random initialization per image (papers/dino-sweep.md, trials G and I).
    public static func teacherStudy(epochs: Int, trainImages: Int?) -> DINORecipe {
        var r = fashionMNIST(epochs: epochs, trainImages: trainImages)
        (r.backbone.width, r.backbone.heads) = (64, 2)
        return r
    }

    /// The momentum teacher that ema-teacher, patch-throughput and attention-maps share (one cached
    /// model per patch size) at the default and full scales: the teacher study's 3 epochs by
    /// default; at full, the wider backbone above for 10 epochs of all 60 000 images (18 750 steps).
    /// Ten is what fits the full scale's 2.5 hours at 3 seeds: on a Zen 5 one run takes about 21
    /// minutes with both lanes busy, and ema-teacher trains 12 (at 15 epochs they would take about 3 hours). A 30-epoch
    /// run's 10 000-bank k-NN20 was 82.3 % at epoch 8 and 83.8 % at 30; each summary's plateau gain
    /// says whether the 10-epoch schedule, annealed sooner, has flattened.
    public static func sharedTeacher(_ scale: Scale) -> DINORecipe {
        precondition(scale != .quick, "the quick scale's DINO is DINORecipe.quick")
        return scale == .full ? fashionMNIST(epochs: 10, trainImages: nil) : teacherStudy(epochs: 3, trainImages: nil)
    }

    /// This recipe at another patch size, the local crops at the multiple of the patch nearest
    /// 12 pixels (the paper's 96 of 224 is 0.43 of the image: 12 of 28).
    public func withPatchSize(_ patch: Int) -> DINORecipe {
        var r = self
        r.backbone.patchSize = patch
        r.localSize = max(patch, Int((12.0 / Double(patch)).rounded()) * patch)
        return r
    }
}
