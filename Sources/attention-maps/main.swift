// attention-maps — Where does the class token look? DINO's best-known result (Fig. 1, 3): the
// last block's class-token attention of a self-supervised ViT falls on the object, without any
// label or mask; a supervised ViT's less so. Its number (§4.2.1): the Jaccard index between the
// attention mask keeping 60 % of the mass and the object mask — ViT-S/16 DINO 45.9, supervised
// 27.3, random 22.0 (PASCAL VOC12, best head).
//
// Three ViTs of one shape, patch 4 (a 7 × 7 grid): DINO (the momentum teacher ema-teacher and
// patch-throughput share, DINORecipe.sharedTeacher),
// supervised on the labels, and randomly initialized. Fashion-MNIST's background is black, so the
// object mask is the image's own bright pixels, pooled to the patch grid. Three measures over the
// 10 000 test images, each with a bootstrap interval: the attention's mass on the object, the
// paper's Jaccard of the 60 %-mass mask, and the threshold-free AUROC of attention against the
// object mask; on the test images as they are (centered garments on black) and on a harder
// canvas (Data/Canvas.swift: the garment at half size, off center, beside clutter), without
// retraining.
//
// Writes figures/data/attention-maps-{dino,supervised,random}.tsv (the maps of a few test
// images), attention-maps.tsv (the measures over the test set) and attention-maps.json;
// figures/attention-maps.gp draws them.
import Data
import Foundation
import Lab
import NN
import Tensor

struct AttentionMaps: Experiment {
    static let name = "attention-maps"
    static let abstract = "The last block's class-token attention of a DINO, a supervised and a random ViT, against the object (DINO Fig. 1, 3, §4.2.1)."

    struct Config: ExperimentConfig {
        var dino: DINORecipe                 // DINORecipe.sharedTeacher at patch 4: the paper's values beside each field
        var supervised: SupervisedRecipe     // the same backbone with a class head, on the labels
        var mass: Float = 0.6                // official visualize_attention.py --threshold 0.6
        var foregroundThreshold: Float = 0.1 // pixel > 0.1 (of 1) is object; a patch is when half its pixels are
        var shownImages = [0, 1, 5, 8]       // classes whose first test image is drawn: T-shirt, trouser, sandal, bag
        var shownCanvas = [2, 9]             // and on the canvas: pullover, ankle boot
        var canvas = CanvasConfig()          // the harder setting (Data/Canvas.swift)
        var resamples = 1000                 // bootstrap resamples of the 10 000 test images
        /// DINO §4.2.1 (ViT-S/16 on PASCAL VOC12, Jaccard ×100 of the best head).
        static let paper = ["dino": 45.9, "supervised": 27.3, "random": 22.0]

        static func preset(_ scale: Scale) -> Config {
            switch scale {
            case .quick:
                return Config(dino: DINORecipe.quick(epochs: 1).withPatchSize(4),
                              supervised: SupervisedRecipe(epochs: 1, batchSize: 64, learningRate: 1e-3, trainImages: 2048))
            case .default, .full:
                // The shared momentum teacher (DINORecipe.sharedTeacher) at patch 4: a 7 × 7 grid.
                // patch-throughput trains the same artifact for its k-NN point.
                return Config(dino: DINORecipe.sharedTeacher(scale).withPatchSize(4),
                              supervised: SupervisedRecipe(epochs: scale == .full ? 12 : 3, batchSize: 128, learningRate: 1e-3))
            }
        }

        func validate() throws {
            try dino.validate()
            try supervised.validate()
        }
    }

    /// One ViT's numbers in the summary: where its attention falls in each setting, and what its
    /// features learned.
    struct ModelResult: Encodable {
        let centered: AttentionStatistics   // the test images as they are
        let canvas: AttentionStatistics     // the same garments on the harder canvas
        let paperJaccard: Double
        let knn20: Double                   // k-NN20 of its class-token features, the 60 000 training images as the bank
        @NullWhenNil var testAccuracy: Double?  // the supervised ViT's own head
        @NullWhenNil var plateauGain: Double?   // its test curve's rise over the last fifth (plateauGain)
    }

