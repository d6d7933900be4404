// The ViT student of the DeiT experiments — its architecture and recipe per scale, how it is
// trained with each objective, and the cached DeiT⚗ model the token study inspects.
import Data
import Foundation
import NN
import Tensor

/// The teacher a DeiT student learns from.
public enum TeacherArchitecture: String, Codable, CodingKeyRepresentable, CaseIterable, Sendable {
    case convnet    // DeiT's default: a convnet (RegNetY-16GF there; our ConvNet)
    case vit        // the "transformer teacher" of DeiT Tab. 2 (DeiT-B there; our supervised ViT)
}

public enum DeiTStudent {
    /// Architecture and recipe per scale; DeiT's values (Tab. 1 and 9) beside ours in the default.
    public static func preset(_ scale: Scale) -> (config: ViTConfig, recipe: SupervisedRecipe) {
        switch scale {
        case .quick:
            return (ViTConfig(patchSize: 7, width: 32, depth: 2, heads: 2), SupervisedRecipe(epochs: 2, batchSize: 64, learningRate: 2e-3, trainImages: 4096))
        case .default:
            // DeiT-Ti: patch 16 of 224 (196 tokens), width 192, depth 12, 3 heads of 64.
            // Ours: patch 7 of 28 (16 tokens), width 64, depth 4, 2 heads of 32; smaller than the
            // transformer teacher (width 128, depth 6).
            // DeiT's regime is data-efficient: a ViT short of data under strong augmentation,
            // where the teacher's label for a crop or a mix says what the true label cannot.
            // DeiT: 300 epochs, batch 1024, lr 5e-4·1024/512, ImageNet's 1.28M images; here a sixth of the 60 000
            // (20 000 shrank the gain: papers/deit-sweep.md F).
            var r = dataEfficient(SupervisedRecipe(epochs: 40, batchSize: 128, learningRate: 2e-3, trainImages: 10_000))
            // The curves' per-epoch accuracy on the first 2 000 test images (a fifth of the cost;
            // ±0.9 points binomial at 80 %, the same images for every model); the final one on all 10 000.
            r.curveImages = 2_000
            return (ViTConfig(patchSize: 7, width: 64, depth: 4, heads: 2), r)
        case .full:
            // The default's student in the same regime, trained until its test accuracy stops
            // rising (DeiT: 300 epochs; its Fig. 3 students still gain there).
            var full = preset(.default)
            full.recipe.epochs = 150
            return full
        }
    }

    /// DeiT's augmentation (Tab. 9) scaled to 28² grayscale, with `recipe`'s length and rate.
    /// Trials A and B of papers/deit-sweep.md chose the crop and RandAugment: at DeiT's strength
    /// every model stays far below its plateau in a CPU budget.
    public static func dataEfficient(_ recipe: SupervisedRecipe) -> SupervisedRecipe {
        var r = recipe
        r.cropScale = 0.5...1         // DeiT (0.08, 1) at 224²; at 28², a quarter of the area leaves 8-pixel crops (trial P1)
        r.flip = true                 // DeiT: yes
        r.randAugment = nil           // DeiT rand-m9-mstd0.5-inc1: it costs the teacher more than it gives here (trials A, B); --magnitude 9 restores it
        r.erasing = 0.25              // DeiT 0.25
        r.mix = MixConfig()           // DeiT Mixup 0.8, CutMix 1.0, every batch, switch 0.5: the lever (trials C, D)
        r.labelSmoothing = 0.1        // DeiT 0.1; on the true labels only (DistillationConfig)
        return r
    }

    /// How a teacher of the DeiT study is trained: with a flip only, as Teachers.recipe trains it
    /// (the same cached model); under random augmentation, on the student's
    /// images with the student's augmentation, as DeiT's teachers see ImageNet, for the scale's
    /// `teacherEpochs` (the heavier augmentation needs more passes).
    public static func teacherRecipe(_ scale: Scale, _ teacher: TeacherArchitecture, student: SupervisedRecipe? = nil) -> SupervisedRecipe {
        var r = Teachers.recipe(teacher, scale)
        let s = student ?? preset(scale).recipe
        guard s.augmentsBeyondFlip else { return r }
        (r.trainImages, r.cropScale, r.flip, r.randAugment, r.erasing, r.mix) = (s.trainImages, s.cropScale, s.flip, s.randAugment, s.erasing, s.mix)
        r.curveImages = s.curveImages
        r.epochs = teacherEpochs(scale, teacher)
        return r
    }

