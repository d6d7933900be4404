// ema-teacher — Which teacher lets a student learn without labels? DINO §5.2 (Fig. 6 right)
// builds the teacher from the student in four ways and reports ImageNet k-NN after 300 epochs:
// momentum (EMA) 72.8, previous epoch 66.6, previous iteration 0.1, student copy 0.1. We add a
// teacher frozen at its random initialization, and report each over 3 seeds (`--seeds` for more).
//
// Writes figures/data/ema-teacher-{runs,curves,final}.tsv and ema-teacher.json;
// figures/ema-teacher.gp draws them.
import ArgumentParser
import Data
import Foundation
import Lab
import NN
import Tensor

/// Every knob; the paper's values are beside each field of DINORecipe (Lab/DINO/DINORecipe.swift). The
/// trials that chose them are in papers/dino-sweep.md.
struct Config: RecipeConfig, SideBySideConfig {
    var recipe: DINORecipe
    var teachers = TeacherUpdate.allCases
    var seeds = 3                   // paper: one run per teacher; 3, for the ordering's pooled std
    var evaluation: KNNSchedule     // KNNSchedule.curves: k-NN20 (official eval_knn.py default) and k-NN200 on a subset bank after
                                    // each epoch, all 60 000 after the last (the paper's protocol)
    var lanes = Parallel.threads    // runs trained side by side (SideBySide); the results do not depend on it
    var probe = LinearProbeRecipe()
    static let maxSeeds = 100
    /// The paper's k-NN after 300 epochs on ImageNet (DINO §5.2, Fig. 6 right); nil: not in it.
    static let paper: [TeacherUpdate: Double] = [.momentum: 72.8, .previousEpoch: 66.6, .previousIteration: 0.1, .studentCopy: 0.1]

    static func preset(_ scale: Scale) -> Config {
        switch scale {
        case .quick:
            var c = Config(recipe: .quick(epochs: 2), evaluation: .curves(scale))
            (c.seeds, c.probe.epochs) = (1, 2)
            return c
        case .default, .full:
            // Full epochs (3 by default, 5 625 steps; DINORecipe.sharedTeacher): the previous-epoch
            // teacher lags a whole pass over the data, as in the paper; 12 short epochs of 15 000
            // let it tie momentum (dino-sweep.md).
            return Config(recipe: .sharedTeacher(scale), evaluation: .curves(scale))
        }
    }

    var runBytes: Double { recipe.estimatedStepBytes }

    func validate() throws {
        try Flags.count("seeds", seeds, 1...Config.maxSeeds)
        if let bank = evaluation.subsetBank {
            try Flags.count("subset-bank", bank, 1...60_000, note: "0 for all 60 000")
            if bank < evaluation.ks.max()! {
                throw ValidationError("--subset-bank \(bank) is smaller than k = \(evaluation.ks.max()!); use at least that many images, or 0")
            }
        }
        try recipe.validate()
    }
}

struct EMATeacher: Experiment {
    static let name = "ema-teacher"
    static let abstract = "DINO with five teachers — momentum, student copy, previous iteration, previous epoch, fixed random (DINO §5.2)."

    struct Options: ConfigFlags {
        @OptionGroup(title: "DINO recipe (unset: the scale's preset, as --show-config prints it)") var recipe: DINORecipeFlags<Config>
        @Option(help: "Teachers, comma-separated: \(TeacherUpdate.allCases.map(\.rawValue).joined(separator: ", ")).") var teachers: String?
        @Option(help: "Number of seeds per teacher: seed, seed+1, … (default scale: \(Config.preset(.default).seeds); the paper's 1).") var seeds: Int?
        @Option(help: "Bank of the intermediate epochs' k-NN: the first N training images (default scale: \(Config.preset(.default).evaluation.subsetBank ?? 0)); 0: all 60 000 after every epoch.") var subsetBank: Int?

        func apply(to config: inout Config) throws {
            if let teachers {
                config.teachers = try Flags.list("teachers", teachers, takes: TeacherUpdate.allCases.map(\.rawValue).joined(separator: ", ")) {
                    TeacherUpdate(rawValue: $0)
                }
            }
            if let seeds { config.seeds = seeds }
            if let subsetBank { config.evaluation.subsetBank = subsetBank == 0 ? nil : subsetBank }
            try recipe.update(&config.recipe)
        }
    }

