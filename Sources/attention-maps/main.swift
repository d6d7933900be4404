// attention-maps — Where does the class token look? DINO's best-known result (Fig. 1, 3): the
// last block's class-token attention of a self-supervised ViT falls on the object, without any
// label or mask; a supervised ViT's less so. Its number (§4.2.1): the Jaccard index between the
// attention mask keeping 60 % of the mass and the object mask — ViT-S/16 DINO 45.9, supervised
// 27.3, random 22.0 (PASCAL VOC12, best head).
//
// Three ViTs of one shape: DINO (momentum teacher), supervised on the labels, and randomly
// initialized. Fashion-MNIST's background is black, so the object mask is the image's own bright
// pixels, pooled to the patch grid.
//
// Writes figures/data/attention-maps-{dino,supervised,random}.tsv (the maps of a few test
// images), attention-maps.tsv (the statistics over the test set) and attention-maps.json;
// figures/attention-maps.gp draws them.
import Foundation
import Lab
import NN
import Tensor

struct AttentionMaps: Experiment {
    static let name = "attention-maps"
    static let abstract = "The last block's class-token attention of a DINO, a supervised and a random ViT; Jaccard against the object (DINO Fig. 1, §4.2.1)."

    struct Config: ExperimentConfig {
        var dino: DINORecipe                 // DINORecipe.fashionMNIST: the paper's values beside each field
        var supervised: SupervisedRecipe     // the same backbone with a class head, on the labels
        var mass: Float = 0.6                // official visualize_attention.py --threshold 0.6
        var foregroundThreshold: Float = 0.1 // pixel > 0.1 (of 1) is object; a patch is when half its pixels are
        var shownImages = [0, 1, 5, 8]       // classes whose first test image is drawn: T-shirt, trouser, sandal, bag
        /// DINO §4.2.1 (ViT-S/16 on PASCAL VOC12, Jaccard ×100 of the best head).
        static let paper = ["dino": 45.9, "supervised": 27.3, "random": 22.0]

        static func preset(_ scale: Scale) -> Config {
            switch scale {
            case .quick:
                var s = SupervisedRecipe(epochs: 1, batchSize: 64, learningRate: 1e-3)
                s.trainImages = 2048
                return Config(dino: .quick(epochs: 1), supervised: s)
            case .default:
                // 3 epochs of all 60 000 images: 78.2 % k-NN in a 4-minute trial (ema-teacher's runs
                // are 2 epochs of 15 000 images, too short to learn).
                return Config(dino: .fashionMNIST(epochs: 3, trainImages: nil), supervised: SupervisedRecipe(epochs: 3, batchSize: 128, learningRate: 1e-3))
            case .full:
                return Config(dino: .fashionMNIST(epochs: 10, trainImages: nil), supervised: SupervisedRecipe(epochs: 12, batchSize: 128, learningRate: 1e-3))
            }
        }

        func validate() throws {
            try dino.validate()
            try supervised.validate()
        }
    }

    /// One ViT's numbers in the summary beside its attention statistics: what its features learned.
    struct ModelResult: Encodable {
        let paperJaccard: Double
        let knn20: Double               // k-NN20 of its class-token features, the 60 000 training images as the bank
        let testAccuracy: Double?       // the supervised ViT's own head
        enum CodingKeys: String, CodingKey { case paperJaccard = "paper_jaccard", knn20, testAccuracy = "test_accuracy" }
    }