    /// A teacher's epochs under DeiT's augmentation on a subset (trials: papers/deit-sweep.md); at
    /// full scale, until its test accuracy stops rising: at 100 epochs the ConvNet still gained
    /// 0.53 point over the last fifth and the ViT 1.25 (papers/notebook.md, "Full scale").
    public static func teacherEpochs(_ scale: Scale, _ teacher: TeacherArchitecture) -> Int {
        scale == .full ? (teacher == .convnet ? 150 : 200) : 40
    }

    /// The generator a student of `seed` is initialized with: the same for every objective, so
    /// the variants of one seed start from the same weights where their shapes agree.
    public static func rng(seed: UInt64) -> RNG { RNG(seed: seed ^ fnv1a("deit-student")) }

    /// The generator of a student's batches and augmentation: a function of the seed alone, so
    /// every variant of a seed trains on the same views in the same order. The comparison between
    /// objectives is then paired, and their teacher computes each view once (MemoizedTeacher).
    public static func viewsRNG(seed: UInt64) -> RNG { RNG(seed: seed ^ fnv1a("deit-views")) }

    /// A fresh student: one class token, or class and distillation tokens for `.token`.
    public static func make(_ scale: Scale, type: DistillationType, rng: inout RNG) throws -> VisionTransformer {
        var config = preset(scale).config
        config.prefix = type == .token ? .clsAndDist : .cls
        return try VisionTransformer(config, rng: &rng)
    }

    /// Trains `student` with DeiT's objective `loss` from `teacher` (nil for `.none`), drawing
    /// batches and augmentation from `rng` (viewsRNG); test accuracy of the class head after each epoch.
    public static func train(_ student: VisionTransformer, teacher: (any Classifier)?, loss: DistillationConfig,
                             recipe: SupervisedRecipe, data: FashionMNIST, label: String, rng: inout RNG,
                             probe: (() -> [String: Double])? = nil, evaluation: ImageSet? = nil,
                             checkpoint: RunCheckpoint? = nil) throws -> [EpochRecord] {
        let objective = try distillationObjective(student: student, teacher: teacher, config: loss)
        return try trainClassifier(student, recipe: recipe, data: data, label: label, rng: &rng, objective: objective,
                                   metrics: teacher == nil ? [] : TeacherStatistics.names, epochMetrics: TeacherStatistics.epochMetrics,
                                   probe: probe, evaluation: evaluation, checkpoint: checkpoint)
    }

    /// The DeiT⚗ student of `seed` as an artifact — token objective `loss`, the ConvNet teacher
    /// trained by `teacherRecipe`, the student trained by `recipe` (the scale's presets by default).
    /// Its identity holds its teacher's, so a new teacher makes a new student. `teacher` may be
    /// that teacher already at hand (it only saves loading it); `checkpoints` make the teacher's
    /// training, if it runs, resumable too. The DeiT study trains it among its variants; the
    /// token study inspects it.
    public static func tokenStudent(scale: Scale, seed: UInt64, recipe: SupervisedRecipe? = nil, teacherRecipe: SupervisedRecipe? = nil,
                                    loss: DistillationConfig = DistillationConfig(type: .token), teacher: (any Classifier)? = nil,
                                    data: FashionMNIST, cache: URL, label: String = "token student",
                                    checkpoints: Checkpoints? = nil) -> Artifact<VisionTransformer, [EpochRecord]> {
        let recipe = recipe ?? preset(scale).recipe
        let teacherArtifact = Teachers.artifact(.convnet, scale: scale, seed: seed, data: data,
                                                recipe: teacherRecipe ?? self.teacherRecipe(scale, .convnet, student: recipe))
        let identity = [AnyHashableCodable(preset(scale).config), AnyHashableCodable(recipe), AnyHashableCodable(loss),
                        AnyHashableCodable(teacherArtifact.fileName)]
        return Artifact("deit-token-convnet", scale: scale, seed: seed, identity: identity) {
            var rng = rng(seed: seed), views = viewsRNG(seed: seed)
            let student = try make(scale, type: .token, rng: &rng)
            return (student, { checkpoint in
                let teacher = try teacher ?? teacherArtifact.trained(cache: cache, checkpoint: checkpoints?.run("teacher-convnet")).model
                return try train(student, teacher: teacher, loss: loss, recipe: recipe, data: data, label: label, rng: &views, checkpoint: checkpoint)
            })
        }
    }
}
