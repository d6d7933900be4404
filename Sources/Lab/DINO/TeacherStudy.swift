// DINO's teacher study (§5.2, Fig. 6 right): one run per teacher update and seed, and the files
// and summary the study writes from them.
import Data
import Foundation
import Tensor

/// One teacher trained from one seed (or, for the fixed-random teacher, only evaluated).
public struct TeacherRun: Sendable {
    public var kind: TeacherUpdate, seed: UInt64
    public var history: [DINOEpochRecord]  // empty for the fixed-random teacher
    public var knn: [Int: Double]          // after the last epoch, all 60 000 images as the bank
    public var subsetCurve: [Double]       // k-NN20 on the subset bank after epochs 0 (initialization) … E
    public var probe: Double
    public var testFeatureSpread: Float    // featureSpread of the teacher backbone's test features at the end

    public init(kind: TeacherUpdate, seed: UInt64, history: [DINOEpochRecord], knn: [Int: Double], subsetCurve: [Double], probe: Double,
                testFeatureSpread: Float) {
        (self.kind, self.seed, self.history, self.knn, self.subsetCurve) = (kind, seed, history, knn, subsetCurve)
        (self.probe, self.testFeatureSpread) = (probe, testFeatureSpread)
    }
}

/// One teacher's numbers in the summary: per seed, and their mean and std.
struct TeacherResult: Encodable {
    let knn20: [Double], knn200: [Double], probe: [Double]
    let knn20Mean: Double, knn20Std: Double, knn200Mean: Double, knn200Std: Double, probeMean: Double, probeStd: Double
    @NullWhenNil var paperKNN20: Double?
    let knn20SubsetPerEpoch: [[Double]]
    @NullWhenNil var plateauGainMean: Double?   // the subset curve's rise over its last fifth (plateauGain), mean over seeds
    let testFeatureSpread: Double
    // The last epoch's step diagnostics, mean over seeds (the collapse signatures); none for the fixed-random teacher.
    @NullWhenNil var lastEpochTeacherEntropy: Double?
    @NullWhenNil var lastEpochKL: Double?
    @NullWhenNil var lastEpochFeatureStd: Double?
}

/// A teacher's time per seed: the summary's "timings" has one per teacher, beside the run's.
struct TeacherTimings: Encodable {
    let trainingSeconds: [Double], evaluationSeconds: [Double]
}

/// The whole run's time.
struct RunTimings: Encodable {
    let seconds: Double, lanes: Int, cpu: String
}