    func run(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        let data = lab.data
        // DINO: the momentum teacher's backbone after training; supervised: the same backbone with
        // a class head, on the labels; random: the same backbone untrained.
        let dinoRecipe = config.dino
        let dino = try Artifacts.dinoBackbone(recipe: dinoRecipe, scale: lab.scale, seed: lab.seed, data: data, cache: lab.cache,
                                              checkpoint: lab.checkpoints.run("dino")).model
        var shape = dinoRecipe.backbone
        shape.classes = 10
        let supervised = try Artifacts.supervisedViT(config: shape, recipe: config.supervised, scale: lab.scale, seed: lab.seed, data: data,
                                                     cache: lab.cache, checkpoint: lab.checkpoints.run("supervised")).model
        var randomRNG = RNG(seed: lab.seed ^ fnv1a("attention-maps random"))
        let random = try VisionTransformer(dinoRecipe.backbone, rng: &randomRNG)
        let models: [(name: String, model: VisionTransformer)] = [("dino", dino), ("supervised", supervised), ("random", random)]

        // The maps of a few test images: per image, the image, each head, and the head mean,
        // each a side × side matrix (attention shown per patch, scaled to its maximum).
        let shown = config.shownImages.map { c in data.test.labels.firstIndex(of: c)! }
        let pixels = data.test.images(shown)
        let side = data.test.height, p = dinoRecipe.backbone.patchSize, g = side / p
        let comments = ["scale \(lab.scale.rawValue), seed \(lab.seed), DINO recipe \(Results.jsonText(Results.jsonObject(dinoRecipe)))",
                        lab.provenance]
        var report = Report(results: [String: Int]())
        for (name, model) in models {
            model.setTraining(false)
            let attention = clsAttention(model, images: data.normalize(pixels))  // (n, H, g²)
            let h = model.config.heads
            var blocks: [String] = []
            func block(_ value: (Int, Int) -> Float) -> String {
                (0..<side).map { y in (0..<side).map { x in String(format: "%.4g", value(y, x)) }.joined(separator: "\t") }.joined(separator: "\n")
            }
            for i in shown.indices {
                blocks.append(block { y, x in pixels.data[i * side * side + y * side + x] })
                var mean = [Float](repeating: 0, count: g * g)
                for head in 0..<h {
                    let w = Array(UnsafeBufferPointer(start: attention.data + (i * h + head) * g * g, count: g * g))
                    for j in w.indices { mean[j] += w[j] / Float(h) }
                    let top = w.max()!
                    blocks.append(block { y, x in w[(y / p) * g + x / p] / top })
                }
                let top = mean.max()!
                blocks.append(block { y, x in mean[(y / p) * g + x / p] / top })
            }
            let header = ["last-block class-token attention of the \(name) ViT, per patch, scaled to its maximum; test images "
                          + "\(shown.map(String.init).joined(separator: ", ")) (classes \(config.shownImages.map(String.init).joined(separator: ", ")))",
                          "blocks (gnuplot index): per image, the image then heads 1…\(h) then the head mean; each \(side) × \(side)"] + comments
            report.add("attention-maps-\(name).tsv", text: header.map { "# \($0)" }.joined(separator: "\n") + "\n" + blocks.joined(separator: "\n\n\n") + "\n")
        }

        // The segmentation number over the whole test set.
        var table = Table([.init("index"), .init("model"), .init("jaccard_best_head", "%"), .init("best_head"), .init("jaccard_mean_map", "%"),
                           .init("foreground_mass", "%"), .init("foreground_share", "%"), .init("paper_jaccard", "% (ViT-S/16, VOC12)")])
        var results: [String: Merged<AttentionStatistics, ModelResult>] = [:]
        for (index, (name, model)) in models.enumerated() {
            let s = attentionStatistics(model, on: data.test, data: data, mass: config.mass, threshold: config.foregroundThreshold)
            table.append([index, name, s.bestJaccard, s.bestHead + 1, s.meanMapJaccard, s.foregroundMass, s.foregroundShare, Config.paper[name]!])
            let knn20 = weightedKNN(train: normalizedFeatures(model, of: data.train, data: data), trainLabels: data.train.labels,
                                    test: normalizedFeatures(model, of: data.test, data: data), testLabels: data.test.labels, ks: [20])[20]!
            results[name] = Merged(s, ModelResult(paperJaccard: Config.paper[name]!, knn20: knn20,
                                                      testAccuracy: name == "supervised" ? accuracy(supervised, on: data.test, data: data) : nil))
            print(String(format: "%@: best head %d Jaccard %.2f%% (head mean %.2f%%), attention on the object %.2f%% (object patches %.2f%%; paper Jaccard %.1f)",
                         name, s.bestHead + 1, s.bestJaccard, s.meanMapJaccard, s.foregroundMass, s.foregroundShare, Config.paper[name]!))
        }
        print(models.map { String(format: "%@ k-NN20 %.2f%%", $0.name, results[$0.name]!.second.knn20) }.joined(separator: ", "))
        report.add("attention-maps.tsv", table, comments: ["class-token attention masks (\(Int(config.mass * 100)) % of the mass) against object masks "
                                                           + "(pixels > \(config.foregroundThreshold), half a patch), over the 10 000 test images"] + comments)
        report.results = results
        return report
    }
}

ExperimentRunner<AttentionMaps>.main()

