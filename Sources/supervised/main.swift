// supervised — How well do a small ConvNet and a small ViT learn Fashion-MNIST from labels alone,
// and how fast? These are the teachers of the DeiT experiments (the ConvNet; the ViT as the
// "transformer teacher"). By default they are exactly `distillation`'s teachers, trained where its
// students learn: 10 000 images under DeiT's augmentation (DeiTStudent.teacherRecipe), so they
// train once for both experiments; `--data-regime full` trains them on all 60 000 images with
// flips only (Lab/DeiT/Teachers.swift). Both are Teachers.artifact: loaded from the model cache if
// another experiment made them first.
//
// Writes figures/data/supervised-{convnet,vit}.tsv (one row per epoch) and supervised.json;
// figures/supervised.gp draws the training curves.
import ArgumentParser
import Lab
import NN
import Tensor

struct Supervised: Experiment {
    static let name = "supervised"
    static let abstract = "Train the ConvNet and ViT teachers on Fashion-MNIST; write their training curves."

    /// Where the teachers learn: as DeiT's teachers do, on the students' data (distillation's
    /// teachers), or on all of Fashion-MNIST with flips only.
    enum DataRegime: String, Codable, CaseIterable { case deit, full }

    struct Config: ExperimentConfig, SideBySideConfig {
        var models: [TeacherArchitecture] = [.convnet, .vit]
        var dataRegime = DataRegime.deit
        var epochs: Int? = nil  // overrides each teacher's preset; the cached model then is another one
        var lanes = Parallel.threads  // the models trained side by side (SideBySide); the results do not depend on it

        static func preset(_ scale: Scale) -> Config { Config() }

        func recipe(_ kind: TeacherArchitecture, _ scale: Scale) -> SupervisedRecipe {
            var r = dataRegime == .deit ? DeiTStudent.teacherRecipe(scale, kind) : Teachers.recipe(kind, scale)
            if let epochs { r.epochs = epochs }
            return r
        }

        func validate() throws {
            try Flags.count("epochs", epochs, 1...SupervisedRecipe.maxEpochs)
        }
    }

    struct Options: ConfigFlags {
        @Option(help: "Models to train: convnet, vit, or both (comma-separated).") var models: String?
        @Option(help: "Where the teachers learn: deit (distillation's teachers: 10 000 images under DeiT's augmentation, \(DeiTStudent.teacherEpochs(.default, .convnet)) epochs at the default scale, ConvNet \(DeiTStudent.teacherEpochs(.full, .convnet)) and ViT \(DeiTStudent.teacherEpochs(.full, .vit)) at full; the default) or full (all 60 000 images, flips only: ConvNet \(Teachers.recipe(.convnet, .default).epochs) epochs, ViT \(Teachers.recipe(.vit, .default).epochs) at the default scale).") var dataRegime: String?
        @Option(help: "Epochs of every model (default scale: ConvNet \(Config.preset(.default).recipe(.convnet, .default).epochs), ViT \(Config.preset(.default).recipe(.vit, .default).epochs) under deit); the cached teacher then differs from the default one.") var epochs: Int?

        func apply(to config: inout Config) throws {
            if let models { config.models = try Flags.list("models", models, takes: "convnet, vit or both, comma-separated") { TeacherArchitecture(rawValue: $0) } }
            if let dataRegime { config.dataRegime = try Flags.choice("data-regime", dataRegime) }
            if let epochs { config.epochs = epochs }
        }
    }

    /// One model's numbers in the summary.
    struct ModelResult: Encodable {
        let finalTestAccuracy: Double, epochs: Int, testAccuracyPerEpoch: [Double], parameters: Int
        @NullWhenNil var plateauGain: Double?   // the curve's rise over its last fifth (plateauGain); full scale: < 0.5
    }

    /// What one model was: the summary's config.
    struct ModelConfig: Encodable {
        let architecture: AnyHashableCodable, recipe: SupervisedRecipe
    }

    func run(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        var results: [String: ModelResult] = [:], configs: [String: ModelConfig] = [:]
        var files: [(name: String, table: Table, comments: [String])] = []
        let trained = try SideBySide.run(config.models.count, lanes: config.lanes) { i in
            let kind = config.models[i]
            return try Teachers.artifact(kind, scale: lab.scale, seed: lab.seed, data: lab.data, recipe: config.recipe(kind, lab.scale))
                .trained(cache: lab.cache, checkpoint: lab.checkpoints.run(kind.rawValue))
        }
        for (kind, (model, history)) in zip(config.models, trained) {
            let recipe = config.recipe(kind, lab.scale)
            let architecture = AnyHashableCodable(Teachers.architecture(kind, lab.scale))
            var table = Table([.init("epoch"), .init("train_loss", "nats"), .init("test_accuracy", "%"),
                               .init("seconds", "s"), .init("images_per_second", "1/s")])
            for record in history {
                table.append([record.epoch, record.trainLoss, record.testAccuracy, record.seconds, record.imagesPerSecond])
            }
            let total = history.reduce(0) { $0 + $1.seconds }
            let finalAccuracy = recipe.curveImages == nil ? history.last!.testAccuracy : accuracy(model, on: lab.data.test, data: lab.data)
            files.append(("supervised-\(kind.rawValue).tsv", table,
                          ["supervised training of the \(kind.rawValue) on Fashion-MNIST", "scale \(lab.scale.rawValue), seed \(lab.seed)",
                           "architecture \(Results.jsonText(Results.jsonObject(architecture)))", "recipe \(Results.jsonText(Results.jsonObject(recipe)))",
                           recipe.curveImages.map { "test_accuracy per epoch on the first \($0) test images; the summary's final accuracy on all \(lab.data.test.count)" }
                           ?? "test_accuracy per epoch on all \(lab.data.test.count) test images",
                           lab.provenance, "training time \(String(format: "%.0f", total)) s"]))
            print("\(kind.rawValue): \(model.parameterCount) parameters, test accuracy \(String(format: "%.2f", finalAccuracy))% "
                  + "after \(history.count) epochs, \(Progress.clock(total)) of training")
            results[kind.rawValue] = ModelResult(finalTestAccuracy: finalAccuracy, epochs: history.count,
                                                 testAccuracyPerEpoch: history.map(\.testAccuracy), parameters: model.parameterCount,
                                                 plateauGain: plateauGain(history.map(\.testAccuracy)))
            configs[kind.rawValue] = ModelConfig(architecture: architecture, recipe: recipe)
        }
        var report = Report(results: results, config: configs)
        for (name, table, comments) in files { report.add(name, table, comments: comments) }
        return report
    }
}

ExperimentRunner<Supervised>.main()
