// DeiT §4's token study: what it measures on each trained model (TokenCosines, its heads, the
// teacher's disagreement with the labels), its summaries over seeds, and its tables.
import Data
import Foundation
import NN
import Tensor

public enum TokenStudy {
    /// The two models of a seed: DeiT⚗, and the control with two class tokens.
    public enum Kind: String, CaseIterable, Codable, Sendable { case distillation, control = "two_class_tokens" }

    /// DeiT §4 (DeiT-B⚗ on ImageNet).
    public static let paper = (inputTokens: 0.06, lastLayer: 0.93, twoClassTokens: 0.999)

    /// One trained model's measures.
    public struct Run: Codable {
        public var cosines: TokenCosines
        public var heads: HeadEvaluation
        public var history: [EpochRecord]
        public init(cosines: TokenCosines, heads: HeadEvaluation, history: [EpochRecord]) { (self.cosines, self.heads, self.history) = (cosines, heads, history) }
        /// Training views whose teacher argmax differs from their dominant true label, over all epochs.
        public var disagreement: Double? {
            let rates = history.compactMap { $0.metrics?["teacherLabelFlips"] }
            return rates.isEmpty ? nil : rates.reduce(0, +) / Double(rates.count)
        }
    }

    /// Mean and sample std over seeds.
    public struct Spread: Encodable {
        public let mean: Double, std: Double
        public init(_ values: [Double]) { (mean, std) = meanAndStd(values) }
    }

    /// One model kind over its seeds, as the summary shows it.
    public struct ModelSummary: Encodable {
        public let inputTokensMean: Double, inputTokensStd: Double, outputMean: Double, outputStd: Double
        public let inputWithPositions: Spread, blocks: [Spread], classHeadAccuracy: Spread, secondHeadAccuracy: Spread
        public let disagreementRate: Spread?
        public let plateauGain: Spread?   // the class head's curve's rise over its last fifth (plateauGain)
        public let perSeed: [[String: Double]]

        public init(_ runs: [Run]) {
            (inputTokensMean, inputTokensStd) = meanAndStd(runs.map(\.cosines.inputTokens))
            (outputMean, outputStd) = meanAndStd(runs.map(\.cosines.output))
            inputWithPositions = Spread(runs.map(\.cosines.inputWithPositions))
            blocks = runs[0].cosines.blocks.indices.map { i in Spread(runs.map { $0.cosines.blocks[i] }) }
            classHeadAccuracy = Spread(runs.map(\.heads.classHead))
            secondHeadAccuracy = Spread(runs.map { $0.heads.distillationHead! })
            let rates = runs.compactMap(\.disagreement)
            disagreementRate = rates.isEmpty ? nil : Spread(rates)
            plateauGain = plateauGains(runs.map { $0.history.map(\.testAccuracy) }).map(Spread.init)
            perSeed = runs.map { r in
                var d = ["input_tokens": r.cosines.inputTokens, "output": r.cosines.output, "class_head_accuracy": r.heads.classHead]
                if let rate = r.disagreement { d["disagreement_rate"] = rate }
                return d
            }
        }
    }

    public struct Summary: Encodable {
        public struct Paper: Encodable {
            public let inputTokens: Double, lastLayer: Double, twoClassTokens: Double
        }
        public let distillation: ModelSummary?
        public let twoClassTokens: ModelSummary?
        public let paper: Paper
        public init(distillation: ModelSummary?, twoClassTokens: ModelSummary?) {
            (self.distillation, self.twoClassTokens) = (distillation, twoClassTokens)
            paper = Paper(inputTokens: TokenStudy.paper.inputTokens, lastLayer: TokenStudy.paper.lastLayer, twoClassTokens: TokenStudy.paper.twoClassTokens)
        }
    }


