// supervised — How well do a small ConvNet and a small ViT learn Fashion-MNIST from labels alone,
// and how fast? These are the teachers of the DeiT experiments (the ConvNet; the ViT as the
// "transformer teacher") and the undistilled reference. Their recipes per scale live in
// Lab/Teachers.swift; this experiment trains them as every other experiment gets them
// (Teachers.trained: loaded from the model cache if another experiment made them first).
//
// Writes figures/data/supervised-{convnet,vit}.tsv (one row per epoch) and supervised.json;
// figures/supervised.gp draws the training curves.
import ArgumentParser
import Lab
import NN

struct Supervised: Experiment {
    static let name = "supervised"
    static let abstract = "Train the ConvNet and ViT teachers on Fashion-MNIST; write their training curves."

    struct Config: ExperimentConfig {
        var models: [TeacherArchitecture] = [.convnet, .vit]
        var epochs: Int? = nil  // overrides each teacher's preset (Lab/Teachers.swift); the cached model then is another one

        static func preset(_ scale: Scale) -> Config { Config() }

        func validate() throws { try Flags.count("epochs", epochs, 1...SupervisedRecipe.maxEpochs) }
    }

    struct Options: ConfigFlags {
        @Option(help: "Models to train: convnet, vit, or both (comma-separated).")
        var models: String?

        @Option(help: "Override the scale's epoch count (the cached teacher then differs from the default one).")
        var epochs: Int?

        func apply(to config: inout Config) throws {
            if let models { config.models = try Flags.list("models", models, takes: "convnet, vit or both, comma-separated") { TeacherArchitecture(rawValue: $0) } }
            if let epochs { config.epochs = epochs }
        }
    }

    /// One model's numbers in the summary.
    struct ModelResult: Encodable {
        let finalTestAccuracy: Double, epochs: Int, testAccuracyPerEpoch: [Double], parameters: Int
        enum CodingKeys: String, CodingKey {
            case finalTestAccuracy = "final_test_accuracy", epochs, testAccuracyPerEpoch = "test_accuracy_per_epoch", parameters
        }
    }

    /// What one model was: the summary's config.
    struct ModelConfig: Encodable {
        let architecture: AnyHashableCodable, recipe: SupervisedRecipe
    }

    func run(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        var results: [String: ModelResult] = [:], configs: [String: ModelConfig] = [:]
        var files: [(name: String, table: Table, comments: [String])] = []
        for kind in config.models {
            var recipe = Teachers.recipe(kind, lab.scale)
            if let epochs = config.epochs { recipe.epochs = epochs }
            let architecture = AnyHashableCodable(Teachers.architecture(kind, lab.scale))
            let (model, history) = try Teachers.trained(kind, scale: lab.scale, seed: lab.seed, data: lab.data, cache: lab.cache,
                                                        recipe: recipe, checkpoint: lab.checkpoints.run(kind.rawValue))
            var table = Table([.init("epoch"), .init("train_loss", "nats"), .init("test_accuracy", "%"),
                               .init("seconds", "s"), .init("images_per_second", "1/s")])
            for record in history {
                table.append([record.epoch, record.trainLoss, record.testAccuracy, record.seconds, record.imagesPerSecond])
            }
            let total = history.reduce(0) { $0 + $1.seconds }
            files.append(("supervised-\(kind.rawValue).tsv", table,
                          ["supervised training of the \(kind.rawValue) on Fashion-MNIST", "scale \(lab.scale.rawValue), seed \(lab.seed)",
                           "architecture \(Results.jsonText(Results.jsonObject(architecture)))", "recipe \(Results.jsonText(Results.jsonObject(recipe)))",
                           lab.provenance, "training time \(String(format: "%.0f", total)) s"]))
            print("\(kind.rawValue): \(model.parameterCount) parameters, test accuracy \(String(format: "%.2f", history.last!.testAccuracy))% "
                  + "after \(history.count) epochs, \(Progress.clock(total)) of training")
            results[kind.rawValue] = ModelResult(finalTestAccuracy: history.last!.testAccuracy, epochs: history.count,
                                                 testAccuracyPerEpoch: history.map(\.testAccuracy), parameters: model.parameterCount)
            configs[kind.rawValue] = ModelConfig(architecture: architecture, recipe: recipe)
        }
        var report = Report(results: results, config: configs)
        for (name, table, comments) in files { report.add(name, table, comments: comments) }
        return report
    }
}

ExperimentRunner<Supervised>.main()
