// Supervised training of a classifier on Fashion-MNIST, and its evaluation: how the teachers
// (and the undistilled baselines) are trained.
import Data
import Foundation
import NN
import Tensor

/// Every knob of a supervised run. DeiT's values (Touvron et al., 2021, Tab. 9) beside ours.
public struct SupervisedRecipe: Codable, Hashable, Sendable {
    public var epochs: Int                        // DeiT 300
    public var batchSize: Int                     // DeiT 1024
    public var learningRate: Float                // peak; DeiT 5e-4·batch/512
    public var minLearningRate: Float = 1e-5      // DeiT 1e-5
    public var warmupEpochs: Int = 1              // DeiT 5
    public var weightDecay: Float = 0.05          // DeiT 0.05
    public var labelSmoothing: Float = 0.1        // DeiT 0.1
    public var cropScale: ClosedRange<Float>? = nil     // random resized crop, off: it slowed learning in a
                                                        // 10-epoch budget; DeiT (0.08, 1) with RandAugment
    public var flip = true                        // DeiT: yes
    public var erasing = 0.0                      // DeiT 0.25
    public var randAugment: RandAugment? = nil    // DeiT rand-m9-mstd0.5-inc1; nil: off
    public var mix: MixConfig? = nil              // DeiT Mixup 0.8 / CutMix 1.0, every batch; nil: off
    public var trainImages: Int? = nil            // nil: all 60 000
    public var curveImages: Int? = nil            // the first N test images measure the per-epoch accuracy; nil: all
                                                  // 10 000 (DeiT: all 50 000 each epoch). The final accuracy always uses all.
    /// A ViT's prefix tokens (cls_token, dist_token, cls_token_2): their learning rate as a
    /// multiple of the base, and whether weight decay applies to them. nil: timm's.
    public var tokenLearningRateScale: Float? = nil  // timm/DeiT: 1
    public var tokenWeightDecay: Bool? = nil         // timm/DeiT: none (`no_weight_decay()` lists the tokens)

    public init(epochs: Int, batchSize: Int, learningRate: Float, trainImages: Int? = nil) {
        (self.epochs, self.batchSize, self.learningRate, self.trainImages) = (epochs, batchSize, learningRate, trainImages)
    }

    public static let maxEpochs = 1000, maxBatchSize = 4096

    /// Whether a training view is drawn at random from more than an image and its mirror: then
    /// no two epochs show a model the same inputs, and a teacher's logits cannot be memoized.
    public var augmentsBeyondFlip: Bool { cropScale != nil || randAugment != nil || erasing > 0 || mix.map { $0.probability > 0 } == true }

    /// What would make the run impossible or meaningless, with the fix in the message.
    public func validate() throws {
        func fail(_ s: String) -> TrainingError { TrainingError("training recipe: \(s)") }
        guard (1...SupervisedRecipe.maxEpochs).contains(epochs) else { throw fail("the epoch count must be from 1 to \(SupervisedRecipe.maxEpochs), got \(epochs)") }
        guard (1...SupervisedRecipe.maxBatchSize).contains(batchSize) else {
            throw fail("the batch size must be from 1 to \(SupervisedRecipe.maxBatchSize), got \(batchSize)")
        }
        if let trainImages, !(1...60_000).contains(trainImages) {
            throw fail("the training images must be from 1 to 60000 (Fashion-MNIST's training set), got \(trainImages)")
        }
        if let curveImages, !(1...10_000).contains(curveImages) {
            throw fail("the test images of the per-epoch curve must be from 1 to 10000 (Fashion-MNIST's test set), got \(curveImages)")
        }
        // Below 1e-8 an AdamW step moves no weight of Float precision; above 1 it destroys them.
        guard (1e-8...1).contains(learningRate), minLearningRate.isFinite, minLearningRate >= 0 else {
            throw fail("the learning rate must be from 1e-8 to 1, got \(learningRate)")
        }
        guard (0...epochs).contains(warmupEpochs) else { throw fail("the warmup epochs must be from 0 to the \(epochs) epochs, got \(warmupEpochs)") }
        guard weightDecay.isFinite, weightDecay >= 0, (0..<1).contains(labelSmoothing), (0..<1).contains(erasing) else {
            throw fail("weight decay must be finite and ≥ 0, label smoothing and erasing in [0, 1)")
        }
        if erasing > 0 && erasing < 1e-6 {
            throw fail("an erasing probability of \(erasing) erases a negligible share of images (under one in a million); use 0 to turn erasing off, or at least 1e-6")
        }
        // The tokens' rate is the base rate times the scale, held to the base rate's 1e-8 to 1.
        if let scale = tokenLearningRateScale, !(scale.isFinite && (1e-8...1).contains(Double(learningRate) * Double(scale))) {
            throw fail("the tokens' learning-rate scale times the learning rate must be from 1e-8 to 1, got \(scale) × \(learningRate)")
        }
        if let cropScale, !(cropScale.lowerBound > 0 && cropScale.upperBound <= 1) {
            throw fail("the crop scale must lie in (0, 1], got \(cropScale)")
        }
        if let r = randAugment, !((0...4).contains(r.layers) && (0...10).contains(r.magnitude) && r.magnitudeStd >= 0
                                  && (0...1).contains(r.probability) && !r.operations.isEmpty) {
            throw fail("RandAugment takes 0 to 4 layers, a magnitude from 0 to 10, a std ≥ 0, a probability in [0, 1] and at least one operation")
        }
        // A fixed magnitude (std 0) below 1e-3 of the 0–10 scale moves no pixel: magnitude 0 under
        // another name. With a std, the drawn magnitudes spread around it and do change images.
        if let r = randAugment, r.magnitudeStd == 0, r.magnitude > 0 && r.magnitude < 1e-3 {
            throw fail("a RandAugment magnitude of \(r.magnitude) with no spread changes no pixel; use 0 or at least 0.001 (DeiT's 9)")
        }
        if let m = mix, !(m.mixupAlpha >= 0 && m.cutmixAlpha >= 0 && m.mixupAlpha.isFinite && m.cutmixAlpha.isFinite
                          && (0...1).contains(m.probability) && (0...1).contains(m.switchProbability)) {
            throw fail("Mixup and CutMix take finite α ≥ 0 (DeiT 0.8 and 1.0) and probabilities in [0, 1]")
        }
        // Beta(α, α) below α = 0.001 puts λ within 0.001 of 0 or 1 in over 99 % of batches: no mixing.
        if let m = mix, let (name, alpha) = [("mixup", m.mixupAlpha), ("cutmix", m.cutmixAlpha)].first(where: { $0.1 > 0 && $0.1 < 1e-3 }) {
            throw fail("a \(name) α of \(alpha) mixes (nearly) no batch: Beta(α, α) puts λ within 0.001 of 0 or 1 in over 99 % of draws; use 0 to turn it off, or at least 0.001 (DeiT's 0.8 and 1.0)")
        }
    }
}

