// DeiT's distillation study (Tab. 2–4): the students it compares — an objective and the teacher
// each learns from — and how one seed's students are trained: in order, on the same views, from
// the same initial weights, the teacher's outputs computed once per view (MemoizedTeacher).
import ArgumentParser
import Data
import Foundation
import NN
import Tensor

/// One student of the study: an objective, the teacher it learns from, and for soft
/// distillation optionally how its KL is divided (the config's otherwise).
public struct StudentSetup: Codable, Hashable, Sendable {
    public var type: DistillationType
    public var teacher: TeacherArchitecture?
    public var kl: KLNormalization?
    public var name: String {
        (teacher.map { "\(type.rawValue)-\($0.rawValue)" } ?? type.rawValue) + (kl.map { "-\($0.rawValue)" } ?? "")
    }

    public init(_ type: DistillationType, _ teacher: TeacherArchitecture? = nil, kl: KLNormalization? = nil) {
        (self.type, self.teacher, self.kl) = (type, teacher, kl)
    }

    /// "none", "<type>-<teacher>" or "soft-<teacher>-<KL normalization>"; nil for anything else
    /// (Flags.list names what the flag takes).
    public init?(parsing text: String) {
        // Empty parts kept: "none-" and "-" are not students.
        let parts = text.split(separator: "-", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        guard let type = try? DistillationType(parsing: parts[0]) else { return nil }
        if type == .none {
            guard parts.count == 1 else { return nil }
            self.init(.none)
            return
        }
        guard parts.count >= 2, let teacher = TeacherArchitecture(rawValue: parts[1]) else { return nil }
        guard parts.count == 3 else { self.init(type, teacher); return }
        guard type == .soft, let kl = KLNormalization(rawValue: parts[2]) else { return nil }
        self.init(type, teacher, kl: kl)
    }

    /// `variants` with a soft student that names `klNormalization`, the one in use, as the one
    /// without it. Typed twice (`typed`: the user's list), that is an error; in the default
    /// list (soft-convnet and soft-convnet-per-element), the second becomes the other
    /// normalization's student.
    public static func distinct(_ variants: [StudentSetup], klNormalization: KLNormalization, typed: Bool) throws -> [StudentSetup] {
        var variants = variants
        var seen: [StudentSetup: String] = [:]
        for (i, v) in variants.enumerated() {
            var same = v
            if same.kl == klNormalization { same.kl = nil }
            if let other = seen[same] {
                guard !typed, let kl = v.kl else {
                    throw ValidationError("--variants names one student twice: '\(other)' and '\(v.name)' (\(klNormalization.rawValue) is the KL normalization in use)")
                }
                same.kl = KLNormalization.allCases.first { $0 != kl }
            }
            seen[same] = v.name
            variants[i] = same
        }
        return variants
    }

    /// The students that learn from one teacher's memoized logits run in one job, in this order:
    /// every ConvNet student with `none` (which is evaluated against the ConvNet), and every ViT student.
    public var job: TeacherArchitecture { teacher ?? .convnet }
}

public enum DistillationStudy {
    /// One trained student of one seed: its history and its heads, against its own teacher and the ConvNet (Tab. 4).
    public struct TrainedStudent {
        public var variant: StudentSetup, seed: UInt64
        public var history: [EpochRecord]
        public var own: HeadEvaluation, againstConvNet: HeadEvaluation
    }

    /// A job's students and how many teacher rows it looked up and computed.
    public struct Job {
        public var students: [TrainedStudent]
        public var lookups: [(teacher: String, hits: Int, misses: Int)]
    }

    /// The teachers `variants` learn from, and the ConvNet, against which every student is evaluated (Tab. 4).
    public static func teachersNeeded(by variants: [StudentSetup]) -> Set<TeacherArchitecture> { Set(variants.compactMap(\.teacher)).union([.convnet]) }

    /// The cached teacher of the run's seed (trained and cached first if missing).
    public static func teacher(_ t: TeacherArchitecture, recipes: [TeacherArchitecture: SupervisedRecipe], lab: ExperimentContext) throws -> any Classifier {
        try Teachers.artifact(t, scale: lab.scale, seed: lab.seed, data: lab.data, recipe: recipes[t]!)
            .trained(cache: lab.cache, checkpoint: lab.checkpoints.run("teacher-\(t.rawValue)")).model
    }

