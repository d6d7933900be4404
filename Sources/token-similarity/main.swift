// token-similarity — Do the class and distillation tokens learn different things? DeiT §4: the
// learned tokens are nearly orthogonal (cosine 0.06), grow alike through the network (0.93 after
// the last layer) but stay apart; two class tokens trained on the same labels end identical
// (0.999), which is the control that shows the distillation token adds something.
//
// Per seed, two students from the same initial weights on the same views in the same order: the
// DeiT⚗ student (class head on the true labels, distillation head on the ConvNet teacher's
// argmax) and the control (the same ViT with two class tokens, both heads on the true labels, no
// teacher). Only the second head's target differs. The cosines are measured after every epoch.
//
// Writes figures/data/token-similarity{.tsv,-epochs.tsv,-seeds.tsv,.json}; with --dose-response,
// token-similarity-dose{.tsv,.json}. figures/token-similarity.gp draws them.
import ArgumentParser
import Data
import Foundation
import Lab
import NN
import Tensor

struct TokenSimilarity: Experiment {
    static let name = "token-similarity"
    static let abstract = "Cosine between the class and distillation tokens through DeiT⚗, against a ViT with two class tokens (DeiT §4)."

    struct Config: RecipeConfig, SideBySideConfig {
        var student: ViTConfig            // DeiTStudent.preset: patch 7, width 64, depth 4, 2 heads (DeiT-B⚗: 16, 768, 12, 12)
        var recipe: SupervisedRecipe      // DeiTStudent.preset: DeiT's data-efficient regime (DeiT: 300 epochs of ImageNet)
        /// The ConvNet teacher on its own recipe (`supervisedTeacher`: a flip only, all 60 000
        /// images), not the students' augmentation: as DeiT's RegNetY-16GF, it never trained on the
        /// views it labels, and relabels about half of them; then the tokens part
        /// (papers/deit-sweep.md).
        var teacher: SupervisedRecipe     // DeiT: RegNetY-16GF, pretrained on ImageNet by its own recipe
        /// The dose-response study's teachers: `distillation`'s (the students' images and
        /// augmentation), trained for each of `doseTeacherEpochs`, beside `teacher`.
        var doseTeacher: SupervisedRecipe
        var loss = DistillationConfig(type: .token)  // α 0.5 (official); the distillation head on the teacher's argmax (DeiT⚗)
        var seeds = 3                     // paper: one run
        var runs = Kind.allCases          // both; trials of the teacher train the students alone
        var probeImages = 1000            // test images the per-epoch cosines and accuracy average over (the final ones: all 10 000)
        var lanes = Parallel.threads      // runs side by side; the results do not depend on it
        /// --dose-response: DeiT⚗ students (`seeds` each) taught by teachers trained for each of
        /// these epoch counts, against the control, instead of the default pair.
        var doseResponse = false
        var doseTeacherEpochs = [1, 2, 5, 40]
        /// --dose-response: `teacher`'s recipe trained for these epochs too (its own epochs always).
        var doseSupervisedEpochs = [7]

        static func preset(_ scale: Scale) -> Config {
            let (student, recipe) = DeiTStudent.preset(scale)
            var c = Config(student: student, recipe: recipe, teacher: supervisedTeacher(scale),
                           doseTeacher: DeiTStudent.teacherRecipe(scale, .convnet, student: recipe))
            if scale == .quick { (c.seeds, c.probeImages, c.doseTeacherEpochs, c.doseSupervisedEpochs) = (1, 500, [1, 2, 4, 8], []) }
            return c
        }

        /// `supervised --data-regime full`'s ConvNet recipe (Teachers.recipe), for 2 epochs at the
        /// default scale instead of 7: 90.19 % instead of 92.84 %, relabelling as many views (55 %
        /// against 54 %) with the tokens as far apart, in 1.8 minutes of training instead of about
        /// 7 (papers/deit-sweep.md). The full scale keeps this teacher and trains the students longer.
        static func supervisedTeacher(_ scale: Scale) -> SupervisedRecipe {
            guard scale != .quick else { return Teachers.recipe(.convnet, .quick) }
            var r = Teachers.recipe(.convnet, .default)
            r.epochs = 2
            return r
        }

        func validate() throws {
            try student.validate()
            try Flags.count("seeds", seeds, 1...100)
            for e in doseTeacherEpochs { try Flags.count("dose-teacher-epochs", e, 1...SupervisedRecipe.maxEpochs) }
            for e in doseSupervisedEpochs { try Flags.count("dose-supervised-epochs (the preset's)", e, 1...SupervisedRecipe.maxEpochs) }
            try Flags.count("probe-images", probeImages, 1...10_000)
            try recipe.validate()
            try teacher.validate()
            try doseTeacher.validate()
            try loss.validate()
        }
    }