extension SupervisedRecipe {
    /// timm's split (no decay for biases, norms and the model's `noWeightDecay`), with a ViT's
    /// prefix tokens in a group of their own when the recipe sets their rate or decay.
    public func parameterGroups(_ model: any Classifier) -> [ParameterGroup] {
        let named = model.namedParameters()
        guard tokenLearningRateScale != nil || tokenWeightDecay != nil, let vit = model as? VisionTransformer else {
            return ParameterGroup.weightDecaySplit(named, noDecay: model.noWeightDecay)
        }
        let names = Set(vit.prefixTokenNames)
        let tokens = named.filter { names.contains($0.name) }.map(\.tensor)
        return ParameterGroup.weightDecaySplit(named.filter { !names.contains($0.name) }, noDecay: model.noWeightDecay)
            + [ParameterGroup(tokens, weightDecay: tokenWeightDecay ?? false, learningRateScale: tokenLearningRateScale ?? 1)]
    }
}

/// One epoch of a training run.
public struct EpochRecord: Codable, Sendable {
    public let epoch: Int
    public let trainLoss: Double      // mean over the epoch's steps
    public let testAccuracy: Double   // percent, on the recipe's curve images (all 10 000 test images by default)
    public let seconds: Double        // wall-clock time of the epoch's training steps
    public let imagesPerSecond: Double
    public var metrics: [String: Double]? = nil  // the objective's own, over the epoch's steps (e.g. teacherLabelFlips)
}


/// Training images for one step and their labels: crop, flip, RandAugment, normalize, erase —
/// the order of timm's transforms — then Mixup or CutMix over the batch, as DeiT's engine does.
public func augmentedBatch(_ indices: [Int], from set: ImageSet, data: FashionMNIST, recipe: SupervisedRecipe,
                           rng: inout RNG) -> (images: Tensor, labels: MixedLabels) {
    var x = set.images(indices)
    if let scale = recipe.cropScale { x = randomResizedCrop(x, size: set.height, scale: scale, rng: &rng) }
    if recipe.flip { x = randomHorizontalFlip(x, rng: &rng) }
    if let policy = recipe.randAugment { x = policy(x, rng: &rng) }
    x = data.normalize(x)
    if recipe.erasing > 0 { x = randomErasing(x, p: recipe.erasing, rng: &rng) }
    let labels = set.labels(indices)
    guard let mix = recipe.mix else { return (x, MixedLabels(labels)) }
    let mixed = mixBatch(x, config: mix, rng: &rng)
    return (mixed.images, MixedLabels(labels: labels, partners: mixed.partnerLabels(labels), lambda: mixed.lambda))
}

/// The loss of one training step, from augmented, normalized images and their (mixed) labels,
/// with the objective's own values for the step (summed over the epoch by the training loop).
public typealias Objective = (_ images: Tensor, _ labels: MixedLabels) -> (loss: Tensor, metrics: [String: Double])

