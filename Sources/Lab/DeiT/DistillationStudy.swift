// DeiT's distillation study (Tab. 2–4): the students it compares — an objective and the teacher
// each learns from — and how one seed's students are trained: in order, on the same views, from
// the same initial weights, the teacher's outputs computed once per view (MemoizedTeacher).
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
            if variant == StudentSetup(.token, .convnet) {  // DeiT⚗, which token-similarity inspects: an artifact
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
}