    /// One setting of the dose-response study.
    public struct DoseSetting: Encodable {
        public let name: String, teacherEpochs: Int, teacherAccuracy: Double, distillation: ModelSummary
        public init(name: String, teacherEpochs: Int, teacherAccuracy: Double, distillation: ModelSummary) {
            (self.name, self.teacherEpochs, self.teacherAccuracy, self.distillation) = (name, teacherEpochs, teacherAccuracy, distillation)
        }
    }

    public struct DoseSummary: Encodable {
        public let settings: [DoseSetting]
        public let twoClassTokens: ModelSummary
        public init(settings: [DoseSetting], twoClassTokens: ModelSummary) { (self.settings, self.twoClassTokens) = (settings, twoClassTokens) }
    }

    /// One row per depth: 0 the learned tokens, 1…depth after each block, depth + 1 after the
    /// final norm; each model's mean and std over seeds, then each model's median (the control's
    /// seeds split: most converge, one may not, and it pulls the mean).
    public static func depthTable(depth: Int, runs byKind: [Kind: [Run]]) -> Table {
        let names = ["tokens"] + (1...depth).map { "block\($0)" } + ["norm"]
        /// Per depth, the values over seeds (none when the kind did not run).
        func byDepth(_ kind: Kind) -> [[Double]] {
            let profiles = (byKind[kind] ?? []).map(\.cosines.profile)
            return names.indices.map { i in profiles.map { $0[i] } }
        }
        var table = Table([.init("depth"), .init("where"), .init("distillation_mean"), .init("distillation_std"),
                           .init("two_class_tokens_mean"), .init("two_class_tokens_std"), .init("distillation_median"), .init("two_class_tokens_median")])
        for (i, (d, c)) in zip(byDepth(.distillation), byDepth(.control)).enumerated() {
            let (student, control) = (meanAndStd(d), meanAndStd(c))
            table.append([i, names[i], student.mean, student.std, control.mean, control.std, median(d), median(c)])
        }
        return table
    }

    /// Per epoch, mean and std over seeds of the probe's cosines, and the teacher's disagreement:
    /// the learned tokens and the output first, then their medians over seeds, then each block's
    /// mean and std.
    public static func epochTable(depth: Int, epochs: Int, runs byKind: [Kind: [Run]]) -> Table {
        let blocks = (1...depth).map { "block\($0)" }
        var columns: [Table.Column] = [.init("epoch")]
        for kind in Kind.allCases { for n in ["tokens", "norm"] { columns += [.init("\(kind.rawValue)_\(n)_mean"), .init("\(kind.rawValue)_\(n)_std")] } }
        columns += [.init("disagreement_mean"), .init("disagreement_std")]
        for kind in Kind.allCases { for n in ["tokens", "norm"] { columns.append(.init("\(kind.rawValue)_\(n)_median")) } }
        for kind in Kind.allCases { for n in blocks { columns += [.init("\(kind.rawValue)_\(n)_mean"), .init("\(kind.rawValue)_\(n)_std")] } }
        var table = Table(columns)
        for e in 0..<epochs {
            func values(_ kind: Kind, _ metric: String) -> [Double] { (byKind[kind] ?? []).map { $0.history[e].metrics?[metric] ?? .nan } }
            func spread(_ kind: Kind, _ metric: String) -> [Any] {
                let s = meanAndStd(values(kind, metric))
                return [s.mean, s.std]
            }
            table.append([e + 1] + Kind.allCases.flatMap { kind in ["tokens", "norm"].flatMap { spread(kind, "cos_\($0)") } }
                         + spread(.distillation, "teacherLabelFlips")
                         + Kind.allCases.flatMap { kind in ["tokens", "norm"].map { median(values(kind, "cos_\($0)")) as Any } }
                         + Kind.allCases.flatMap { kind in blocks.flatMap { spread(kind, "cos_\($0)") } })
        }
        return table
    }

