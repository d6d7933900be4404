// token-similarity's flags: each sets one field of the config (main.swift), for the trials of
// papers/deit-sweep.md and the dose-response study.
import ArgumentParser
import Data
import Lab
import NN

extension TokenSimilarity {
    struct Options: ConfigFlags {
        @Option(help: "Number of seeds: seed, seed+1, … (default scale: \(Config.preset(.default).seeds); the paper's 1); each trains a DeiT⚗ student and a control.")
        var seeds: Int?
        @Option(help: "Models to train, comma-separated: distillation (DeiT⚗), two_class_tokens (the control); both by default.")
        var runs: String?
        @OptionGroup var lanes: LanesFlag
        @Option(help: "Students' width, timm's embed_dim (default scale: \(Config.preset(.default).student.width); DeiT-B: 768); heads stay at the preset's count.")
        var width: Int?
        @OptionGroup(title: "Students' recipe") var student: StudentRecipeFlags<TokenSimilarity>
        @Option(help: "How the ConvNet teacher is trained: supervised (on its own recipe: a flip only, all 60 000 images, as `supervised --data-regime full` trains it, for 2 epochs; the default) or distillation (on the students' images with their augmentation, as `distillation`'s).")
        var teacherRecipe: String?
        @Option(help: "Epochs of the ConvNet teacher (default scale: \(Config.preset(.default).teacher.epochs)); fewer make a weaker teacher.")
        var teacherEpochs: Int?
        @Option(help: "What the distillation head learns: hard (the teacher's argmax, DeiT⚗) or soft (its distribution at τ).")
        var distillationTarget: String?
        @Option(help: "The prefix tokens' learning rate as a multiple of the base (1: timm).")
        var tokenLRScale: Float?
        @Option(help: "Weight decay on the prefix tokens: on or off (timm: off).")
        var tokenWeightDecay: String?
        @Option(help: "Test images the per-epoch cosines average over (default scale: \(Config.preset(.default).probeImages)).")
        var probeImages: Int?
        @Flag(help: "Run the dose-response study instead: DeiT⚗ with teachers of several strengths (--dose-teacher-epochs), against the control; writes token-similarity-dose.{tsv,json}.")
        var doseResponse = false
        @Option(help: "With --dose-response: the epoch counts of `distillation`'s teacher, comma-separated (the preset's: 1,2,5,40; quick 1,2,4,8).")
        var doseTeacherEpochs: String?

        func apply(to config: inout Config, scale: Scale) throws {
            if let seeds { config.seeds = seeds }
            if let runs { config.runs = try Flags.list("runs", runs, takes: "distillation, two_class_tokens") { Kind(rawValue: $0) } }
            lanes.apply(to: &config.lanes)
            try Flags.count("teacher-epochs", teacherEpochs, 1...SupervisedRecipe.maxEpochs)
            if let width { config.student.width = width }
            try student.apply(to: &config.recipe)
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