    struct Summary: Encodable {
        let models: [String: ModelResult]
        /// Per setting and measure, the best heads' per-image difference between two models
        /// ("dino-supervised"), with its paired bootstrap interval, in points.
        let differences: [String: [String: [String: Interval]]]
        /// Per setting and measure: the models in order of their best head, ">" where the
        /// difference's interval excludes 0 and "≈" where it does not.
        let ordering: [String: [String: String]]
    }

    func run(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        let data = lab.data
        // DINO: the momentum teacher's backbone (the artifact patch-throughput also measures);
        // supervised: the same backbone with a class head, on the labels; random: untrained.
        let dinoRecipe = config.dino
        let dino = try Artifacts.dinoViT(recipe: dinoRecipe, evaluation: .curves(lab.scale), scale: lab.scale, seed: lab.seed, data: data, cache: lab.cache,
                                              label: "DINO patch \(dinoRecipe.backbone.patchSize)", checkpoint: lab.checkpoints.run("dino")).model
        var shape = dinoRecipe.backbone
        shape.classes = 10
        let (supervised, supervisedHistory) = try Artifacts.supervisedViT(config: shape, recipe: config.supervised, scale: lab.scale, seed: lab.seed, data: data)
            .trained(cache: lab.cache, checkpoint: lab.checkpoints.run("supervised"))
        var randomRNG = RNG(seed: lab.seed ^ fnv1a("attention-maps random"))
        let random = try VisionTransformer(dinoRecipe.backbone, rng: &randomRNG)
        let models: [(name: String, model: VisionTransformer)] = [("dino", dino), ("supervised", supervised), ("random", random)]
        for (_, model) in models { model.setTraining(false) }

        // The two settings: the test set, and the same garments on the canvas.
        var canvasRNG = RNG(seed: lab.seed ^ fnv1a("attention-maps canvas"))
        let (scenes, garments) = data.test.onCanvas(config.canvas, rng: &canvasRNG)
        let (side, p) = (data.test.height, dinoRecipe.backbone.patchSize)
        let settings: [(name: String, set: ImageSet, objectLayer: ImageSet?)] = [("centered", data.test, nil), ("canvas", scenes, garments)]

        // The measures over all 10 000 images, per model and setting; the bootstrap draws are the
        // same for every model (one generator per setting), so differences are paired.
        var statistics: [String: [String: AttentionStatistics]] = [:]
        var scores: [String: [String: AttentionScores]] = [:]
        for setting in settings {
            for (name, model) in models {
                let s = attentionScores(model, on: setting.set, objectLayer: setting.objectLayer, data: data, mass: config.mass, threshold: config.foregroundThreshold)
                var rng = RNG(seed: lab.seed ^ fnv1a("attention-maps bootstrap \(setting.name)"))
                scores[setting.name, default: [:]][name] = s
                statistics[setting.name, default: [:]][name] = AttentionStatistics(s, resamples: config.resamples, rng: &rng)
            }
        }
        var differences: [String: [String: [String: Interval]]] = [:], ordering: [String: [String: String]] = [:]
        for setting in settings {
            (differences[setting.name], ordering[setting.name]) = compareAttention(
                models.map(\.name), scores: scores[setting.name]!, statistics: statistics[setting.name]!, measures: AttentionStatistics.measures,
                resamples: config.resamples, seed: lab.seed ^ fnv1a("attention-maps bootstrap \(setting.name)"))
        }

        // The maps of a few images, per model: the image, each head's map, the head mean, and the
        // best head's 60 %-mass mask, each a side × side block at pixel resolution.
        let shown = config.shownImages.map { c in data.test.labels.firstIndex(of: c)! }
        let shownCanvas = config.shownCanvas.map { c in data.test.labels.firstIndex(of: c)! }
        let shownSets: [(setting: String, set: ImageSet, index: Int)] = shown.map { ("centered", data.test, $0) } + shownCanvas.map { ("canvas", scenes, $0) }
        let comments = ["scale \(lab.scale.rawValue), seed \(lab.seed), DINO recipe \(Results.jsonText(Results.jsonObject(dinoRecipe)))",
                        lab.provenance]
        var maps: [(name: String, text: String)] = []
        for (name, model) in models {
            let (h, g) = (model.config.heads, side / p)
            let blocks = attentionMapBlocks(model, images: shownSets.map { ($0.set, $0.index, statistics[$0.setting]![name]!.jaccard.bestHead) },
                                            data: data, mass: config.mass)
            let header = ["last-block class-token attention of the \(name) ViT, per patch, as a multiple of uniform attention (weight × \(g * g) patches); test images "
                          + "\(shown.map(String.init).joined(separator: ", ")) (classes \(config.shownImages.map(String.init).joined(separator: ", "))), "
                          + "then on the canvas \(shownCanvas.map(String.init).joined(separator: ", ")) (classes \(config.shownCanvas.map(String.init).joined(separator: ", ")))",
                          "blocks (gnuplot index): per image, the image, heads 0…\(h - 1), the head mean, then the \(Int(config.mass * 100)) %-mass mask of the best head "
                          + "by Jaccard in that setting (centered: head \(statistics["centered"]![name]!.jaccard.bestHead), canvas: head \(statistics["canvas"]![name]!.jaccard.bestHead)); "
                          + "each \(side) × \(side)"] + comments
            maps.append(("attention-maps-\(name).tsv", header.map { "# \($0)" }.joined(separator: "\n") + "\n" + blocks.joined(separator: "\n\n\n") + "\n"))
        }

        // The measures in one table: a row per setting and model.
        var table = AttentionStatistics.table(paperColumn: "% (ViT-S/16, VOC12)")
        var results: [String: ModelResult] = [:]
        for (index, setting) in settings.enumerated() {
            for (m, (name, _)) in models.enumerated() {
                let s = statistics[setting.name]![name]!
                table.append([index * models.count + m, setting.name, name] + s.row + [Config.paper[name]!])
                print("\(setting.name) \(name), best heads: \(s.described)")
            }
            print("\(setting.name): " + AttentionStatistics.measures.map { "\($0) \(ordering[setting.name]![$0]!)" }.joined(separator: "; "))
        }
        for (name, model) in models {
            let knn20 = try knnAccuracy(model, data: data, ks: [20])[20]!
            results[name] = ModelResult(centered: statistics["centered"]![name]!, canvas: statistics["canvas"]![name]!, paperJaccard: Config.paper[name]!,
                                        knn20: knn20, testAccuracy: name == "supervised" ? accuracy(supervised, on: data.test, data: data) : nil,
                                        plateauGain: name == "supervised" ? plateauGain(supervisedHistory.map(\.testAccuracy)) : nil)
        }
        print(models.map { String(format: "%@ k-NN20 %.2f%%", $0.name, results[$0.name]!.knn20) }.joined(separator: ", "))
        var report = Report(results: Summary(models: results, differences: differences, ordering: ordering))
        for map in maps { report.add(map.name, text: map.text) }
        report.add("attention-maps.tsv", table, comments: [
            "class-token attention against object masks (pixels > \(config.foregroundThreshold), half a patch) over the 10 000 test images: "
                + "mass on the object, Jaccard of the \(Int(config.mass * 100)) %-mass mask, AUROC of attention for object patches",
            "settings: centered (the test images), canvas (the garment at half size, off center, beside \(config.canvas.clutter) clutter rectangles); "
                + "intervals: 95 % bootstrap over images, \(config.resamples) resamples; best head chosen on the same images",
        ] + comments)
        return report
    }
}

ExperimentRunner<AttentionMaps>.main()