    /// Every model alone, one block each (gnuplot's `index`): DeiT⚗'s seeds, then the control's;
    /// columns 1–2 its cosine through the network, 3–5 its cosines after each epoch. A kind not
    /// run gets empty blocks, which keep the layout the figure reads.
    public static func seedBlocks(seeds: [UInt64], runs byKind: [Kind: [Run]]) -> [String] {
        var models: [String] = []
        for kind in Kind.allCases {
            guard let runs = byKind[kind] else {
                models += seeds.map { "# \(kind.rawValue) seed \($0): not run\nnan\tnan\tnan\tnan\tnan\n" }
                continue
            }
            for (seed, run) in zip(seeds, runs) {
                var block = Table([.init("where"), .init("cos"), .init("epoch"), .init("cos_tokens"), .init("cos_norm")])
                let profile = run.cosines.profile
                for row in 0..<max(profile.count, run.history.count) {
                    let record = row < run.history.count ? run.history[row].metrics : nil
                    block.append([row < profile.count ? row : Double.nan, row < profile.count ? profile[row] : .nan,
                                  row < run.history.count ? row + 1 : Double.nan, record?["cos_tokens"] ?? .nan, record?["cos_norm"] ?? .nan])
                }
                models.append(block.tsv(comments: ["\(kind.rawValue) seed \(seed)"]))
            }
        }
        return models
    }

    /// The ConvNet teacher trained by `recipe` for the run's seed (every student seed learns from
    /// it, as in the distillation study): loaded from the cache, or trained there.
    public static func teacher(_ recipe: SupervisedRecipe, _ lab: ExperimentContext) throws -> (model: any Classifier, accuracy: Double) {
        let (model, history) = try Teachers.artifact(.convnet, scale: lab.scale, seed: lab.seed, data: lab.data, recipe: recipe)
            .trained(cache: lab.cache, checkpoint: lab.checkpoints.run("teacher-" + teacherName(recipe, lab)))
        return (model, recipe.curveImages == nil ? history.last!.testAccuracy : accuracy(model, on: lab.data.test, data: lab.data))
    }

    /// A teacher's name in checkpoints and tables: its cache file's, without the extension.
    public static func teacherName(_ recipe: SupervisedRecipe, _ lab: ExperimentContext) -> String {
        (Teachers.artifact(.convnet, scale: lab.scale, seed: lab.seed, data: lab.data, recipe: recipe).fileName as NSString).deletingPathExtension
    }

    /// One model of seed `seed`: DeiT⚗ taught by the teacher of `teacherRecipe`, or the control.
    /// Both start from the same weights (the second token too) and see the same views in the same
    /// order, so only the second head's target differs. Cached with its history (the per-epoch
    /// cosines, under `artifactName`), so the dose-response study reuses the default's models.
    public static func train(_ kind: Kind, seed: UInt64, artifactName: String, student: ViTConfig, recipe: SupervisedRecipe, loss: DistillationConfig,
                             teacherRecipe: SupervisedRecipe, probeImages: Int, lab: ExperimentContext) throws -> Run {
        let data = lab.data, probe = data.test.prefix(probeImages)
        var architecture = student
        architecture.prefix = kind == .distillation ? .clsAndDist : .twoCls
        let label = "\(kind == .distillation ? "DeiT⚗ (teacher \(teacherName(teacherRecipe, lab)))" : "two class tokens") seed \(seed)"
        let teacherFile = Teachers.artifact(.convnet, scale: lab.scale, seed: lab.seed, data: data, recipe: teacherRecipe).fileName
        // What determines the weights and the stored history's cosines; the per-epoch accuracy
        // (on the probe) touches neither the weights nor the generators.
        let identity: [AnyHashableCodable] = [AnyHashableCodable(architecture), AnyHashableCodable(recipe), AnyHashableCodable(probeImages)]
            + (kind == .distillation ? [AnyHashableCodable(loss), AnyHashableCodable(teacherFile)] : [])
        let artifact = Artifact<VisionTransformer, [EpochRecord]>(artifactName, scale: lab.scale, seed: seed, identity: identity) {
            var initial = DeiTStudent.rng(seed: seed), views = DeiTStudent.viewsRNG(seed: seed)
            let model = try VisionTransformer(architecture, rng: &initial)
            let measure = { tokenCosines(model, on: probe, data: data).metrics }
            return (model, { checkpoint in
                switch kind {
                case .distillation:
                    return try DeiTStudent.train(model, teacher: try teacher(teacherRecipe, lab).model, loss: loss, recipe: recipe,
                                                 data: data, label: label, rng: &views, probe: measure, evaluation: probe, checkpoint: checkpoint)
                case .control:
                    let objective = try twoClassTokenObjective(student: model, labelSmoothing: recipe.labelSmoothing)
                    return try trainClassifier(model, recipe: recipe, data: data, label: label, rng: &views, objective: objective,
                                               probe: measure, evaluation: probe, checkpoint: checkpoint)
                }
            })
        }
        let checkpoint = lab.checkpoints.run("\(kind.rawValue)-\(kind == .distillation ? teacherName(teacherRecipe, lab) + "-" : "")seed\(seed)")
        let (model, history) = try artifact.trained(cache: lab.cache, checkpoint: checkpoint)
        let run = Run(cosines: tokenCosines(model, on: data.test, data: data), heads: evaluateHeads(model, teacher: nil, data: data),
                      history: history)
        let c = run.cosines
        print(String(format: "%@: cos learned tokens %.3f (with positions %.3f), after each block %@, output %.3f; heads %.2f%% and %.2f%%%@",
                     label, c.inputTokens, c.inputWithPositions, c.blocks.map { String(format: "%.3f", $0) }.joined(separator: " "),
                     c.output, run.heads.classHead, run.heads.distillationHead!,
                     run.disagreement.map { String(format: "; teacher ≠ label on %.1f%% of views", 100 * $0) } ?? ""))
        return run
    }