    // The flags, each setting one field of the config, for the trials of papers/deit-sweep.md
    // and the dose-response study.
    struct Options: ConfigFlags {
        @Option(help: "Number of seeds: seed, seed+1, … (default scale: \(Config.preset(.default).seeds); the paper's 1); each trains a DeiT⚗ student and a control.") var seeds: Int?
        @Option(help: "Models to train, comma-separated: distillation (DeiT⚗), two_class_tokens (the control); both by default.")
        var runs: String?
        @Option(help: "Students' width, timm's embed_dim (default scale: \(Config.preset(.default).student.width); DeiT-B: 768); heads stay at the preset's count.") var width: Int?
        @OptionGroup(title: "Students' recipe") var student: StudentRecipeFlags<Config>
        @Option(help: "How the ConvNet teacher is trained: supervised (on its own recipe: a flip only, all 60 000 images, as `supervised --data-regime full` trains it, for 2 epochs; the default) or distillation (on the students' images with their augmentation, as `distillation`'s).") var teacherRecipe: String?
        @Option(help: "Epochs of the ConvNet teacher (default scale: \(Config.preset(.default).teacher.epochs)); fewer make a weaker teacher.")
        var teacherEpochs: Int?
        @Option(help: "What the distillation head learns: hard (the teacher's argmax, DeiT⚗) or soft (its distribution at τ).") var distillationTarget: String?
        @Option(help: "The prefix tokens' learning rate as a multiple of the base (1: timm).")
        var tokenLRScale: Float?
        @Option(help: "Weight decay on the prefix tokens: on or off (timm: off).") var tokenWeightDecay: String?
        @Option(help: "Test images the per-epoch cosines average over (default scale: \(Config.preset(.default).probeImages)).")
        var probeImages: Int?
        @Flag(help: "Run the dose-response study instead: DeiT⚗ with teachers of several strengths (--dose-teacher-epochs), against the control; writes token-similarity-dose.{tsv,json}.") var doseResponse = false
        @Option(help: "With --dose-response: the epoch counts of `distillation`'s teacher, comma-separated (the preset's: 1,2,5,40; quick 1,2,4,8).")
        var doseTeacherEpochs: String?

