// DINO's training loop (the official main_dino.py `train_one_epoch`), with the teacher built in
// any of the ways the paper's §5.2 compares, and the diagnostics of its §5.3 logged as it runs.
import Data
import Foundation
import NN
import Tensor

/// One training step's diagnostics (DINO Fig. 7 and the collapse signatures people check).
public struct DINOStepRecord: Codable, Sendable {
    public var step: Int
    public var loss: Float               // H(Pt, Ps), averaged over crop pairs and images
    public var teacherEntropy: Float     // h(Pt); ln K is a uniform teacher, 0 a one-hot one
    public var kl: Float                 // KL(Pt‖Ps) = loss − h(Pt); 0 means the student copies a constant
    public var centerNorm: Float         // ‖c‖
    public var featureStd: Float         // mean over dimensions of the std over the batch of the student's
                                         // L2-normalized features; 0 when collapsed, ~1/√D when spread

    /// The values the training loop averages over an epoch, by name.
    static let metricNames = ["loss", "teacherEntropy", "kl", "centerNorm", "featureStd"]
    var metrics: [String: Double] {
        ["loss": Double(loss), "teacherEntropy": Double(teacherEntropy), "kl": Double(kl), "centerNorm": Double(centerNorm),
         "featureStd": Double(featureStd)]
    }
}

/// One epoch: the step diagnostics averaged, and the k-NN accuracy of the teacher's features.
public struct DINOEpochRecord: Codable, Sendable {
    public var epoch: Int
    public var loss: Float, teacherEntropy: Float, kl: Float, centerNorm: Float, featureStd: Float
    public var knn: [Int: Double]        // k → top-1 percent, all 60 000 training images as the bank; empty if not run
    public var knnSubset: [Int: Double]  // the same with the first `KNNSchedule.subsetBank` images as the bank; empty if none
    public var seconds: Double           // training steps only
    public var evaluationSeconds: Double // the k-NN after the epoch: feature pass and search
    public var imagesPerSecond: Double
}

/// When the teacher is evaluated during training. The official protocol (all 60 000 training
/// images as the bank) costs a 70 000-image feature pass; an intermediate epoch may instead use
/// the first `subsetBank` training images, a pass of `subsetBank` + 10 000. The last epoch
/// always runs both, so the two curves can be compared where they meet.
public struct KNNSchedule: Codable, Sendable {
    public var ks: [Int]
    public var every = 1              // full-bank k-NN after every `every`-th epoch, and after the last
    public var subsetBank: Int? = nil // if set: the subset bank after every epoch, the full bank only after the last

    public init(ks: [Int] = [20, 200], every: Int = 1, subsetBank: Int? = nil) {
        (self.ks, self.every, self.subsetBank) = (ks, every, subsetBank)
    }

    public static let none = KNNSchedule(ks: [])

    /// The teacher study's curves, which every shared DINO artifact records: k-NN20 and k-NN200
    /// on the first 10 000 training images after each epoch (2 000 at quick scale), all 60 000
    /// after the last.
    public static func curves(_ scale: Scale) -> KNNSchedule {
        KNNSchedule(ks: [20, 200], subsetBank: scale == .quick ? 2000 : 10_000)
    }

    /// Every k must fit the bank: `training` images, and the subset bank if one is set.
    public func check(training: Int) throws {
        guard let k = ks.max() else { return }
        for (bank, what) in [(training, "the training set"), (subsetBank.map { min($0, training) } ?? training, "the subset bank")] where bank < k {
            throw TrainingError("k-NN\(k) needs at least \(k) training images in its bank, but \(what) holds \(bank); "
                + "use a dataset (--data) with at least \(k) training images")
        }
    }

    func evaluates(epoch: Int, of epochs: Int) -> (full: Bool, subset: Bool) {
        guard !ks.isEmpty else { return (false, false) }
        if epoch == epochs { return (true, subsetBank != nil) }
        return subsetBank != nil ? (false, true) : (epoch % every == 0, false)
    }
}

/// A student, its teacher, the loss with its center, and the loop that trains them.
public final class DINOTrainer {
    public let recipe: DINORecipe
    public let student: DINONetwork
    public let teacher: DINONetwork
    public let loss: DINOLoss
    let data: FashionMNIST
    let train: ImageSet
    public let stepsPerEpoch: Int
    /// The schedules, indexed by global step (learning rate, weight decay, teacher momentum) or
    /// by epoch (teacher temperature).
    public let learningRates: [Float], weightDecays: [Float], momenta: [Float], teacherTemperatures: [Float]
    let optimizer: AdamW
    var rng: RNG
    /// Every step's diagnostics so far, in order.
    public private(set) var stepRecords: [DINOStepRecord] = []
    /// Steps taken: the index into the per-step schedules.
    public var step: Int { stepRecords.count }
    /// The teacher's normalized features of the training and test sets at the last k-NN.
    public private(set) var lastFeatures: (train: Tensor, test: Tensor)?

