// token-similarity's flags: each sets one field of the config (main.swift), for the trials of
// papers/deit-sweep.md and the dose-response study.
import ArgumentParser
import Data
import Lab
import NN

extension TokenSimilarity {
    struct Options: ConfigFlags {
        @Option(help: "Number of seeds (seed, seed+1, …); each trains a DeiT⚗ student and a control.")
        var seeds: Int?
        @Option(help: "Models to train, comma-separated: distillation (DeiT⚗), two_class_tokens (the control); both by default.")
        var runs: String?
        @OptionGroup var lanes: LanesFlag
        @Option(help: "Students' epochs (the preset's otherwise).")
        var epochs: Int?
        @Option(help: "Students' batch size.")
        var batchSize: Int?
        @Option(help: "Students' peak learning rate.")
        var learningRate: Float?
        @Option(help: "Students' training images: the first N of the 60 000.")
        var trainImages: Int?
        @Option(help: "Students' width (embedding dimension); heads stay at the preset's count.")
        var width: Int?
        @Option(help: "Students' Mixup α (DeiT's 0.8); 0 with --cutmix-alpha 0 turns mixing off.")
        var mixupAlpha: Double?
        @Option(help: "Students' CutMix α (DeiT's 1.0).")
        var cutmixAlpha: Double?
        @Option(help: "Students' random resized crop area, as 'low,high' (DeiT's 0.08,1), or 'off'.")
        var cropScale: String?
        @Option(help: "Students' RandAugment magnitude, 0 to 10 (DeiT's 9); 0 turns it off.")
        var magnitude: Float?
        @Option(help: "How the ConvNet teacher is trained: supervised (on its own recipe: a flip only, all 60 000 images, as `supervised --data-regime full` trains it, for 2 epochs; the default) or distillation (on the students' images with their augmentation, as `distillation`'s).")
        var teacherRecipe: String?
        @Option(help: "Epochs of the ConvNet teacher (the preset's otherwise; fewer make a weaker teacher).")
        var teacherEpochs: Int?
        @Option(help: "What the distillation head learns: hard (the teacher's argmax, DeiT⚗) or soft (its distribution at τ).")
        var distillationTarget: String?
        @Option(help: "The prefix tokens' learning rate as a multiple of the base (1: timm).")
        var tokenLRScale: Float?
        @Option(help: "Weight decay on the prefix tokens: on or off (timm: off).")
        var tokenWeightDecay: String?
        @Option(help: "Test images the per-epoch cosines average over.")
        var probeImages: Int?
        @Flag(help: "Run the dose-response study instead: DeiT⚗ with teachers of several strengths (--dose-teacher-epochs), against the control; writes token-similarity-dose.{tsv,json}.")
        var doseResponse = false
        @Option(help: "With --dose-response: the epoch counts of `distillation`'s teacher, comma-separated (the preset's: 1,2,5,40; quick 1,2,4,8).")
        var doseTeacherEpochs: String?

        func apply(to config: inout Config, scale: Scale) throws {
            if let seeds { config.seeds = seeds }
            if let runs { config.runs = try Flags.list("runs", runs, takes: "distillation, two_class_tokens") { Kind(rawValue: $0) } }
            lanes.apply(to: &config.lanes)
            try Flags.count("epochs", epochs, 1...SupervisedRecipe.maxEpochs)
            try Flags.count("teacher-epochs", teacherEpochs, 1...SupervisedRecipe.maxEpochs)
            try Flags.count("batch-size", batchSize, 1...SupervisedRecipe.maxBatchSize)
            try Flags.count("train-images", trainImages, 1...60_000, note: "Fashion-MNIST's training set")
            if let epochs { config.recipe.epochs = epochs }
            if let batchSize { config.recipe.batchSize = batchSize }
            if let learningRate { config.recipe.learningRate = learningRate }
            if let trainImages { config.recipe.trainImages = trainImages }
            if let width { config.student.width = width }
            if mixupAlpha != nil || cutmixAlpha != nil {
                var mix = config.recipe.mix ?? MixConfig()
                if let mixupAlpha { mix.mixupAlpha = mixupAlpha }
                if let cutmixAlpha { mix.cutmixAlpha = cutmixAlpha }
                config.recipe.mix = mix.mixupAlpha == 0 && mix.cutmixAlpha == 0 ? nil : mix
            }
            if let cropScale {
                config.recipe.cropScale = cropScale == "off" ? nil
                    : try Flags.range("crop-scale", cropScale, rule: "0 < low ≤ high ≤ 1 (or 'off')") { $0 > 0 && $0 <= $1 && $1 <= 1 }
            }
            if let magnitude {
                guard (0...10).contains(magnitude) else { throw ValidationError("--magnitude must be from 0 to 10, got \(magnitude)") }
                if magnitude == 0 { config.recipe.randAugment = nil } else {
                    config.recipe.randAugment = config.recipe.randAugment ?? RandAugment()
                    config.recipe.randAugment!.magnitude = magnitude
                }
            }
            switch teacherRecipe {
            case nil: break
            case "distillation": config.teacher = DeiTStudent.teacherRecipe(scale, .convnet, student: config.recipe)
            case "supervised": config.teacher = Config.supervisedTeacher(scale)
            case let other?: throw ValidationError("--teacher-recipe takes supervised or distillation, got '\(other)'")
            }
            if let teacherEpochs { config.teacher.epochs = teacherEpochs }
            // The defaults are stored as nil, so a run that names them is the preset's run (and its cache).
            if let distillationTarget {
                let target: TokenTarget = try Flags.choice("distillation-target", distillationTarget)
                config.loss.tokenTarget = target == .hard ? nil : target
            }
            if let tokenLRScale { config.recipe.tokenLearningRateScale = tokenLRScale == 1 ? nil : tokenLRScale }
            if let tokenWeightDecay {
                guard ["on", "off"].contains(tokenWeightDecay) else { throw ValidationError("--token-weight-decay takes on or off, got '\(tokenWeightDecay)'") }
                config.recipe.tokenWeightDecay = tokenWeightDecay == "on" ? true : nil
            }
            if let probeImages { config.probeImages = probeImages }
            config.doseResponse = doseResponse
            config.doseTeacher = DeiTStudent.teacherRecipe(scale, .convnet, student: config.recipe)  // the students' flags reach it
            if runs != nil && doseResponse { throw ValidationError("--runs does not apply to --dose-response, which trains the control and every DeiT⚗ student") }
            if doseTeacherEpochs != nil && !doseResponse { throw ValidationError("--dose-teacher-epochs applies only with --dose-response") }
            if let doseTeacherEpochs { config.doseTeacherEpochs = try Flags.list("dose-teacher-epochs", doseTeacherEpochs, takes: "whole numbers of epochs") { Int($0) } }
        }
    }

}