        func apply(to config: inout Config, scale: Scale) throws {
            if let seeds { config.seeds = seeds }
            if let runs { config.runs = try Flags.list("runs", runs, takes: "distillation, two_class_tokens") { Kind(rawValue: $0) } }
            try Flags.count("teacher-epochs", teacherEpochs, 1...SupervisedRecipe.maxEpochs)
            if let width { config.student.width = width }
            try student.update(&config.recipe)
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

    typealias Kind = TokenStudy.Kind
    typealias Run = TokenStudy.Run

    func run(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        config.doseResponse ? try doseResponse(config, lab) : try pair(config, lab)
    }

    /// One model of seed `seed` (TokenStudy.train), cached as `token-similarity-<kind>`.
    func train(_ kind: Kind, seed: UInt64, teacherRecipe: SupervisedRecipe, _ config: Config, _ lab: ExperimentContext) throws -> Run {
        try TokenStudy.train(kind, seed: seed, artifactName: "\(Self.name)-\(kind.rawValue)", student: config.student, recipe: config.recipe,
                             loss: config.loss, teacherRecipe: teacherRecipe, probeImages: config.probeImages, lab: lab)
    }

    /// The default study: per seed, DeiT⚗ and the control.
    func pair(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        if config.runs.contains(.distillation) { _ = try TokenStudy.teacher(config.teacher, lab) }  // before the students, which then load it
        let seeds = lab.seeds(config.seeds)
        // Every DeiT⚗ student first: each takes about twice a control's time (the teacher's
        // forward), so the controls fill the lanes at the end.
        let jobs = config.runs.sorted { $0 == .distillation && $1 != .distillation }.flatMap { kind in seeds.map { ($0, kind) } }
        let runs = try SideBySide.run(jobs.count, lanes: config.lanes) { i in
            try train(jobs[i].1, seed: jobs[i].0, teacherRecipe: config.teacher, config, lab)
        }
        let byKind = Dictionary(grouping: zip(jobs, runs), by: { $0.0.1 }).mapValues { $0.map(\.1) }
        let (student, control) = (byKind[.distillation].map(TokenStudy.ModelSummary.init), byKind[.control].map(TokenStudy.ModelSummary.init))

        var report = Report(results: TokenStudy.Summary(distillation: student, twoClassTokens: control))
        let common = [
            "scale \(lab.scale.rawValue), seeds \(seeds.map(String.init).joined(separator: ",")), student \(Results.jsonText(Results.jsonObject(config.student))), recipe \(Results.jsonText(Results.jsonObject(config.recipe))), loss \(Results.jsonText(Results.jsonObject(config.loss)))",
            lab.provenance,
            String(format: "paper (DeiT §4): learned tokens %.2f, last layer %.2f, two class tokens %.3f", TokenStudy.paper.inputTokens,
                   TokenStudy.paper.lastLayer, TokenStudy.paper.twoClassTokens)]
        report.add("token-similarity.tsv", TokenStudy.depthTable(depth: config.student.depth, runs: byKind), comments: [
            "cosine between token 0 (class) and token 1 (distillation / second class token), averaged over the 10 000 test images; mean and std over seeds, then the median"] + common)
        report.add("token-similarity-epochs.tsv", TokenStudy.epochTable(depth: config.student.depth, epochs: config.recipe.epochs, runs: byKind), comments: [
            "after each epoch: the same cosines over the first \(config.probeImages) test images, mean and std over seeds; the share of training views whose teacher argmax differs from the dominant true label; the medians over seeds; each block"] + common)

        report.add("token-similarity-seeds.tsv", text: (["# every model alone: columns 1–2 its cosine through the network (0 learned tokens … depth + 1 after the norm, over the 10 000 test images), columns 3–5 its cosines after each epoch (the first \(config.probeImages)); one block per model, \(Kind.allCases.map(\.rawValue).joined(separator: " seeds, then ")) seeds"]
                                                          + common.map { "# " + $0 }).joined(separator: "\n") + "\n" + TokenStudy.seedBlocks(seeds: seeds, runs: byKind).joined(separator: "\n\n"))
        return report
    }

    /// The dose-response study (beyond the paper): DeiT⚗'s output cosine against how often its
    /// teacher's label differs from the view's true label: `distillation`'s teacher trained for
    /// each of `doseTeacherEpochs` (fewer epochs: a weaker teacher that disagrees more), and the
    /// default's, also trained for each of `doseSupervisedEpochs`; the student and its views as
    /// the default's; the control once, as the reference.
    func doseResponse(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        let distinct = TokenStudy.doseTeachers(config.doseTeacher, epochs: config.doseTeacherEpochs, supervised: config.teacher,
                                               supervisedEpochs: config.doseSupervisedEpochs, lab: lab)
        let teachers = try distinct.map { (name: $0.0, recipe: $0.1, accuracy: try TokenStudy.teacher($0.1, lab).accuracy) }
        let seeds = lab.seeds(config.seeds)
        let jobs: [(setting: Int?, seed: UInt64)] = seeds.map { (nil, $0) } + teachers.indices.flatMap { t in seeds.map { (t, $0) } }
        let runs = try SideBySide.run(jobs.count, lanes: config.lanes) { i in
            let (setting, seed) = jobs[i]
            return try train(setting == nil ? .control : .distillation, seed: seed, teacherRecipe: teachers[setting ?? 0].recipe, config, lab)
        }
        let control = TokenStudy.ModelSummary(Array(runs.prefix(seeds.count)))
        let settings = teachers.enumerated().map { t, teacher in
            TokenStudy.DoseSetting(name: teacher.name, teacherEpochs: teacher.recipe.epochs, teacherAccuracy: teacher.accuracy,
                                   distillation: TokenStudy.ModelSummary(zip(jobs, runs).filter { $0.0.setting == t }.map(\.1)))
        }
        var report = Report(results: TokenStudy.DoseSummary(settings: settings, twoClassTokens: control))
        report.add("token-similarity-dose.tsv", TokenStudy.doseTable(settings, control: control, seeds: seeds), comments: [
            "DeiT⚗ taught by ConvNet teachers of different strength (distillation-N: `distillation`'s teacher trained for N epochs on the students' images and augmentation; supervised-N: `supervised`'s, a flip only on all 60 000 images, trained for N epochs; the default's is supervised-\(config.teacher.epochs)ep): the cosine between its tokens (after the final norm, and the learned tokens) over the 10 000 test images, against the share of training views whose teacher argmax differs from the dominant true label; mean and std over seeds; the control's values repeated on every row",
            "scale \(lab.scale.rawValue), seeds \(seeds.map(String.init).joined(separator: ",")), student \(Results.jsonText(Results.jsonObject(config.student))), recipe \(Results.jsonText(Results.jsonObject(config.recipe)))",
            lab.provenance])
        report.summaryName = "token-similarity-dose"
        return report
    }
}

ExperimentRunner<TokenSimilarity>.main()