extension TeacherRun {
    /// The teacher study's files and summary from every run, grouped by teacher: every epoch of
    /// every run, the curves (mean and std over seeds) and the final values, each TSV with the
    /// recipe and the provenance in its comments; `paper` is Fig. 6's k-NN per teacher.
    /// The files are `<name>-runs.tsv`, `<name>-curves.tsv` and `<name>-final.tsv`.
    public static func report(name: String, _ runs: [TeacherUpdate: [TeacherRun]], teachers: [TeacherUpdate], pixelKNN: [Int: Double], recipe: DINORecipe,
                              evaluation: KNNSchedule, probe probeRecipe: LinearProbeRecipe, seeds: Int, lanes: Int, paper: [TeacherUpdate: Double],
                              lab: ExperimentContext, seconds: Double) -> Report {
        let kinds = teachers.contains(.fixedRandom) ? teachers : teachers + [.fixedRandom]
        let bank = evaluation.subsetBank.map { "the first \($0) training images" } ?? "all 60 000 training images"
        let comments = ["DINO with five teachers (DINO §5.2); k-NN (T 0.07) of the teacher's backbone, 10 000 test images; "
                        + "final values with all 60 000 training images as the bank, curves with \(bank)",
                        "the fixed-random teacher is the initialization every teacher of a seed starts from, evaluated without training",
                        "scale \(lab.scale.rawValue), recipe \(Results.jsonText(Results.jsonObject(recipe)))", lab.provenance]

        var table = Table([.init("teacher"), .init("seed"), .init("epoch"), .init("knn20", "%"), .init("knn200", "%"), .init("knn20_subset", "%"),
                           .init("loss", "nats"), .init("teacher_entropy", "nats"), .init("kl", "nats"), .init("center_norm"),
                           .init("feature_std"), .init("seconds", "s"), .init("eval_seconds", "s")])
        for kind in kinds {
            for run in runs[kind]! {
                if run.history.isEmpty {
                    table.append([kind.rawValue, run.seed, 0, run.knn[20] ?? .nan, run.knn[200] ?? .nan, run.subsetCurve[0]]
                                 + Array(repeating: Double.nan, count: 5) + [0.0, Double.nan])
                }
                for r in run.history {
                    table.append([kind.rawValue, run.seed, r.epoch, r.knn[20] ?? .nan, r.knn[200] ?? .nan, r.knnSubset[20] ?? .nan, r.loss,
                                  r.teacherEntropy, r.kl, r.centerNorm, r.featureStd, r.seconds, r.evaluationSeconds])
                }
            }
        }

        // The fixed-random teacher's curve is flat: it is the same network after every epoch.
        func curve(_ run: TeacherRun) -> [Double] { run.history.isEmpty ? Array(repeating: run.subsetCurve[0], count: recipe.epochs + 1) : run.subsetCurve }
        var curves = Table([.init("epoch")] + kinds.flatMap { [.init("\($0.rawValue)_mean", "%"), .init("\($0.rawValue)_std", "%")] }
                           + [.init("raw_pixels", "%")])
        for e in 0...recipe.epochs {
            curves.append([e] + kinds.flatMap { kind -> [Any] in
                let (m, s) = meanAndStd(runs[kind]!.map { curve($0)[e] }); return [m, s]
            } + [pixelKNN[20] ?? Double.nan])
        }

        var finals = Table([.init("index"), .init("teacher"), .init("knn20_mean", "%"), .init("knn20_std", "%"), .init("knn200_mean", "%"),
                            .init("knn200_std", "%"), .init("probe_mean", "%"), .init("probe_std", "%"), .init("paper_knn20", "% (ImageNet)"),
                            .init("test_feature_spread")])
        var perTeacher: [String: TeacherTimings] = [:], teacherResults: [String: TeacherResult] = [:]
        for (i, kind) in kinds.enumerated() {
            let runs = runs[kind]!
            let k20 = meanAndStd(runs.map { $0.knn[20]! }), k200 = meanAndStd(runs.map { $0.knn[200]! }), probe = meanAndStd(runs.map(\.probe))
            let spread = meanAndStd(runs.map { Double($0.testFeatureSpread) }).mean
            finals.append([i, kind.rawValue, k20.mean, k20.std, k200.mean, k200.std, probe.mean, probe.std, paper[kind] ?? Double.nan, spread])
            // The last epoch's step diagnostics, mean over seeds: the collapse signatures.
            func last(_ value: (DINOEpochRecord) -> Float) -> Double? {
                runs[0].history.isEmpty ? nil : meanAndStd(runs.map { Double(value($0.history.last!)) }).mean
            }
            teacherResults[kind.rawValue] = TeacherResult(
                knn20: runs.map { $0.knn[20]! }, knn200: runs.map { $0.knn[200]! }, probe: runs.map(\.probe),
                knn20Mean: k20.mean, knn20Std: k20.std, knn200Mean: k200.mean, knn200Std: k200.std, probeMean: probe.mean, probeStd: probe.std,
                paperKNN20: paper[kind], knn20SubsetPerEpoch: runs.map(curve),
                plateauGainMean: plateauGains(runs.map { Array(curve($0).dropFirst()) }).map { meanAndStd($0).mean },
                testFeatureSpread: spread,
                lastEpochTeacherEntropy: last(\.teacherEntropy), lastEpochKL: last(\.kl), lastEpochFeatureStd: last(\.featureStd))
            perTeacher[kind.rawValue] = .init(trainingSeconds: runs.map { $0.history.reduce(0) { $0 + $1.seconds } },
                                              evaluationSeconds: runs.map { $0.history.reduce(0) { $0 + $1.evaluationSeconds } })
            let n = seeds
            print("\(kind.rawValue): k-NN20 \(meanAndSpread(k20.mean, k20.std, seeds: n)) %, k-NN200 \(meanAndSpread(k200.mean, k200.std, seeds: n)) %, "
                + "linear \(meanAndSpread(probe.mean, probe.std, seeds: n)) % (paper k-NN \(paper[kind].map { String($0) } ?? "–"))")
        }
        print(String(format: "teacher study: %.1f minutes, %d runs at once", seconds / 60, lanes))

        let results = Merged(teacherResults, ["raw_pixels_knn": Dictionary(uniqueKeysWithValues: pixelKNN.map { ("k\($0.key)", $0.value) })])
        let timings = Merged(perTeacher, RunTimings(seconds: seconds, lanes: lanes, cpu: Machine.cpuModel))
        var report = Report(results: results, timings: timings)
        report.add("\(name)-runs.tsv", table, comments: comments)
        report.add("\(name)-curves.tsv", curves, comments: comments + ["k-NN20 after each epoch (0: the initialization), mean and std over \(seedCount(seeds)), "
                                                                           + "with \(bank) as the bank"])
        report.add("\(name)-final.tsv", finals, comments: comments + ["final values, mean and std over \(seedCount(seeds)); the linear probe: "
                                                                         + Results.jsonText(Results.jsonObject(probeRecipe))])
        return report
    }
}
