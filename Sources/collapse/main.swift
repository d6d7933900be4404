// collapse — Why does DINO need both centering and sharpening? DINO §5.3 (Fig. 7) splits the
// loss as H(Pt, Ps) = h(Pt) + KL(Pt‖Ps): with one operation missing, KL goes to 0 (the student
// copies a constant teacher) — towards a uniform teacher, h → ln K, with centering only, and
// towards a one-hot teacher, h → 0, with sharpening only. With both, KL stays above 0.
//
// Writes figures/data/collapse.tsv (every step of the three runs) and collapse.json;
// figures/collapse.gp draws them.
import ArgumentParser
import Foundation
import Lab
import NN
import Tensor

/// The three runs of Fig. 7: what each does to the teacher's output.
enum Ablation: String, CaseIterable, Codable {
    case centeringOnly = "centering-only"      // τt = τs: no sharpening
    case sharpeningOnly = "sharpening-only"    // c = 0: no centering
    case both = "both"                         // DINO

    func apply(to recipe: inout DINORecipe) {
        switch self {
        case .centeringOnly:
            (recipe.warmupTeacherTemperature, recipe.teacherTemperature) = (recipe.studentTemperature, recipe.studentTemperature)
        case .sharpeningOnly: recipe.centering = false
        case .both: break
        }
    }
}

/// Every knob: DINORecipe.fashionMNIST with its momentum teacher (width 96), the
/// paper's values beside each field of DINORecipe (Lab/DINO/DINORecipe.swift). The teacher temperature stays
/// at 0.04 (no warmup): Fig. 7's point is what each operation does alone. Collapse is a matter of
/// steps, so the small batch of that recipe (many steps per image) gets each run to its end.
struct Config: RecipeConfig, SideBySideConfig {
    var recipe: DINORecipe
    var variants = Ablation.allCases
    var ks = [20]
    var lanes = Parallel.threads    // runs trained side by side (SideBySide); the results do not depend on it

    static func preset(_ scale: Scale) -> Config {
        var r: DINORecipe
        switch scale {
        case .quick: r = .quick(epochs: 2)
        case .default: r = .fashionMNIST(epochs: 4, trainImages: 15_000)
        case .full: r = .fashionMNIST(epochs: 10, trainImages: nil)
        }
        (r.warmupTeacherTemperature, r.teacherTemperature, r.warmupTeacherTemperatureEpochs) = (0.04, 0.04, 0)
        return Config(recipe: r)
    }

    var runBytes: Double { recipe.estimatedStepBytes }

    func validate() throws {
        try recipe.validate()
    }
}

struct Collapse: Experiment {
    static let name = "collapse"
    static let abstract = "DINO with centering only, sharpening only, and both: teacher entropy and KL per step (DINO §5.3, Fig. 7)."

    typealias Options = DINORecipeFlags<Config>  // unset: the scale's preset, as --show-config prints it

    /// A run's state at the end: its last epoch's steps averaged.
    struct Final: Encodable {
        let teacherEntropy: Double, kl: Double, loss: Double, featureStd: Double
        @NullWhenNil var knn20: Double?
        let teacherTemperature: Float, centering: Bool, entropyOverLnK: Double
        @NullWhenNil var klPlateauGain: Double?   // the per-epoch KL's change over the last fifth (plateauGain); full scale: > −0.005
    }

    func run(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        let lnK = Foundation.log(Double(config.recipe.head.outDim))
        let comments = ["DINO's collapse study (§5.3, Fig. 7): the teacher entropy h(Pt) and KL(Pt‖Ps) per training step",
                        "ln K = \(lnK) (K = \(config.recipe.head.outDim)); scale \(lab.scale.rawValue), seed \(lab.seed)",
                        "recipe \(Results.jsonText(Results.jsonObject(config.recipe)))",
                        lab.provenance]
        var table = Table([.init("variant"), .init("step"), .init("loss", "nats"), .init("teacher_entropy", "nats"), .init("kl", "nats"),
                           .init("center_norm"), .init("feature_std"), .init("ln_k", "nats")])
        var runs: [String: Final] = [:]
        let trained = try SideBySide.run(config.variants.count, lanes: config.lanes) { i in
            let variant = config.variants[i]
            var recipe = config.recipe
            variant.apply(to: &recipe)
            let trainer = try DINOTrainer(recipe: recipe, data: lab.data, seed: lab.seed ^ fnv1a("collapse"))
            let history = try trainer.train(label: variant.rawValue, evaluation: KNNSchedule(ks: config.ks, every: recipe.epochs),
                                            checkpoint: lab.checkpoints.run(variant.rawValue))
            return (recipe, trainer.stepRecords, trainer.stepsPerEpoch, history.last!.knn[20], plateauGain(history.map { Double($0.kl) }))
        }
        for (variant, (recipe, steps, stepsPerEpoch, knn20, klPlateauGain)) in zip(config.variants, trained) {
            for r in steps {
                table.append([variant.rawValue, r.step, r.loss, r.teacherEntropy, r.kl, r.centerNorm, r.featureStd, lnK])
            }
            let last = steps.suffix(stepsPerEpoch)
            // The state at the end: the last epoch's steps averaged.
            func mean(_ f: (DINOStepRecord) -> Float) -> Double { last.reduce(0) { $0 + Double(f($1)) } / Double(last.count) }
            runs[variant.rawValue] = Final(teacherEntropy: mean(\.teacherEntropy), kl: mean(\.kl), loss: mean(\.loss),
                                           featureStd: mean(\.featureStd), knn20: knn20, teacherTemperature: recipe.teacherTemperature,
                                           centering: recipe.centering, entropyOverLnK: mean(\.teacherEntropy) / lnK, klPlateauGain: klPlateauGain)
            print(String(format: "%@: last epoch h(Pt) %.3f (ln K %.3f), KL %.4f, k-NN20 %.2f%%", variant.rawValue,
                         mean(\.teacherEntropy), lnK, mean(\.kl), knn20 ?? .nan))
        }
        var report = Report(results: Merged(runs, ["ln_k": lnK]))
        report.add("collapse.tsv", table, comments: comments)
        return report
    }
}

ExperimentRunner<Collapse>.main()
