// patch-throughput — How fast does a ViT run as its patches shrink, and what do smaller patches
// buy? DINO's Table 2 lists ViT-S/16 at 1007 images/s and ViT-S/8 at 180 (5.6×), ViT-B/16 at 312
// and ViT-B/8 at 63 (5.0×), on a V100; DeiT's Table 5 lists DeiT-Ti/S/B at 2536/940/292 and their
// distilled versions, whose extra token costs almost nothing.
//
// Part 1: gradient-free forward throughput of the papers' 224² models (3 channels, 1000 classes,
// random weights) on this CPU, with GFLOP per image counted from the shapes, the achieved GFLOP/s
// beside a raw sgemm of the same run, and peak memory. Part 2: what smaller patches buy, as
// Tab. 2 measures it — DINO momentum teachers at 28², patch 7 and patch 4 (16 and 49 tokens), the
// momentum teacher's recipe (DINORecipe.sharedTeacher) and the same budget in images: their k-NN20,
// their forward images/s, and their k-NN after each epoch against the seconds it took.
//
// Writes figures/data/patch-throughput-{imagenet,dino,curves}.tsv and patch-throughput.json;
// figures/patch-throughput.gp draws them.
import ArgumentParser
import Data
import Foundation
import Lab
import NN
import Tensor

/// Every knob; the papers' values beside ours.
struct Config: ExperimentConfig, SideBySideConfig {
    struct Model: Codable {
        var name: String
        var vit: ViTConfig
        var batch: Int           // paper: 128 (DINO), the largest that fits a 16 GB V100 (DeiT)
        var paperImagesPerSecond: Double
        var source: String
    }
    var imagenet: [Model]
    var repeatSeconds = 3.0      // timed repeats fill this long, at least 3 of them (DeiT: 30 runs)
    var dino: DINORecipe            // DINORecipe.sharedTeacher, patch by patch; the paper's values beside its fields
    var dinoPatches = [7, 4]        // paper 16 and 8 at 224² (Tab. 2); patch 2 (197 tokens) trains ~4× slower than 4 and does not fit the budget
    var forwardBatch = 256          // the 28² models' forward throughput
    var lanes = Parallel.threads    // the DINO runs trained side by side (SideBySide); the results do not depend on it

    static func preset(_ scale: Scale) -> Config {
        func m(_ name: String, _ vit: ViTConfig, _ batch: Int, _ paper: Double, _ source: String) -> Model {
            Model(name: name, vit: vit, batch: batch, paperImagesPerSecond: paper, source: source)
        }
        var distilledS = ViTConfig.vitS16, distilledB = ViTConfig.vitB16
        (distilledS.prefix, distilledB.prefix) = (.clsAndDist, .clsAndDist)
        let models = [
            m("ViT-S/16", .vitS16, 16, 1007, "DINO Tab.2"), m("ViT-S/8", .vitS8, 4, 180, "DINO Tab.2"),
            m("ViT-B/16", .vitB16, 8, 312, "DINO Tab.2"), m("ViT-B/8", .vitB8, 2, 63, "DINO Tab.2"),
            m("DeiT-Ti", .deitTi16, 32, 2536.5, "DeiT Tab.5"),
            m("DeiT-S⚗", distilledS, 16, 936.2, "DeiT Tab.5"), m("DeiT-B⚗", distilledB, 8, 290.9, "DeiT Tab.5"),
        ]
        switch scale {
        case .quick:
            var c = Config(imagenet: [m("DeiT-Ti", .deitTi16, 2, 2536.5, "DeiT Tab.5")], dino: .quick(epochs: 1))
            (c.repeatSeconds, c.forwardBatch) = (0.2, 32)
            return c
        case .default, .full:
            // ema-teacher's momentum teacher at each patch size.
            return Config(imagenet: models, dino: .sharedTeacher(scale))
        }
    }

    var runBytes: Double { dinoPatches.map { dino.withPatchSize($0).estimatedStepBytes }.max() ?? 0 }

    func validate() throws {
        for patch in dinoPatches { try dino.withPatchSize(patch).validate() }
    }
}

struct PatchThroughput: Experiment {
    static let name = "patch-throughput"
    static let abstract = "Forward images/s against patch size (DINO Tab. 2, DeiT Tab. 5), and DINO's k-NN against images/s at 28²."

    struct Options: ConfigFlags {
        @Option(help: "Patch sizes of the 28² DINO models, comma-separated divisors of 28 (default scale: \(Config.preset(.default).dinoPatches.map(String.init).joined(separator: ",")); the paper's 16 and 8 of 224).") var patches: String?