    public init(recipe: DINORecipe, data: FashionMNIST, seed: UInt64) throws {
        try recipe.validate()
        self.recipe = recipe
        self.data = data
        train = recipe.trainImages.map { data.train.prefix($0) } ?? data.train
        stepsPerEpoch = train.count / recipe.batchSize
        guard stepsPerEpoch >= 1 else {
            throw TrainingError("DINO recipe: a batch of \(recipe.batchSize) is larger than the \(train.count) training images")
        }
        rng = RNG(seed: seed)
        student = try DINONetwork(backbone: recipe.makeBackbone(student: true, rng: &rng), head: recipe.head, rng: &rng)
        var teacherRNG = rng  // the teacher's own initialization is overwritten by the student's just below
        teacher = try DINONetwork(backbone: recipe.makeBackbone(student: false, rng: &teacherRNG), head: recipe.head, rng: &teacherRNG)
        // The teacher starts as a copy of the student (main_dino.py: load_state_dict), in its own
        // storage: sharing it would make every teacher a student copy (dinov2#407).
        for (t, s) in zip(teacher.parameters, student.parameters) { t.assign(s); t.requiresGrad = false }
        for (t, s) in zip(teacher.namedBuffers(), student.namedBuffers()) { t.tensor.assign(s.tensor) }
        // No drop path in the teacher. A ConvNet teacher normalizes by its batch's statistics, as the
        // official code's teacher (never put in eval mode) does; its running ones serve the k-NN.
        teacher.setTraining(recipe.convNetBackbone != nil)
        loss = try DINOLoss(outDim: recipe.head.outDim, globalCrops: recipe.globalCrops, studentTemperature: recipe.studentTemperature,
                            centerMomentum: recipe.centerMomentum, centering: recipe.centering)
        let e = recipe.epochs, n = stepsPerEpoch
        learningRates = cosineSchedule(base: recipe.learningRate * Float(recipe.batchSize) / 256, final: recipe.minLearningRate,
                                       epochs: e, iterationsPerEpoch: n, warmupEpochs: recipe.warmupEpochs)
        weightDecays = cosineSchedule(base: recipe.weightDecay.lowerBound, final: recipe.weightDecay.upperBound, epochs: e, iterationsPerEpoch: n)
        // The paper's text: λ reaches 1 at the last step (the official code stops a hair short).
        momenta = cosineSchedule(base: recipe.teacherMomentum, final: 1, epochs: e, iterationsPerEpoch: n, reachFinal: true)
        teacherTemperatures = linearWarmupSchedule(start: recipe.warmupTeacherTemperature, end: recipe.teacherTemperature,
                                                   warmupSteps: recipe.warmupTeacherTemperatureEpochs, totalSteps: e)
        // DINO's groups: biases and norms without decay; everything else (tokens too) decays.
        optimizer = AdamW(ParameterGroup.weightDecaySplit(student.namedParameters()), learningRate: learningRates[0],
                          weightDecay: weightDecays[0])
    }

    /// The crops of one batch, normalized: globals first, then locals.
    public func crops(_ indices: [Int], rng: inout RNG) -> [Tensor] {
        TimeBreakdown.measure(.dataAndAugmentation) { recipe.multiCrop(train.images(indices), rng: &rng).map { data.normalize($0) } }
    }

    /// One optimizer step on the batch `indices` of the training set in epoch `epoch` (0-based),
    /// its crops drawn from the trainer's generator.
    public func trainStep(_ indices: [Int], epoch: Int) throws -> DINOStepRecord {
        var generator = rng
        defer { rng = generator }
        return try trainStep(crops: crops(indices, rng: &generator), epoch: epoch)
    }