    /// The dose-response study's table: one row per teacher, its student's cosines and
    /// disagreement beside the control's (repeated on every row), then each seed's output cosine.
    public static func doseTable(_ settings: [DoseSetting], control: ModelSummary, seeds: [UInt64]) -> Table {
        var table = Table([.init("setting"), .init("teacher_epochs"), .init("teacher_accuracy", "%"), .init("disagreement_mean"), .init("disagreement_std"),
                           .init("output_mean"), .init("output_std"), .init("input_tokens_mean"), .init("input_tokens_std"),
                           .init("control_output_mean"), .init("control_output_std"), .init("control_input_tokens_mean"), .init("control_input_tokens_std")]
                          + seeds.map { .init("output_seed\($0)") })
        for setting in settings {
            let student = setting.distillation
            table.append([setting.name, setting.teacherEpochs, setting.teacherAccuracy, student.disagreementRate!.mean, student.disagreementRate!.std,
                          student.outputMean, student.outputStd, student.inputTokensMean, student.inputTokensStd,
                          control.outputMean, control.outputStd, control.inputTokensMean, control.inputTokensStd]
                          + student.perSeed.map { $0["output"]! })
        }
        return table
    }

    /// The dose-response study's teachers by name: the `distillation` recipe trained for each of
    /// `epochs` ("distillation-Nep"), and the `supervised` recipe for its own epochs and each of
    /// `supervisedEpochs` ("supervised-Nep"); one per distinct teacher (at the quick scale the two
    /// recipes coincide).
    public static func doseTeachers(_ distillation: SupervisedRecipe, epochs: [Int], supervised: SupervisedRecipe, supervisedEpochs: [Int],
                                    lab: ExperimentContext) -> [(String, SupervisedRecipe)] {
        func trained(_ recipe: SupervisedRecipe, _ epochs: Int) -> SupervisedRecipe { var r = recipe; r.epochs = epochs; return r }
        let recipes = epochs.map { ("distillation-\($0)ep", trained(distillation, $0)) }
            + Set([supervised.epochs] + supervisedEpochs).sorted().map { ("supervised-\($0)ep", trained(supervised, $0)) }
        return recipes.filter { r in recipes.first { teacherName($0.1, lab) == teacherName(r.1, lab) }!.0 == r.0 }
    }
}