    func run(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        let data = lab.data
        let seeds = lab.seeds(config.seeds)
        print("ema-teacher: seeds \(seeds.map(String.init).joined(separator: ", ")), \(config.lanes) runs at once")
        let start = Date()
        try config.evaluation.check(training: data.train.count)
        let pixelKNN = weightedKNN(train: normalizedPixels(of: data.train), trainLabels: data.train.labels,
                                   test: normalizedPixels(of: data.test), testLabels: data.test.labels, ks: config.evaluation.ks)
        print("raw pixels: " + config.evaluation.ks.map { "k-NN\($0) \(String(format: "%.2f", pixelKNN[$0]!))%" }.joined(separator: "  "))
        fflush(nil)

        // Every teacher of a seed starts from the same network (the trainer's seed does not
        // depend on the teacher), so one evaluation per seed gives every curve its epoch 0 and is
        // the whole of the fixed-random teacher, which never changes.
        let trained = config.teachers.filter { $0 != .fixedRandom }
        let jobs = seeds.map { (TeacherUpdate.fixedRandom, $0) } + trained.flatMap { kind in seeds.map { (kind, $0) } }
        var results = try SideBySide.run(jobs.count, lanes: config.lanes) { i in
            try run(jobs[i].0, seed: jobs[i].1, config: config, lab: lab)
        }
        for i in seeds.count..<results.count { results[i].subsetCurve.insert(results[i % seeds.count].subsetCurve[0], at: 0) }
        return TeacherRun.report(name: Self.name, Dictionary(grouping: results, by: \.kind), teachers: config.teachers, pixelKNN: pixelKNN, recipe: config.recipe,
                                 evaluation: config.evaluation, probe: config.probe, seeds: config.seeds, lanes: config.lanes,
                                 paper: Config.paper, lab: lab, seconds: Date().timeIntervalSince(start))
    }

    /// Trains (or loads the artifact of; for the fixed-random teacher, only evaluates) one teacher
    /// from one seed, then fits the linear probe on its final features.
    func run(_ kind: TeacherUpdate, seed: UInt64, config: Config, lab: ExperimentContext) throws -> TeacherRun {
        let data = lab.data
        var recipe = config.recipe
        recipe.teacher = kind
        let label = "\(kind.rawValue) seed \(seed)"
        var run: TeacherRun, features: (train: Tensor, test: Tensor)
        if kind == .fixedRandom {
            let trainer = try DINOTrainer(recipe: recipe, data: data, seed: Artifacts.dinoSeed(seed))
            let (full, subset) = trainer.evaluateTeacher(config.evaluation)
            run = TeacherRun(kind: kind, seed: seed, history: [], knn: full, subsetCurve: [(subset.isEmpty ? full : subset)[20] ?? .nan],
                      probe: .nan, testFeatureSpread: 0)
            features = trainer.lastFeatures!
        } else {
            let (teacher, history) = try Artifacts.dino(recipe: recipe, evaluation: config.evaluation, scale: lab.scale, seed: seed, data: data, label: label)
                .trained(cache: lab.cache, checkpoint: lab.checkpoints.run("\(kind.rawValue)-seed\(seed)"))
            run = TeacherRun(kind: kind, seed: seed, history: history, knn: history.last!.knn,
                      subsetCurve: history.map { (config.evaluation.subsetBank == nil ? $0.knn : $0.knnSubset)[20] ?? .nan }, probe: .nan,
                      testFeatureSpread: 0)
            features = (normalizedFeatures(teacher, of: data.train, data: data), normalizedFeatures(teacher, of: data.test, data: data))
        }
        var probeRNG = RNG(seed: seed ^ fnv1a("probe"))
        run.probe = linearProbe(train: features.train, trainLabels: data.train.labels, test: features.test, testLabels: data.test.labels,
                                recipe: config.probe, rng: &probeRNG)
        run.testFeatureSpread = featureSpread(features.test)
        print("\(label): k-NN20 \(String(format: "%.2f", run.knn[20] ?? .nan))%, linear probe \(String(format: "%.2f", run.probe))%, "
              + "test feature spread \(String(format: "%.4f", run.testFeatureSpread))")
        fflush(nil)
        return run
    }
}

ExperimentRunner<EMATeacher>.main()
