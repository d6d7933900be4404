// token-similarity — Do the class and distillation tokens learn different things? DeiT §4: the
// learned tokens are nearly orthogonal (cosine 0.06), grow alike through the network (0.93 after
// the last layer) but stay apart; two class tokens trained on the same labels end identical
// (0.999), which is the control that shows the distillation token adds something.
//
// The DeiT⚗ student is the one `distillation` trains (ConvNet teacher, token objective), taken
// from the model cache, or trained here the same way. The control: the same ViT with two class
// tokens initialized independently, both heads on the true labels, no teacher.
//
// Writes figures/data/token-similarity.tsv and token-similarity.json; figures/token-similarity.gp
// draws them.
import Foundation
import Lab
import NN
import Tensor

struct TokenSimilarity: Experiment {
    static let name = "token-similarity"
    static let abstract = "Cosine between the class and distillation tokens through DeiT⚗, against a ViT with two class tokens (DeiT §4)."

    struct Config: ExperimentConfig {
        var student: ViTConfig           // DeiTStudent.preset, as `distillation`
        var recipe: SupervisedRecipe
        var labelSmoothing: Float = 0.1  // DeiT 0.1, on both class heads of the control
        /// DeiT §4 (DeiT-B⚗ on ImageNet).
        static let paper = (inputTokens: 0.06, lastLayer: 0.93, twoClassTokens: 0.999)

        static func preset(_ scale: Scale) -> Config {
            let (student, recipe) = DeiTStudent.preset(scale)
            return Config(student: student, recipe: recipe)
        }

        func validate() throws { try recipe.validate() }
    }

    /// One model's cosines and head accuracies in the summary.
    struct ModelResult: Encodable {
        let inputTokens: Double, inputWithPositions: Double, blocks: [Double], output: Double
        let head0Accuracy: Double, head1Accuracy: Double, fusedLogitsAccuracy: Double
        enum CodingKeys: String, CodingKey {
            case inputTokens = "input_tokens", inputWithPositions = "input_with_positions", blocks, output
            case head0Accuracy = "head_0_accuracy", head1Accuracy = "head_1_accuracy", fusedLogitsAccuracy = "fused_logits_accuracy"
        }
    }

    struct Summary: Encodable {
        struct Paper: Encodable {
            let inputTokens: Double, lastLayer: Double, twoClassTokens: Double
            enum CodingKeys: String, CodingKey { case inputTokens = "input_tokens", lastLayer = "last_layer", twoClassTokens = "two_class_tokens" }
        }
        let distillation: ModelResult, twoClassTokens: ModelResult, paper: Paper
        enum CodingKeys: String, CodingKey { case distillation, twoClassTokens = "two_class_tokens", paper }
    }

    func run(_ config: Config, _ lab: ExperimentContext) throws -> Report {
        let data = lab.data
        let distilled = try DeiTStudent.tokenStudent(scale: lab.scale, seed: lab.seed, data: data, cache: lab.cache,
                                                     checkpoints: lab.checkpoints).model
        var rng = DeiTStudent.rng(seed: lab.seed ^ fnv1a("two-class-tokens"))
        var controlConfig = config.student
        controlConfig.prefix = .twoCls
        let control = try VisionTransformer(controlConfig, rng: &rng)
        let objective = try twoClassTokenObjective(student: control, labelSmoothing: config.labelSmoothing)
        _ = try trainClassifier(control, recipe: config.recipe, data: data, label: "two class tokens", rng: &rng, objective: objective,
                                checkpoint: lab.checkpoints.run("two-class-tokens"))

        let models = [("distillation", distilled), ("two_class_tokens", control)]
        var cosines: [String: TokenCosines] = [:], heads: [String: HeadEvaluation] = [:]
        for (name, model) in models {
            cosines[name] = tokenCosines(model, on: data.test, data: data)
            heads[name] = evaluateHeads(model, teacher: nil, data: data)
            let c = cosines[name]!, h = heads[name]!
            print(String(format: "%@: cos input tokens %.3f (with positions %.3f), after each block %@, output %.3f; heads %.2f%% and %.2f%%",
                         name, c.inputTokens, c.inputWithPositions, c.blocks.map { String(format: "%.3f", $0) }.joined(separator: " "),
                         c.output, h.classHead, h.distillationHead!))
        }

        // One row per depth: 0 the learned tokens, 1…depth after each block, depth + 1 after the final norm.
        var table = Table([.init("depth"), .init("where"), .init("distillation_cos"), .init("two_class_tokens_cos")])
        let (d, c) = (cosines["distillation"]!, cosines["two_class_tokens"]!)
        table.append([0, "tokens", d.inputTokens, c.inputTokens])
        for i in d.blocks.indices { table.append([i + 1, "block\(i + 1)", d.blocks[i], c.blocks[i]]) }
        table.append([d.blocks.count + 1, "norm", d.output, c.output])
        func result(_ name: String) -> ModelResult {
            let c = cosines[name]!, h = heads[name]!
            return ModelResult(inputTokens: c.inputTokens, inputWithPositions: c.inputWithPositions, blocks: c.blocks, output: c.output,
                               head0Accuracy: h.classHead, head1Accuracy: h.distillationHead!, fusedLogitsAccuracy: h.fusedLogits!)
        }
        var report = Report(results: Summary(distillation: result("distillation"), twoClassTokens: result("two_class_tokens"),
                                             paper: .init(inputTokens: Config.paper.inputTokens, lastLayer: Config.paper.lastLayer,
                                                          twoClassTokens: Config.paper.twoClassTokens)))
        report.add("token-similarity.tsv", table, comments: [
            "cosine between token 0 (class) and token 1 (distillation / second class token), averaged over the 10 000 test images",
            "scale \(lab.scale.rawValue), seed \(lab.seed), student \(Results.jsonText(Results.jsonObject(config.student))), recipe \(Results.jsonText(Results.jsonObject(config.recipe)))",
            lab.provenance,
            String(format: "paper (DeiT §4): learned tokens %.2f, last layer %.2f, two class tokens %.3f", Config.paper.inputTokens,
                   Config.paper.lastLayer, Config.paper.twoClassTokens)])
        return report
    }
}

ExperimentRunner<TokenSimilarity>.main()