    /// Trains `variants` of `seed` in order, each from the same initial weights (where the shapes
    /// agree) on the same views, with a teacher instance of this job's own (no state is shared
    /// between jobs that run side by side). With a flip as the only augmentation the teacher's
    /// views are all computed up front.
    public static func train(_ variants: [StudentSetup], seed: UInt64, recipe: SupervisedRecipe, loss baseLoss: DistillationConfig,
                             teacherRecipes: [TeacherArchitecture: SupervisedRecipe], lab: ExperimentContext) throws -> Job {
        let data = lab.data
        var teachers: [TeacherArchitecture: MemoizedTeacher] = [:]
        for t in teachersNeeded(by: variants) {
            teachers[t] = MemoizedTeacher(try teacher(t, recipes: teacherRecipes, lab: lab))
            if !recipe.augmentsBeyondFlip && variants.contains(where: { $0.teacher == t }) {
                teachers[t]!.prefill(data.train, count: recipe.trainImages, data: data, flips: recipe.flip)
            }
        }
        var students: [TrainedStudent] = []
        for variant in variants {
            var loss = baseLoss
            loss.type = variant.type
            if let kl = variant.kl { loss.klNormalization = kl }
            let teacher = variant.teacher.map { teachers[$0]! }
            let (label, run) = ("\(variant.name) seed \(seed)", "\(variant.name)-seed\(seed)")
            let student: VisionTransformer, history: [EpochRecord]
            if variant == StudentSetup(.token, .convnet) {  // DeiT⚗, which the token study inspects: an artifact
                (student, history) = try DeiTStudent.tokenStudent(scale: lab.scale, seed: seed, recipe: recipe,
                                                                  teacherRecipe: teacherRecipes[.convnet]!, loss: loss, teacher: teacher,
                                                                  data: data, cache: lab.cache, label: label, checkpoints: lab.checkpoints)
                    .trained(cache: lab.cache, checkpoint: lab.checkpoints.run(run))
            } else {
                var rng = DeiTStudent.rng(seed: seed), views = DeiTStudent.viewsRNG(seed: seed)
                student = try DeiTStudent.make(lab.scale, type: variant.type, rng: &rng)
                history = try DeiTStudent.train(student, teacher: teacher, loss: loss, recipe: recipe, data: data,
                                                label: label, rng: &views, checkpoint: lab.checkpoints.run(run))
            }
            let own = evaluateHeads(student, teacher: teacher ?? teachers[.convnet]!, data: data)
            let againstConvNet = variant.teacher == .vit ? evaluateHeads(student, teacher: teachers[.convnet]!, data: data) : own
            students.append(TrainedStudent(variant: variant, seed: seed, history: history, own: own, againstConvNet: againstConvNet))
            print("\(variant.name) seed \(seed): " + describe(own))
            fflush(nil)
        }
        return Job(students: students, lookups: teachers.map { ($0.key.rawValue, $0.value.hits, $0.value.misses) })
    }

    public static func describe(_ e: HeadEvaluation) -> String {
        var parts = [String(format: "class head %.2f%%", e.classHead)]
        if let d = e.distillationHead, let l = e.fusedLogits, let s = e.fusedSoftmax {
            parts += [String(format: "distillation head %.2f%%", d), String(format: "fused logits %.2f%%, softmaxes %.2f%% (%d images differ)", l, s, e.fusionsDisagree!)]
        }
        if let t = e.teacher { parts.append(String(format: "teacher %.2f%%, disagreement %.3f", t, e.disagreement["class"]!)) }
        return parts.joined(separator: ", ")
    }

    /// One head of a student over the seeds: accuracy, and disagreement with the ConvNet teacher.
    public struct HeadResult: Encodable {
        let accuracy: [Double], accuracyMean: Double, accuracyStd: Double
        let disagreementConvnet: [Double], disagreementConvnetMean: Double, disagreementConvnetStd: Double
        @NullWhenNil var paper: Double?
        @NullWhenNil var paperDisagreement: Double?
    }

    /// One student of the study over the seeds, beside its heads: its curve, and what its teacher did.
    public struct StudentResult: Encodable {
        var fusedSoftmax: [Double]? = nil            // DeiT⚗: the paper's fusion, beside the official code's
        var fusionsDisagreeImages: [Int]? = nil
        var testAccuracyPerEpoch: [[Double]] = []
        var plateauGain: [Double]? = nil             // each seed's curve's rise over its last fifth (plateauGain)
        var plateauGainMean: Double? = nil
        var teacherAccuracy: [Double]? = nil
        var disagreementOwnTeacher: [Double]? = nil
        // How often the teacher's hard label is not the (dominant) true label of the view the
        // student trains on, per epoch, and its mean.
        var teacherLabelFlips: [[Double]]? = nil
        var teacherLabelFlipsMean: Double? = nil
    }

    /// The run's time: the summary's "timings".
    public struct Timings: Encodable {
        var teacherLoadOrTrainSeconds: [String: Double]
        var trainingSeconds: [String: [Double]] = [:]
        var teacherTimeShare: [String: [Double]] = [:]   // the teacher forward's share of the steps' time
    }