/// Trains `model` with AdamW, a cosine learning rate after a linear warmup, and `objective` —
/// by default label-smoothed cross-entropy on the model's logits; DeiT's distillation passes its
/// own — and measures the (class-head) test accuracy after every epoch. Stops with an error on a
/// non-finite loss (as DINO's and DeiT's loops do). With a `checkpoint`, the state is saved after
/// every epoch and when a stop is requested, and a resumed run continues from it. `metrics` names
/// the objective's own values; after each epoch `epochMetrics` turns their sums into the record's,
/// and `probe` adds measures of the model itself (the token study's cosines). The per-epoch
/// accuracy is measured on `evaluation`, else on the recipe's `curveImages` (the whole test set
/// by default); it never touches the weights or the generators, so a subset only makes the
/// record cheaper.
public func trainClassifier(_ model: any Classifier, recipe: SupervisedRecipe, data: FashionMNIST,
                            label: String, rng: inout RNG, objective: Objective? = nil,
                            metrics: [String] = [], epochMetrics: ((MetricLogger) -> [String: Double])? = nil,
                            probe: (() -> [String: Double])? = nil, evaluation: ImageSet? = nil,
                            checkpoint: RunCheckpoint? = nil) throws -> [EpochRecord] {
    try recipe.validate()
    let objective = objective ?? { x, y in (crossEntropy(model.logits(x), mixed: y, labelSmoothing: recipe.labelSmoothing), [:]) }
    let train = recipe.trainImages.map { data.train.prefix($0) } ?? data.train
    let stepsPerEpoch = max(1, train.count / recipe.batchSize)
    let schedule = cosineSchedule(base: recipe.learningRate, final: recipe.minLearningRate, epochs: recipe.epochs,
                                  iterationsPerEpoch: stepsPerEpoch, warmupEpochs: min(recipe.warmupEpochs, recipe.epochs))
    let curve = evaluation ?? recipe.curveImages.map { data.test.prefix($0) } ?? data.test
    let optimizer = AdamW(recipe.parameterGroups(model), learningRate: recipe.learningRate, weightDecay: recipe.weightDecay)
    let loop = TrainingLoop(label: label, epochs: recipe.epochs, stepsPerEpoch: stepsPerEpoch, batchSize: recipe.batchSize,
                            examples: train.count, models: [("model.", model)], training: [model], optimizer: optimizer,
                            metrics: MetricLogger(["loss"] + metrics), checkpoint: checkpoint)
    return try loop.run(rng: &rng, step: { batch, epoch, iteration, rng in
        try TimeBreakdown.measure(.trainingSteps) {
            let (x, labels) = TimeBreakdown.measure(.dataAndAugmentation) {
                augmentedBatch(batch, from: train, data: data, recipe: recipe, rng: &rng)
            }
            let (loss, values) = objective(x, labels)
            guard loss.item.isFinite else {
                throw TrainingError("\(label): the loss is \(loss.item) at epoch \(epoch + 1), step \(iteration - epoch * stepsPerEpoch + 1); lower the learning rate (now \(schedule[iteration]))")
            }
            optimizer.zeroGrad()
            loss.backward()
            optimizer.learningRate = schedule[iteration]
            optimizer.step()
            return values.merging(["loss": Double(loss.item)]) { $1 }
        }
    }, endEpoch: { epoch, sums, seconds in
        var record = EpochRecord(epoch: epoch, trainLoss: sums.mean("loss", steps: stepsPerEpoch),
                                 testAccuracy: accuracy(model, on: curve, data: data), seconds: seconds,
                                 imagesPerSecond: Double(stepsPerEpoch * recipe.batchSize) / seconds)
        record.metrics = metrics.isEmpty ? nil : epochMetrics?(sums)
        if let probe { record.metrics = (record.metrics ?? [:]).merging(probe()) { $1 } }
        let extra = (record.metrics ?? [:]).sorted { $0.key < $1.key }.map { "  \($0.key) \(String(format: "%.4f", $0.value))" }.joined()
        let measured = evaluation.map { "probe (\($0.count) test images)" } ?? (curve.count < data.test.count ? "test (first \(curve.count))" : "test")
        return (record, "epoch \(epoch)/\(recipe.epochs)  loss \(String(format: "%.4f", record.trainLoss))  \(measured) \(String(format: "%.2f", record.testAccuracy))%\(extra)")
    })
}

/// Class predictions for every image of `set`, in evaluation mode and without a graph.
public func predictions(_ model: any Classifier, on set: ImageSet, data: FashionMNIST, batchSize: Int = 500) -> [Int] {
    model.setTraining(false)
    var predicted: [Int] = []
    forEachBatch(of: set, data: data, batchSize: batchSize, sizedFor: model) { _, _, x in predicted += model.logits(x).argmaxLastAxis() }
    return predicted
}

/// Top-1 accuracy in percent.
public func accuracy(_ model: any Classifier, on set: ImageSet, data: FashionMNIST) -> Double {
    topOneAccuracy(predictions(model, on: set, data: data), set.labels)
}
