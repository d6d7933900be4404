// What token-similarity measures on each trained model, and its summaries over seeds.
import Lab
import Tensor
import NN

extension TokenSimilarity {
    /// One trained model's measures.
    struct Run: Codable {
        var cosines: TokenCosines
        var heads: HeadEvaluation
        var history: [EpochRecord]
        /// Training views whose teacher argmax differs from their dominant true label, over all epochs.
        var disagreement: Double? {
            let rates = history.compactMap { $0.metrics?["teacherLabelFlips"] }
            return rates.isEmpty ? nil : rates.reduce(0, +) / Double(rates.count)
        }
    }

    /// Mean and sample std over seeds.
    struct Spread: Encodable {
        let mean: Double, std: Double
        init(_ values: [Double]) { (mean, std) = meanAndStd(values) }
        init(mean: Double, std: Double) { (self.mean, self.std) = (mean, std) }
    }

    /// One model kind over its seeds, as the summary shows it.
    struct ModelSummary: Encodable {
        let inputTokensMean: Double, inputTokensStd: Double, outputMean: Double, outputStd: Double
        let inputWithPositions: Spread, blocks: [Spread], classHeadAccuracy: Spread, secondHeadAccuracy: Spread
        let disagreementRate: Spread?
        let perSeed: [[String: Double]]

        init(_ runs: [Run]) {
            (inputTokensMean, inputTokensStd) = meanAndStd(runs.map(\.cosines.inputTokens))
            (outputMean, outputStd) = meanAndStd(runs.map(\.cosines.output))
            inputWithPositions = Spread(runs.map(\.cosines.inputWithPositions))
            blocks = runs[0].cosines.blocks.indices.map { i in Spread(runs.map { $0.cosines.blocks[i] }) }
            classHeadAccuracy = Spread(runs.map(\.heads.classHead))
            secondHeadAccuracy = Spread(runs.map { $0.heads.distillationHead! })
            let rates = runs.compactMap(\.disagreement)
            disagreementRate = rates.isEmpty ? nil : Spread(rates)
            perSeed = runs.map { r in
                var d = ["input_tokens": r.cosines.inputTokens, "output": r.cosines.output, "class_head_accuracy": r.heads.classHead]
                if let rate = r.disagreement { d["disagreement_rate"] = rate }
                return d
            }
        }
    }

    struct Summary: Encodable {
        struct Paper: Encodable {
            let inputTokens: Double, lastLayer: Double, twoClassTokens: Double
        }
        let distillation: ModelSummary?
        let twoClassTokens: ModelSummary?
        let paper: Paper
    }


    /// One setting of the dose-response study.
    struct DoseSetting: Encodable {
        let name: String, teacherEpochs: Int, teacherAccuracy: Double, distillation: ModelSummary
    }

    struct DoseSummary: Encodable {
        let settings: [DoseSetting]
        let twoClassTokens: ModelSummary
    }
}
