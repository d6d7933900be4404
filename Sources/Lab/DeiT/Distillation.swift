// DeiT's training of a ViT student from a teacher, and the evaluation of its heads: each alone,
// both fused two ways, and how often each disagrees with the teacher (DeiT Tab. 4).
import Data
import Foundation
import NN
import Tensor

/// The values `distillationObjective` returns for each step: training views whose teacher argmax
/// differs from the true label (the label of larger weight when the batch is mixed), views, and
/// the seconds spent in the teacher's forward pass. Near 0 flips, a hard teacher label repeats
/// the true one and distillation has nothing to add (deit#153: "the teacher will correct the
/// errors of the ground truth").
public enum TeacherStatistics {
    public static let names = ["teacherLabelFlips", "trainingViews", "teacherSeconds"]

    /// The epoch's share of flipped labels and its teacher time, from its sums.
    public static func epochMetrics(_ sums: MetricLogger) -> [String: Double] {
        ["teacherLabelFlips": sums.sum("trainingViews") == 0 ? 0 : sums.sum("teacherLabelFlips") / sums.sum("trainingViews"),
         "teacherSeconds": sums.sum("teacherSeconds")]
    }
}

/// DeiT's objective for one step. The teacher runs in evaluation mode, without a graph, on
/// exactly the images the student sees (after augmentation and mixing), as the official
/// engine.py does. With a teacher, each step also returns its disagreements with the true labels
/// under `TeacherStatistics.names`.
public func distillationObjective(student: VisionTransformer, teacher: (any Classifier)?,
                                  config: DistillationConfig) throws -> Objective {
    try config.validate()
    if config.type != .none && teacher == nil {
        throw DistillationError("distillation '\(config.type.rawValue)' needs a teacher")
    }
    if config.type == .token && student.config.prefix != .clsAndDist {
        throw DistillationError("distillation 'token' needs a student with a distillation token (prefix clsAndDist)")
    }
    teacher?.setTraining(false)
    return { images, labels in
        let start = Date()
        let targets = config.type == .none ? nil : TimeBreakdown.measure(.teacherForward) { withNoGrad { teacher!.logits(images) } }
        var statistics: [String: Double] = [:]
        if teacher != nil {
            let seconds = Date().timeIntervalSince(start)
            let flips = targets.map { t in zip(t.argmaxLastAxis(), labels.dominant).filter { $0 != $1 }.count } ?? 0
            statistics = ["teacherSeconds": targets == nil ? 0 : seconds, "teacherLabelFlips": Double(flips),
                          "trainingViews": targets == nil ? 0 : Double(labels.labels.count)]
        }
        let out = student(images)
        return (distillationLoss(student: out.logits!, distillation: out.secondLogits, teacher: targets, labels: labels, config: config),
                statistics)
    }
}

/// Test-set predictions of every head of a student, and of its teacher.
public struct HeadEvaluation: Codable, Sendable {
    public var classHead: Double               // top-1 percent
    public var distillationHead: Double?       // two-token students only
    public var fusedLogits: Double?            // argmax of (Zcls + Zdist)/2: the official code
    public var fusedSoftmax: Double?           // argmax of ψ(Zcls) + ψ(Zdist): the paper's text
    public var fusionsDisagree: Int?           // test images on which the two fusions differ
    public var teacher: Double?
    /// Share of test images whose prediction differs from the teacher's (DeiT Tab. 4), per head.
    public var disagreement: [String: Double] = [:]
}

public func evaluateHeads(_ student: VisionTransformer, teacher: (any Classifier)?, data: FashionMNIST,
                          batchSize: Int = 500) -> HeadEvaluation {
    student.setTraining(false)
    teacher?.setTraining(false)
    var cls: [Int] = [], dist: [Int] = [], byLogits: [Int] = [], bySoftmax: [Int] = [], fromTeacher: [Int] = []
    forEachBatch(of: data.test, data: data, batchSize: batchSize, sizedFor: student) { _, _, x in
        let out = student(x)
        cls += out.logits!.argmaxLastAxis()
        if let second = out.secondLogits {
            dist += second.argmaxLastAxis()
            let fused = fusedPredictions(classLogits: out.logits!, distillationLogits: second)
            byLogits += fused.logits
            bySoftmax += fused.softmax
        }
        if let teacher { fromTeacher += teacher.logits(x).argmaxLastAxis() }
    }
    func accuracy(_ p: [Int]) -> Double { topOneAccuracy(p, data.test.labels) }
    func differs(_ a: [Int], _ b: [Int]) -> Double { Double(zip(a, b).filter { $0 != $1 }.count) / Double(a.count) }
    var e = HeadEvaluation(classHead: accuracy(cls))
    if !dist.isEmpty {
        (e.distillationHead, e.fusedLogits, e.fusedSoftmax) = (accuracy(dist), accuracy(byLogits), accuracy(bySoftmax))
        e.fusionsDisagree = zip(byLogits, bySoftmax).filter { $0 != $1 }.count
    }
    if !fromTeacher.isEmpty {
        e.teacher = accuracy(fromTeacher)
        e.disagreement["class"] = differs(cls, fromTeacher)
        if !dist.isEmpty {
            e.disagreement["distillation"] = differs(dist, fromTeacher)
            e.disagreement["class+distillation"] = differs(byLogits, fromTeacher)
        }
    }
    return e
}