    /// One optimizer step on normalized crops (B, 1, size, size), the global ones first.
    public func trainStep(crops views: [Tensor], epoch: Int) throws -> DINOStepRecord {
        precondition((0..<recipe.epochs).contains(epoch), "DINO step: epoch \(epoch) is outside the recipe's 0..<\(recipe.epochs)")
        let b = views[0].shape[0]
        let teacherOutput = TimeBreakdown.measure(.teacherForward) {
            withNoGrad { teacher(Array(views.prefix(recipe.globalCrops))).outputs }  // (G·B, K)
        }
        let (studentOutput, studentFeatures) = student(views)                                     // (C·B, K), (C·B, D)
        let (value, statistics) = loss(student: studentOutput, teacher: teacherOutput,
                                       teacherTemperature: teacherTemperatures[epoch])
        guard value.item.isFinite else {
            throw TrainingError("DINO (\(recipe.teacher.rawValue) teacher): the loss is \(value.item) at epoch \(epoch + 1), step \(step + 1); "
                + "lower the learning rate (now \(learningRates[step])) or raise the teacher temperature")
        }
        optimizer.zeroGrad()
        value.backward()
        clipGradientsPerParameter(optimizer.parameters, maxNorm: recipe.clipGrad)
        // The student's last layer does not move during the first epoch(s) (main_dino.py
        // cancel_gradients_last_layer): with no gradient AdamW skips it entirely.
        if epoch < recipe.freezeLastLayerEpochs {
            for p in student.head.lastLayer.parameters { p.grad = nil }
        }
        if recipe.teacher == .previousIteration { copyStudentIntoTeacher() }  // θt = θs before this step's update
        optimizer.learningRate = learningRates[step]
        optimizer.weightDecay = weightDecays[step]
        optimizer.step()
        switch recipe.teacher {
        case .momentum:
            let m = momenta[step]
            for (t, s) in zip(teacher.parameters, student.parameters) { t.interpolate(towards: s, keeping: m) }
        case .studentCopy: copyStudentIntoTeacher()
        case .previousIteration, .previousEpoch, .fixedRandom: break
        }
        loss.updateCenter(teacher: teacherOutput)
        let std = withNoGrad { featureSpread(studentFeatures.slice(axis: 0, 0..<recipe.globalCrops * b)) }
        let record = DINOStepRecord(step: step + 1, loss: statistics.crossEntropy, teacherEntropy: statistics.teacherEntropy, kl: statistics.kl,
                                    centerNorm: loss.centerNorm, featureStd: std)
        stepRecords.append(record)
        return record
    }

    func copyStudentIntoTeacher() {
        for (t, s) in zip(teacher.parameters, student.parameters) { t.assign(s) }
    }

    /// Trains every epoch; after each, k-NN of the teacher's backbone on the test set as
    /// `evaluation` schedules it. With a `checkpoint`, the state is saved after every epoch and
    /// when a stop is requested, and a resumed run continues from it; `stepRecords` then holds
    /// the steps before the stop too.
    public func train(label: String, evaluation: KNNSchedule = KNNSchedule(), checkpoint: RunCheckpoint? = nil,
                      onStep: (DINOStepRecord) throws -> Void = { _ in }) throws -> [DINOEpochRecord] {
        try evaluation.check(training: data.train.count)
        var loop = TrainingLoop(label: label, epochs: recipe.epochs, stepsPerEpoch: stepsPerEpoch, batchSize: recipe.batchSize,
                                examples: train.count, models: [("student.", student), ("teacher.", teacher), ("loss.", loss)], training: [student],
                                optimizer: optimizer, metrics: MetricLogger(DINOStepRecord.metricNames, precision: .float),
                                checkpoint: checkpoint)
        loop.saveExtra = { [unowned self] snapshot in try snapshot.put("steps", stepRecords) }
        loop.restoreExtra = { [unowned self] saved, taken in
            let savedRecords: [DINOStepRecord] = try saved.value("steps")
            guard savedRecords.count == taken, savedRecords.last.map({ $0.step == taken }) ?? true else {
                throw saved.unusable("its \(savedRecords.count) step records do not match its position, \(taken) steps")
            }
            return { [unowned self] in stepRecords = savedRecords }
        }
        var generator = rng  // the loop's while it runs: batch order and crops
        defer { rng = generator }
        let history: [DINOEpochRecord] = try loop.run(rng: &generator, step: { batch, epoch, _, rng in
            let record = try TimeBreakdown.measure(.trainingSteps) { try trainStep(crops: crops(batch, rng: &rng), epoch: epoch) }
            try onStep(record)
            return record.metrics
        }, endEpoch: { epoch, metrics, seconds in
            if recipe.teacher == .previousEpoch { copyStudentIntoTeacher() }
            let evaluated = Date()
            let (knn, knnSubset) = evaluate(after: epoch, evaluation)
            let evaluationSeconds = Date().timeIntervalSince(evaluated)
            func mean(_ name: String) -> Float { Float(metrics.mean(name, steps: stepsPerEpoch)) }
            let record = DINOEpochRecord(epoch: epoch, loss: mean("loss"), teacherEntropy: mean("teacherEntropy"), kl: mean("kl"),
                                         centerNorm: mean("centerNorm"), featureStd: mean("featureStd"), knn: knn, knnSubset: knnSubset,
                                         seconds: seconds, evaluationSeconds: evaluationSeconds,
                                         imagesPerSecond: Double(stepsPerEpoch * recipe.batchSize) / seconds)
            let knnText = evaluation.ks.compactMap { k in knn[k].map { "k-NN\(k) \(String(format: "%.2f", $0))%" } }.joined(separator: "  ")
                + evaluation.ks.compactMap { k in knnSubset[k].map { "  k-NN\(k) \(String(format: "%.2f", $0))% (\(evaluation.subsetBank!) bank)" } }.joined()
            return (record, "epoch \(epoch)/\(recipe.epochs)  loss \(String(format: "%.4f", record.loss))  h(Pt) \(String(format: "%.3f", record.teacherEntropy))  KL \(String(format: "%.3f", record.kl))  \(knnText)")
        })
        // A run restored after its last epoch has not computed the features its k-NN used.
        if !evaluation.ks.isEmpty && lastFeatures == nil { lastFeatures = teacherFeatures() }
        return history
    }

