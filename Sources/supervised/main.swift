// supervised — How well do a small ConvNet and a small ViT learn Fashion-MNIST from labels alone,
// and how fast? These are the teachers of the DeiT experiments (the ConvNet; the ViT as the
// "transformer teacher") and the undistilled reference. Their recipes per scale live in
// Lab/Teachers.swift, shared with every experiment that loads them.
//
// Writes figures/data/supervised-{convnet,vit}.tsv (one row per epoch) and supervised.json;
// figures/supervised.gp draws the training curves. The trained models go to the teacher cache.
import ArgumentParser
import Data
import Foundation
import Lab
import NN
import Tensor

@main
struct Supervised: ExperimentCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the ConvNet and ViT teachers on Fashion-MNIST; write their training curves.")

    @OptionGroup var options: ExperimentOptions

    @Option(help: "Models to train: convnet, vit, or both (comma-separated).")
    var models: String = "convnet,vit"

    @Option(help: "Override the scale's epoch count (the cached teacher then differs from the default one).")
    var epochs: Int?

    /// The models to train, checked with the epoch override.
    func config() throws -> [String] {
        try Flags.count("epochs", epochs, 1...SupervisedRecipe.maxEpochs)
        return try Flags.list("models", models, takes: "convnet, vit or both, comma-separated") { ["convnet", "vit"].contains($0) ? $0 : nil }
    }

    /// The settings a checkpoint must match to be continued.
    struct CheckpointKey: Codable { let models: String, epochs: Int? }

    func experiment(_ names: [String]) throws {
        let checkpoints = try Checkpoints(options, experiment: "supervised", config: CheckpointKey(models: models, epochs: epochs))
        let data = try options.loadData()
        print("supervised: scale \(options.scale.rawValue), seed \(options.seed), \(BLAS.summary), git \(Provenance.current.gitRevision)")
        var results: [String: Any] = [:], configs: [String: Any] = [:]
        var tables: [(file: URL, table: Table, comments: [String])] = []
        for name in names {
            var rng = Teachers.rng(name, seed: options.seed)
            let model: any Classifier
            var recipe: SupervisedRecipe
            let architecture: Any
            if name == "convnet" {
                let (config, r) = Teachers.convNet(options.scale)
                (model, recipe, architecture) = (ConvNet(config, rng: &rng), r, Results.jsonObject(config))
            } else {
                let (config, r) = Teachers.vit(options.scale)
                (model, recipe, architecture) = (try VisionTransformer(config, rng: &rng), r, Results.jsonObject(config))
            }
            if let epochs { recipe.epochs = epochs }
            print("\(name): \(model.parameterCount) parameters, \(recipe.epochs) epochs, batch \(recipe.batchSize), lr \(recipe.learningRate)")

            var table = Table([.init("epoch"), .init("train_loss", "nats"), .init("test_accuracy", "%"),
                               .init("seconds", "s"), .init("images_per_second", "1/s")])
            let comments = ["supervised training of the \(name) on Fashion-MNIST", "scale \(options.scale.rawValue), seed \(options.seed)",
                            "architecture \(Results.jsonText(architecture))", "recipe \(Results.jsonText(Results.jsonObject(recipe)))",
                            "git \(Provenance.current.gitRevision), \(BLAS.cpuModel), OpenBLAS \(BLAS.coreName)"]
            let history = try trainClassifier(model, recipe: recipe, data: data, label: name, rng: &rng, checkpoint: checkpoints.run(name))
            for record in history {
                table.append([record.epoch, record.trainLoss, record.testAccuracy, record.seconds, record.imagesPerSecond])
            }
            let total = history.reduce(0) { $0 + $1.seconds }
            tables.append((options.outputURL.appendingPathComponent("supervised-\(name).tsv"), table,
                           comments + ["training time \(String(format: "%.0f", total)) s"]))
            print("\(name): test accuracy \(String(format: "%.2f", history.last!.testAccuracy))% after \(history.count) epochs, \(Progress.clock(total)) of training")

            // The distillation experiments reuse this model as their teacher.
            if epochs == nil {
                try ModelCache(root: options.cacheURL).store(
                    model, at: Teachers.cacheFile(name, scale: options.scale, seed: options.seed, cache: options.cacheURL))
            }
            results[name] = ["final_test_accuracy": history.last!.testAccuracy, "epochs": history.count,
                             "test_accuracy_per_epoch": history.map(\.testAccuracy), "parameters": model.parameterCount]
            configs[name] = ["architecture": architecture, "recipe": Results.jsonObject(recipe)]
        }
        // The data files only now, when every model is trained: a stopped run leaves none behind.
        for (file, table, comments) in tables { try Results.writeTSV(table, comments: comments, to: file) }
        try Results.writeJSON(Results.summary(experiment: "supervised", scale: options.scale, data: data, seed: options.seed,
                                              config: configs, results: results),
                              to: options.outputURL.appendingPathComponent("supervised.json"))
        try checkpoints.finish()
    }
}