        func apply(to config: inout Config) throws {
            if let patches {
                config.dinoPatches = try Flags.list("patches", patches, takes: "divisors of 28 (1, 2, 4, 7, 14, 28), comma-separated") {
                    Int($0).flatMap { $0 > 0 && 28 % $0 == 0 ? $0 : nil }
                }
            }
        }
    }

    struct Summary: Encodable {
        let gflopPerImage: [String: Double]   // per 224² model
        let dinoKNN20: [String: Double]       // per patch size of the 28² DINO teachers, all 60 000 training images as the bank
        let dinoPlateauGain: [String: Double] // per patch size: the subset-bank k-NN20 curve's rise over its last fifth (plateauGain)
    }

    /// The run's speeds: the summary's "timings".
    struct Speeds: Encodable {
        let sgemmGflops: Double, imagesPerSecond: [String: Double], dinoImagesPerSecond: [String: Double]
        @NullWhenNil var ratioS16OverS8: Double?
        @NullWhenNil var ratioB16OverB8: Double?
        let paperRatioS16OverS8: Double, paperRatioB16OverB8: Double
    }

    func run(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        let sgemm = Machine.measureSgemm()
        print(String(format: "raw sgemm 1024³: %.0f GFLOP/s", sgemm))
        let provenance = "\(lab.provenance), \(Parallel.threads) threads"

        // Part 1: the papers' models at 224².
        var big = Table([.init("model"), .init("patch"), .init("width"), .init("tokens"), .init("batch"),
                         .init("images_per_second", "1/s"), .init("low", "1/s"), .init("high", "1/s"),
                         .init("gflop_per_image", "GFLOP"), .init("gflops", "GFLOP/s"), .init("percent_of_sgemm", "%"),
                         .init("peak_memory", "MB"), .init("paper_images_per_second", "1/s (V100)")])
        var speeds: [String: Double] = [:]
        var rng = RNG(seed: lab.seed)
        for model in config.imagenet {
            let vit = try VisionTransformer(model.vit, rng: &rng)
            vit.setTraining(false)
            let x = Tensor.randn([model.batch, 3, 224, 224], rng: &rng)
            BufferPool.resetPeak()
            let forward = timeForward(seconds: config.repeatSeconds) { _ = vit(x) }
            let (median, low, high) = (forward.median, forward.low, forward.high)
            let peakMB = Double(BufferPool.peakLiveBytes) / 1e6
            let ips = Double(model.batch) / median
            let gflop = model.vit.forwardFLOPs() / 1e9
            let tokens = model.vit.prefix.count + model.vit.grid * model.vit.grid
            speeds[model.name] = ips
            big.append([model.name, model.vit.patchSize, model.vit.width, tokens, model.batch, ips,
                        Double(model.batch) / high, Double(model.batch) / low, gflop, gflop * ips, 100 * gflop * ips / sgemm,
                        peakMB, model.paperImagesPerSecond])
            print(String(format: "%@: %.2f images/s (%.2f–%.2f), %.1f GFLOP/image, %.0f GFLOP/s = %.0f%% of sgemm, peak %.0f MB; paper %.0f on a V100",
                         model.name, ips, Double(model.batch) / high, Double(model.batch) / low, gflop, gflop * ips,
                         100 * gflop * ips / sgemm, peakMB, model.paperImagesPerSecond))
            fflush(nil)
        }
        let comments = ["forward throughput at 224², 3 channels, 1000 classes, random weights, no gradient",
                        "scale \(lab.scale.rawValue), seed \(lab.seed); raw sgemm 1024³ in this run: \(String(format: "%.1f", sgemm)) GFLOP/s",
                        "peak memory: the most bytes live tensors held during a forward pass, weights and input included",
                        provenance]

        // Part 2: DINO at 28², the same recipe and budget in images at every patch size. The
        // backbones are artifacts: attention-maps draws the patch-4 one.
        let trained = try SideBySide.run(config.dinoPatches.count, lanes: config.lanes) { i in
            let patch = config.dinoPatches[i]
            return try Artifacts.dinoViT(recipe: config.dino.withPatchSize(patch), evaluation: .curves(lab.scale), scale: lab.scale, seed: lab.seed,
                                         data: lab.data, cache: lab.cache,
                                              label: "DINO patch \(patch)", checkpoint: lab.checkpoints.run("dino-patch-\(patch)"))
        }
        var dinoTable = Table([.init("patch"), .init("tokens"), .init("images_per_second", "1/s"), .init("gflop_per_image", "GFLOP"),
                               .init("train_images_per_second", "1/s"), .init("knn20", "%"), .init("training_seconds", "s")])
        var knn: [String: Double] = [:], dinoSpeeds: [String: Double] = [:], plateau: [String: Double] = [:]
        var curves = Table([.init("patch"), .init("epoch"), .init("training_seconds", "s"), .init("knn20_subset", "%")])
        for (patch, (vit, history)) in zip(config.dinoPatches, trained) {
            vit.setTraining(false)
            let knn20 = history.last!.knn[20]!  // all 60 000 training images as the bank, after the last epoch
            let x = lab.data.normalize(lab.data.test.images((0..<config.forwardBatch).map { $0 % lab.data.test.count }))  // a small --data repeats its images
            let median = timeForward(seconds: config.repeatSeconds) { _ = vit(x) }.median
            let ips = Double(config.forwardBatch) / median
            let trainSeconds = history.reduce(0) { $0 + $1.seconds }
            let trainIPS = history.reduce(0) { $0 + $1.imagesPerSecond * $1.seconds } / trainSeconds
            knn["\(patch)"] = knn20
            plateau["\(patch)"] = plateauGain(history.compactMap { $0.knnSubset[20] })
            var seconds = 0.0
            for record in history {
                seconds += record.seconds
                curves.append([patch, record.epoch, seconds, record.knnSubset[20] ?? Double.nan])
            }
            dinoSpeeds["\(patch)"] = ips
            dinoTable.append([patch, vit.config.prefix.count + vit.config.grid * vit.config.grid, ips, vit.config.forwardFLOPs() / 1e9,
                              trainIPS, knn20, trainSeconds])
            print(String(format: "DINO patch %d: k-NN20 %.2f%%, %.0f images/s forward, %.0f training (%.0f s)", patch, knn20, ips, trainIPS, trainSeconds))
            fflush(nil)
        }
        // Summary: the seed-determined results at the top level; the speeds under "timings".
        func ratio(_ a: String, _ b: String) -> Double? { speeds[a].flatMap { a in speeds[b].map { a / $0 } } }
        var report = Report(results: Summary(gflopPerImage: Dictionary(uniqueKeysWithValues: config.imagenet.map { ($0.name, $0.vit.forwardFLOPs() / 1e9) }),
                                             dinoKNN20: knn, dinoPlateauGain: plateau),
                            timings: Speeds(sgemmGflops: sgemm, imagesPerSecond: speeds, dinoImagesPerSecond: dinoSpeeds,
                                            ratioS16OverS8: ratio("ViT-S/16", "ViT-S/8"), ratioB16OverB8: ratio("ViT-B/16", "ViT-B/8"),
                                            paperRatioS16OverS8: 1007.0 / 180, paperRatioB16OverB8: 312.0 / 63))
        report.add("patch-throughput-imagenet.tsv", big, comments: comments)
        let b = config.dino.backbone
        report.add("patch-throughput-dino.tsv", dinoTable, comments: [
            "DINO momentum teachers on 28×28 Fashion-MNIST (width \(b.width), depth \(b.depth), \(b.heads) heads) by patch size; "
                + "k-NN20 of the class token, all 60 000 training images as the bank, on the 10 000 test images",
            "the same recipe and budget for every patch size: \(config.dino.epochs) epochs of \(config.dino.trainImages ?? 60_000) images, batch \(config.dino.batchSize), "
                + "local crops of the multiple of the patch nearest 12 pixels; forward throughput at batch \(config.forwardBatch)",
            "scale \(lab.scale.rawValue), seed \(lab.seed)", provenance,
        ])

        report.add("patch-throughput-curves.tsv", curves, comments: [
            "the DINO teachers' k-NN20 after each epoch against their cumulative training seconds (steps only), by patch size; "
                + "the bank: the first \(KNNSchedule.curves(lab.scale).subsetBank.map(String.init) ?? "60000") training images",
            "scale \(lab.scale.rawValue), seed \(lab.seed)", provenance,
        ])

        if let s = speeds["ViT-S/16"], let s8 = speeds["ViT-S/8"], let b = speeds["ViT-B/16"], let b8 = speeds["ViT-B/8"] {
            print(String(format: "S/16 ÷ S/8 = %.2f (paper 5.6); B/16 ÷ B/8 = %.2f (paper 5.0)", s / s8, b / b8))
        }
        return report
    }
}

ExperimentRunner<PatchThroughput>.main()