    /// The k-NN accuracies `schedule` asks for after `epoch` (1-based): with all 60 000 training
    /// images as the bank, and with the first `subsetBank` of them.
    func evaluate(after epoch: Int, _ schedule: KNNSchedule) -> (full: [Int: Double], subset: [Int: Double]) {
        TimeBreakdown.measure(.evaluation) { evaluateNow(after: epoch, schedule) }
    }

    private func evaluateNow(after epoch: Int, _ schedule: KNNSchedule) -> (full: [Int: Double], subset: [Int: Double]) {
        let (full, subset) = schedule.evaluates(epoch: epoch, of: recipe.epochs)
        var result: (full: [Int: Double], subset: [Int: Double]) = ([:], [:])
        if full {
            let features = teacherFeatures()
            result.full = knn(features, bank: nil, ks: schedule.ks)
            if subset { result.subset = knn(features, bank: schedule.subsetBank, ks: schedule.ks) }
            lastFeatures = features
        } else if subset, let bank = schedule.subsetBank {
            let features = teacherFeatures(bank: bank)
            result.subset = knn(features, bank: bank, ks: schedule.ks)
        }
        return result
    }

    /// Weighted k-NN of the test features against the first `bank` rows of the training
    /// features (nil: all of them).
    func knn(_ features: (train: Tensor, test: Tensor), bank: Int?, ks: [Int]) -> [Int: Double] {
        let n = min(bank ?? features.train.shape[0], features.train.shape[0])
        return weightedKNN(train: n == features.train.shape[0] ? features.train : features.train.slice(axis: 0, 0..<n),
                           trainLabels: Array(data.train.labels.prefix(n)), test: features.test, testLabels: data.test.labels, ks: ks)
    }

    /// The k-NN of the teacher as it is now, without training: the fixed-random teacher's
    /// whole result, since it never changes. `lastFeatures` holds its features afterwards.
    public func evaluateTeacher(_ schedule: KNNSchedule) -> (full: [Int: Double], subset: [Int: Double]) {
        let features = teacherFeatures()
        lastFeatures = features
        return (knn(features, bank: nil, ks: schedule.ks), schedule.subsetBank.map { knn(features, bank: $0, ks: schedule.ks) } ?? [:])
    }

    /// The teacher backbone's L2-normalized features of the first `bank` training images (nil:
    /// all 60 000) and the 10 000 test images.
    public func teacherFeatures(bank: Int? = nil) -> (train: Tensor, test: Tensor) {
        let bankImages = bank.map { data.train.prefix(min($0, data.train.count)) } ?? data.train
        return (train: normalizedFeatures(teacher.backbone, of: bankImages, data: data),
                test: normalizedFeatures(teacher.backbone, of: data.test, data: data))
    }
}

/// Mean over dimensions of the standard deviation over the batch of the L2-normalized rows of
/// `features` (B, D): 0 when every row is the same vector (collapse), about 1/√D when they spread.
public func featureSpread(_ features: Tensor) -> Float {
    let x = l2Normalize(features)
    let (b, d) = (x.shape[0], x.shape[1])
    var total: Double = 0
    for j in 0..<d {
        var s: Double = 0, s2: Double = 0
        for i in 0..<b { let v = Double(x.data[i * d + j]); s += v; s2 += v * v }
        let mean = s / Double(b)
        total += max(s2 / Double(b) - mean * mean, 0).squareRoot()
    }
    return Float(total / Double(d))
}
