// DeiT §4's token study: what it measures on each trained model (TokenCosines, its heads, the
// teacher's disagreement with the labels), its summaries over seeds, and its tables.
import Data
import Foundation
import NN
import Tensor

public enum TokenStudy {
    /// The two models of a seed: DeiT⚗, and the control with two class tokens.
    public enum Kind: String, CaseIterable, Codable, Sendable { case distillation, control = "two_class_tokens" }

    /// DeiT §4 (DeiT-B⚗ on ImageNet).
    public static let paper = (inputTokens: 0.06, lastLayer: 0.93, twoClassTokens: 0.999)

    /// One trained model's measures.
    public struct Run: Codable {
        public var cosines: TokenCosines
        public var heads: HeadEvaluation
        public var history: [EpochRecord]
        public init(cosines: TokenCosines, heads: HeadEvaluation, history: [EpochRecord]) { (self.cosines, self.heads, self.history) = (cosines, heads, history) }
        /// Training views whose teacher argmax differs from their dominant true label, over all epochs.
        public var disagreement: Double? {
            let rates = history.compactMap { $0.metrics?["teacherLabelFlips"] }
            return rates.isEmpty ? nil : rates.reduce(0, +) / Double(rates.count)
        }
    }

    /// Mean and sample std over seeds.
    public struct Spread: Encodable {
        public let mean: Double, std: Double
        public init(_ values: [Double]) { (mean, std) = meanAndStd(values) }
        public init(mean: Double, std: Double) { (self.mean, self.std) = (mean, std) }
    }

    /// One model kind over its seeds, as the summary shows it.
    public struct ModelSummary: Encodable {
        public let inputTokensMean: Double, inputTokensStd: Double, outputMean: Double, outputStd: Double
        public let inputWithPositions: Spread, blocks: [Spread], classHeadAccuracy: Spread, secondHeadAccuracy: Spread
        public let disagreementRate: Spread?
        public let perSeed: [[String: Double]]

        public init(_ runs: [Run]) {
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

    public struct Summary: Encodable {
        public struct Paper: Encodable {
            public let inputTokens: Double, lastLayer: Double, twoClassTokens: Double
        }
        public let distillation: ModelSummary?
        public let twoClassTokens: ModelSummary?
        public let paper: Paper
        public init(distillation: ModelSummary?, twoClassTokens: ModelSummary?) {
            (self.distillation, self.twoClassTokens) = (distillation, twoClassTokens)
            paper = Paper(inputTokens: TokenStudy.paper.inputTokens, lastLayer: TokenStudy.paper.lastLayer, twoClassTokens: TokenStudy.paper.twoClassTokens)
        }
    }


    /// One setting of the dose-response study.
    public struct DoseSetting: Encodable {
        public let name: String, teacherEpochs: Int, teacherAccuracy: Double, distillation: ModelSummary
        public init(name: String, teacherEpochs: Int, teacherAccuracy: Double, distillation: ModelSummary) {
            (self.name, self.teacherEpochs, self.teacherAccuracy, self.distillation) = (name, teacherEpochs, teacherAccuracy, distillation)
        }
    }

    public struct DoseSummary: Encodable {
        public let settings: [DoseSetting]
        public let twoClassTokens: ModelSummary
        public init(settings: [DoseSetting], twoClassTokens: ModelSummary) { (self.settings, self.twoClassTokens) = (settings, twoClassTokens) }
    }

    /// One row per depth: 0 the learned tokens, 1…depth after each block, depth + 1 after the
    /// final norm; each model's mean and std over seeds.
    public static func depthTable(depth: Int, student: ModelSummary?, control: ModelSummary?) -> Table {
        let names = ["tokens"] + (1...depth).map { "block\($0)" } + ["norm"]
        func byDepth(_ s: ModelSummary?) -> [Spread] {
            guard let s else { return names.map { _ in Spread([]) } }
            return [Spread(mean: s.inputTokensMean, std: s.inputTokensStd)] + s.blocks + [Spread(mean: s.outputMean, std: s.outputStd)]
        }
        var table = Table([.init("depth"), .init("where"), .init("distillation_mean"), .init("distillation_std"),
                           .init("two_class_tokens_mean"), .init("two_class_tokens_std")])
        for (i, (d, c)) in zip(byDepth(student), byDepth(control)).enumerated() { table.append([i, names[i], d.mean, d.std, c.mean, c.std]) }
        return table
    }

    /// Per epoch, mean and std over seeds of the probe's cosines, and the teacher's disagreement:
    /// the learned tokens and the output first, then after each block.
    public static func epochTable(depth: Int, epochs: Int, runs byKind: [Kind: [Run]]) -> Table {
        let blocks = (1...depth).map { "block\($0)" }
        var columns: [Table.Column] = [.init("epoch")]
        for kind in Kind.allCases { for n in ["tokens", "norm"] { columns += [.init("\(kind.rawValue)_\(n)_mean"), .init("\(kind.rawValue)_\(n)_std")] } }
        columns += [.init("disagreement_mean"), .init("disagreement_std")]
        for kind in Kind.allCases { for n in blocks { columns += [.init("\(kind.rawValue)_\(n)_mean"), .init("\(kind.rawValue)_\(n)_std")] } }
        var table = Table(columns)
        for e in 0..<epochs {
            func spread(_ kind: Kind, _ metric: String) -> [Any] {
                let s = meanAndStd((byKind[kind] ?? []).map { $0.history[e].metrics?[metric] ?? .nan })
                return [s.mean, s.std]
            }
            table.append([e + 1] + Kind.allCases.flatMap { kind in ["tokens", "norm"].flatMap { spread(kind, "cos_\($0)") } }
                         + spread(.distillation, "teacherLabelFlips")
                         + Kind.allCases.flatMap { kind in blocks.flatMap { spread(kind, "cos_\($0)") } })
        }
        return table
    }

    /// Every model alone, one block each (gnuplot's `index`): DeiT⚗'s seeds, then the control's;
    /// columns 1–2 its cosine through the network, 3–5 its cosines after each epoch. A kind not
    /// run gets empty blocks, which keep the layout the figure reads.
    public static func seedBlocks(seeds: [UInt64], runs byKind: [Kind: [Run]]) -> [String] {
        var models: [String] = []
        for kind in Kind.allCases {
            guard let runs = byKind[kind] else {
                models += seeds.map { "# \(kind.rawValue) seed \($0): not run\nnan\tnan\tnan\tnan\tnan\n" }
                continue
            }
            for (seed, run) in zip(seeds, runs) {
                let c = run.cosines
                var block = Table([.init("where"), .init("cos"), .init("epoch"), .init("cos_tokens"), .init("cos_norm")])
                let profile = [c.inputTokens] + c.blocks + [c.output]
                for row in 0..<max(profile.count, run.history.count) {
                    let record = row < run.history.count ? run.history[row].metrics : nil
                    block.append([row < profile.count ? row : Double.nan, row < profile.count ? profile[row] : .nan,
                                  row < run.history.count ? row + 1 : Double.nan, record?["cos_tokens"] ?? .nan, record?["cos_norm"] ?? .nan])
                }
                models.append(block.tsv(comments: ["\(kind.rawValue) seed \(seed)"]))
            }
        }
        return models
    }
}
