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
    public var trainImages: Int? = nil            // nil: all 60 000

    public init(epochs: Int, batchSize: Int, learningRate: Float) {
        (self.epochs, self.batchSize, self.learningRate) = (epochs, batchSize, learningRate)
    }
}

/// One epoch of a training run.
public struct EpochRecord: Codable, Sendable {
    public let epoch: Int
    public let trainLoss: Double      // mean over the epoch's steps
    public let testAccuracy: Double   // percent, on the 10 000 test images
    public let seconds: Double        // wall-clock time of the epoch's training steps
    public let imagesPerSecond: Double
}

public struct TrainingError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The names timm exempts from weight decay in a ViT, besides biases and 1-D tensors.
public let noWeightDecayNames: Set<String> = ["pos_embed", "cls_token", "dist_token", "cls_token_2"]

/// Training images for one step: crop, flip, normalize, erase — the order of timm's transforms.
public func augmentedBatch(_ indices: [Int], from set: ImageSet, data: FashionMNIST, recipe: SupervisedRecipe,
                           rng: inout RNG) -> Tensor {
    var x = set.images(indices)
    if let scale = recipe.cropScale { x = randomResizedCrop(x, size: set.height, scale: scale, rng: &rng) }
    if recipe.flip { x = randomHorizontalFlip(x, rng: &rng) }
    x = data.normalize(x)
    if recipe.erasing > 0 { x = randomErasing(x, p: recipe.erasing, rng: &rng) }
    return x
}

/// The loss of one training step: augmented, normalized images and their labels → a scalar.
public typealias Objective = (_ images: Tensor, _ labels: [Int]) -> Tensor

/// Trains `model` with AdamW, a cosine learning rate after a linear warmup, and `objective` —
/// by default label-smoothed cross-entropy on the model's logits; DeiT's distillation passes its
/// own — and measures the (class-head) test accuracy after every epoch. Stops with an error on a
/// non-finite loss (as DINO's and DeiT's loops do).
public func trainClassifier(_ model: any Classifier, recipe: SupervisedRecipe, data: FashionMNIST,
                            label: String, rng: inout RNG, objective: Objective? = nil,
                            onEpoch: (EpochRecord) throws -> Void = { _ in }) throws -> [EpochRecord] {
    let objective = objective ?? { x, y in crossEntropy(model.logits(x), labels: y, labelSmoothing: recipe.labelSmoothing) }
    let train = recipe.trainImages.map { data.train.prefix($0) } ?? data.train
    let stepsPerEpoch = max(1, train.count / recipe.batchSize)
    let schedule = cosineSchedule(base: recipe.learningRate, final: recipe.minLearningRate, epochs: recipe.epochs,
                                  iterationsPerEpoch: stepsPerEpoch, warmupEpochs: min(recipe.warmupEpochs, recipe.epochs))
    let optimizer = AdamW(ParameterGroup.weightDecaySplit(model.namedParameters(), noDecay: noWeightDecayNames),
                          learningRate: recipe.learningRate, weightDecay: recipe.weightDecay)
    let progress = Progress(label, totalSteps: recipe.epochs * stepsPerEpoch)
    var history: [EpochRecord] = []
    var iteration = 0
    guard recipe.epochs > 0 else { return history }
    for epoch in 1...recipe.epochs {
        model.setTraining(true)
        let start = Date()
        var lossSum: Double = 0
        for (step, batch) in epochBatches(count: train.count, batchSize: recipe.batchSize, rng: &rng).prefix(stepsPerEpoch).enumerated() {
            let x = augmentedBatch(batch, from: train, data: data, recipe: recipe, rng: &rng)
            let loss = objective(x, train.labels(batch))
            guard loss.item.isFinite else {
                throw TrainingError("\(label): the loss is \(loss.item) at epoch \(epoch), step \(step + 1); lower the learning rate (now \(schedule[iteration]))")
            }
            optimizer.zeroGrad()
            loss.backward()
            optimizer.learningRate = schedule[iteration]
            optimizer.step()
            iteration += 1
            lossSum += Double(loss.item)
            progress.step(epoch: epoch, epochs: recipe.epochs, loss: loss.item, images: batch.count)
        }
        let seconds = Date().timeIntervalSince(start)
        let record = EpochRecord(epoch: epoch, trainLoss: lossSum / Double(stepsPerEpoch),
                                 testAccuracy: accuracy(model, on: data.test, data: data), seconds: seconds,
                                 imagesPerSecond: Double(stepsPerEpoch * recipe.batchSize) / seconds)
        progress.epoch("epoch \(epoch)/\(recipe.epochs)  loss \(String(format: "%.4f", record.trainLoss))  test \(String(format: "%.2f", record.testAccuracy))%")
        history.append(record)
        try onEpoch(record)
    }
    return history
}

/// Class predictions for every image of `set`, in evaluation mode and without a graph.
public func predictions(_ model: any Classifier, on set: ImageSet, data: FashionMNIST, batchSize: Int = 500) -> [Int] {
    model.setTraining(false)
    return withNoGrad {
        stride(from: 0, to: set.count, by: batchSize).flatMap { start in
            let indices = Array(start..<min(start + batchSize, set.count))
            return model.logits(data.normalize(set.images(indices))).argmaxLastAxis()
        }
    }
}

/// Top-1 accuracy in percent.
public func accuracy(_ model: any Classifier, on set: ImageSet, data: FashionMNIST) -> Double {
    let predicted = predictions(model, on: set, data: data)
    return 100 * Double(zip(predicted, set.labels).filter { $0 == $1 }.count) / Double(max(set.count, 1))
}