    /// The final table — one row per (variant, head) — and the JSON summary.
    /// The files are `<name>-final.tsv`; `paper` and `paperDisagreement` are DeiT's Tab. 3 and
    /// 4 per student and head ("token-convnet/class").
    public static func summary(name: String, variants: [StudentSetup], seeds: Int, students: [String: [TrainedStudent]], teacherSeconds: [String: Double],
                               paper: [String: Double], paperDisagreement: [String: Double], comments: [String]) -> Report {
        var table = Table([.init("index"), .init("student"), .init("head"), .init("accuracy_mean", "%"), .init("accuracy_std", "%"),
                           .init("paper", "% (DeiT-Ti, ImageNet)"), .init("disagreement_convnet_mean"), .init("disagreement_convnet_std"),
                           .init("paper_disagreement"), .init("teacher_accuracy", "%")])
        var results: [String: Merged<[String: HeadResult], StudentResult>] = [:]
        var timings = Timings(teacherLoadOrTrainSeconds: teacherSeconds)
        var index = 0
        for variant in variants {
            let runs = students[variant.name]!.map(\.own), versusConvNet = students[variant.name]!.map(\.againstConvNet)
            var heads: [(name: String, accuracy: [Double], disagreement: [Double])] =
                [("class", runs.map(\.classHead), versusConvNet.map { $0.disagreement["class"]! })]
            if variant.type == .token {
                heads.append(("distillation", runs.map { $0.distillationHead! }, versusConvNet.map { $0.disagreement["distillation"]! }))
                heads.append(("class+distillation", runs.map { $0.fusedLogits! }, versusConvNet.map { $0.disagreement["class+distillation"]! }))
            }
            var entry = StudentResult(), headResults: [String: HeadResult] = [:]
            for head in heads {
                let key = variant.type == .token ? "\(variant.name)/\(head.name)" : variant.name
                let accuracy = meanAndStd(head.accuracy), disagreement = meanAndStd(head.disagreement)
                table.append([index, variant.name, head.name, accuracy.mean, accuracy.std, paper[key] ?? Double.nan,
                              disagreement.mean, disagreement.std, paperDisagreement[key] ?? Double.nan,
                              runs.compactMap(\.teacher).first ?? Double.nan])
                index += 1
                headResults[head.name] = HeadResult(accuracy: head.accuracy, accuracyMean: accuracy.mean, accuracyStd: accuracy.std,
                                                    disagreementConvnet: head.disagreement, disagreementConvnetMean: disagreement.mean,
                                                    disagreementConvnetStd: disagreement.std, paper: paper[key],
                                                    paperDisagreement: paperDisagreement[key])
                print("\(variant.name) \(head.name): \(meanAndSpread(accuracy.mean, accuracy.std, seeds: seeds)) %, disagreement with the ConvNet "
                    + meanAndSpread(disagreement.mean, disagreement.std, seeds: seeds, decimals: 3))
            }
            if variant.type == .token {
                entry.fusedSoftmax = runs.map { $0.fusedSoftmax! }
                entry.fusionsDisagreeImages = runs.map { $0.fusionsDisagree! }
            }
            let histories = students[variant.name]!.map(\.history)
            entry.testAccuracyPerEpoch = histories.map { $0.map(\.testAccuracy) }
            if let gains = plateauGains(entry.testAccuracyPerEpoch) { (entry.plateauGain, entry.plateauGainMean) = (gains, meanAndStd(gains).mean) }
            timings.trainingSeconds[variant.name] = histories.map { $0.reduce(0) { $0 + $1.seconds } }
            if variant.teacher != nil {
                entry.teacherAccuracy = runs.map { $0.teacher! }
                entry.disagreementOwnTeacher = runs.map { $0.disagreement["class"]! }
                let flips = histories.map { $0.map { $0.metrics!["teacherLabelFlips"]! } }
                entry.teacherLabelFlips = flips
                entry.teacherLabelFlipsMean = meanAndStd(flips.map { $0.reduce(0, +) / Double($0.count) }).mean
                timings.teacherTimeShare[variant.name] =
                    histories.map { h in h.reduce(0) { $0 + $1.metrics!["teacherSeconds"]! } / h.reduce(0) { $0 + $1.seconds } }
            }
            results[variant.name] = Merged(headResults, entry)
        }
        var report = Report(results: results, timings: timings)
        report.add("\(name)-final.tsv", table, comments: comments + ["final test accuracy and disagreement with the ConvNet teacher, mean and std over \(seedCount(seeds)); "
                                                                          + "class+distillation fuses the logits (the official code)"])
        return report
    }

    /// Every epoch of every student: one row per (variant, seed, epoch).
    public static func runsTable(variants: [StudentSetup], seeds: Int, students: [String: [TrainedStudent]], curveImages: Int?) -> Table {
        let measured = curveImages.map { "% (class head, first \($0) test images)" } ?? "% (class head)"
        var table = Table([.init("variant"), .init("seed"), .init("epoch"), .init("train_loss", "nats"), .init("test_accuracy", measured),
                          .init("seconds", "s"), .init("teacher_label_flips", "share of training views"), .init("teacher_seconds", "s")])
        for s in 0..<seeds {
            for variant in variants {
                let s = students[variant.name]![s]
                for r in s.history {
                    table.append([variant.name, s.seed, r.epoch, r.trainLoss, r.testAccuracy, r.seconds,
                                 r.metrics?["teacherLabelFlips"] ?? Double.nan, r.metrics?["teacherSeconds"] ?? Double.nan])
                }
            }
        }
        return table
    }
}
