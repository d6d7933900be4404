// DINO's loss (`DINOLoss` in the official main_dino.py): the student's softmax on every crop
// learns the teacher's centered, sharpened softmax on each *other* global crop.
import Foundation
import Tensor

public struct DINOLossError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// With G global crops (seen by the teacher) and C crops in all (seen by the student), each of
/// batch B and K outputs:
///
///   Pt_g = softmax((t_g − c)/τt),   log Ps_j = log_softmax(s_j/τs),
///   L = 1/(B·T) Σ_b Σ_g Σ_{j≠g} −⟨Pt_g, log Ps_j⟩,   T = G·C − G pairs (same-view pairs skipped).
///
/// The center c is an EMA of the teacher's batch-mean raw output, c ← m·c + (1 − m)·mean(t),
/// updated *after* the loss (`updateCenter`), from teacher outputs only. For the collapse study,
/// `centering = false` keeps c at 0; sharpening is the caller's choice of τt < τs.
public final class DINOLoss: Module {
    public let outDim: Int
    public let globalCrops: Int
    public let studentTemperature: Float      // paper 0.1
    public let centerMomentum: Float          // paper 0.9
    public let centering: Bool
    /// (1, K), zeros at the start as in the official code.
    public let center: Tensor

    public init(outDim: Int, globalCrops: Int = 2, studentTemperature: Float = 0.1, centerMomentum: Float = 0.9,
                centering: Bool = true) throws {
        guard studentTemperature > 0 else { throw DINOLossError("DINO loss: the student temperature must be > 0, got \(studentTemperature)") }
        guard (0...1).contains(centerMomentum) else {
            throw DINOLossError("DINO loss: the center momentum must be in [0, 1], got \(centerMomentum) (the paper's is 0.9)")
        }
        guard globalCrops >= 1, outDim >= 2 else { throw DINOLossError("DINO loss: needs at least 1 global crop and 2 outputs") }
        (self.outDim, self.globalCrops, self.studentTemperature) = (outDim, globalCrops, studentTemperature)
        (self.centerMomentum, self.centering) = (centerMomentum, centering)
        center = Tensor(zeros: [1, outDim])
    }

    /// The center is the loss's state: saved and restored with it, as main_dino.py's
    /// `dino_loss.state_dict()` beside the networks.
    public var ownBuffers: [(name: String, tensor: Tensor)] { [("center", center)] }

    /// The number of (teacher crop, student crop) pairs the loss averages over.
    public func pairs(crops: Int) -> Int { globalCrops * crops - globalCrops }

    /// Checks that `crops` crops in all give the loss something to compare.
    public func validate(crops: Int) throws {
        guard crops >= globalCrops, pairs(crops: crops) > 0 else {
            throw DINOLossError("DINO loss: each teacher crop is compared with the student's *other* crops, and \(globalCrops) global "
                + "and \(crops - globalCrops) local crops leave no pair; use at least 2 global crops or add local crops")
        }
    }

    /// What the loss decomposes into, H(Pt, Ps) = h(Pt) + KL(Pt‖Ps), averaged as the loss is.
    public struct Statistics: Sendable {
        public var crossEntropy: Float     // the loss
        public var teacherEntropy: Float   // h(Pt), mean over global crops and images
        public var kl: Float               // crossEntropy − teacherEntropy
    }

    /// The teacher's target distributions (G·B, K), no graph.
    public func teacherProbabilities(_ teacher: Tensor, temperature: Float) -> Tensor {
        withNoGrad { softmax((centering ? teacher - center : teacher) * (1 / temperature)) }
    }

    /// student: (C·B, K) head outputs in crop order, the global crops first; teacher: (G·B, K)
    /// outputs of the teacher on the global crops (computed without a graph).
    public func callAsFunction(student: Tensor, teacher: Tensor, teacherTemperature: Float) -> (loss: Tensor, statistics: Statistics) {
        precondition(teacherTemperature > 0, "DINO loss: the teacher temperature must be > 0")
        let b = teacher.shape[0] / globalCrops, k = outDim
        let crops = student.shape[0] / b
        precondition(student.shape == [crops * b, k] && teacher.shape == [globalCrops * b, k] && crops * b == student.shape[0],
                     "DINO loss: student \(student.shape) and teacher \(teacher.shape) do not hold whole crops of one batch")
        let targets = teacherProbabilities(teacher, temperature: teacherTemperature).reshaped(globalCrops, b, k)
        let logStudent = logSoftmax(student * (1 / studentTemperature)).reshaped(crops, b, k)
        // Σ_{j≠g} log Ps_j = Σ_j log Ps_j − log Ps_g: one sum over crops instead of T products.
        let others = logStudent.sum(axis: 0, keepDims: true) - logStudent.slice(axis: 0, 0..<globalCrops)
        let loss = -(targets * others).sum() * (1 / Float(b * pairs(crops: crops)))

        let entropy: Float = withNoGrad {
            let p = targets.data
            var h: Double = 0
            for i in 0..<targets.count where p[i] > 0 { h -= Double(p[i]) * Double(Foundation.log(p[i])) }
            return Float(h / Double(globalCrops * b))
        }
        return (loss, Statistics(crossEntropy: loss.item, teacherEntropy: entropy, kl: loss.item - entropy))
    }

    /// c ← m·c + (1 − m)·mean over rows of the raw teacher outputs (both global crops).
    public func updateCenter(teacher: Tensor) {
        guard centering else { return }
        let mean = withNoGrad { teacher.mean(axis: 0, keepDims: true) }
        center.interpolate(towards: mean, keeping: centerMomentum)
    }

    /// ‖c‖
    public var centerNorm: Float {
        var s: Float = 0
        for i in 0..<center.count { s += center.data[i] * center.data[i] }
        return s.squareRoot()
    }
}
