// A linear classifier trained on frozen features: the other evaluation DINO reports.
import Data
import Foundation
import NN
import Tensor

/// What the probe was trained with; recorded beside its accuracy, since a probe's learning rate
/// decides its number (a reported 30% against 68% came down to lr 0.002 against 0.3, dino#131).
public struct LinearProbeRecipe: Codable, Hashable, Sendable {
    public var epochs = 10                 // official eval_linear.py 100
    public var batchSize = 256             // official 1024 (256 × 4 GPUs)
    public var learningRate: Float = 1e-3  // official SGD 0.001·batch/256 (lr sweeps are common); ours AdamW on standardized features
    public var weightDecay: Float = 0      // official 0
    public init() {}
}

/// Trains a linear layer on `train` features (N, D) — fixed, no augmentation, as the features
/// are precomputed once — with AdamW on a cosine schedule, and returns the test top-1 in percent.
/// Each feature dimension is first standardized with the training set's mean and std (a
/// BatchNorm without affine parameters in front of the layer, as several probes use), so one
/// learning rate suits features of any scale.
public func linearProbe(train rawTrain: Tensor, trainLabels: [Int], test rawTest: Tensor, testLabels: [Int], classes: Int = 10,
                        recipe: LinearProbeRecipe = LinearProbeRecipe(), rng: inout RNG) -> Double {
    let (train, test) = standardized(rawTrain, rawTest)
    let (n, d) = (train.shape[0], train.shape[1])
    let classifier = Linear(d, classes, rng: &rng)
    let steps = max(1, n / recipe.batchSize)
    let schedule = cosineSchedule(base: recipe.learningRate, final: 0, epochs: recipe.epochs, iterationsPerEpoch: steps)
    let optimizer = AdamW(classifier.parameters, learningRate: recipe.learningRate, weightDecay: recipe.weightDecay)
    var iteration = 0
    for epoch in 0..<recipe.epochs {
        Interruption.stopIfRequested(during: "a linear probe (epoch \(epoch + 1) of \(recipe.epochs))")
        for batch in epochBatches(count: n, batchSize: recipe.batchSize, rng: &rng).prefix(steps) {
            let x = gatherRows(train, batch)
            let loss = crossEntropy(classifier(x), labels: batch.map { trainLabels[$0] })
            optimizer.zeroGrad()
            loss.backward()
            optimizer.learningRate = schedule[iteration]
            optimizer.step()
            iteration += 1
        }
    }
    let predicted = withNoGrad { classifier(test).argmaxLastAxis() }
    return topOneAccuracy(predicted, testLabels)
}

/// Rows `indices` of a (N, D) tensor, as a new (indices.count, D) tensor without a graph.
func gatherRows(_ x: Tensor, _ indices: [Int]) -> Tensor {
    let d = x.shape[1]
    let out = Tensor(uninitialized: [indices.count, d])
    for (r, i) in indices.enumerated() { (out.data + r * d).update(from: x.data + i * d, count: d) }
    return out
}

/// (x − μ)/σ per column, with μ and σ from `reference`; applied to both.
func standardized(_ reference: Tensor, _ other: Tensor) -> (Tensor, Tensor) {
    let (n, d) = (reference.shape[0], reference.shape[1])
    var mean = [Double](repeating: 0, count: d), square = [Double](repeating: 0, count: d)
    for i in 0..<n { for j in 0..<d { let v = Double(reference.data[i * d + j]); mean[j] += v; square[j] += v * v } }
    let mu = mean.map { Float($0 / Double(n)) }
    let inverseSigma = (0..<d).map { j in Float(1 / max((square[j] / Double(n) - pow(mean[j] / Double(n), 2)).squareRoot(), 1e-6)) }
    func apply(_ x: Tensor) -> Tensor {
        let y = Tensor(uninitialized: x.shape)
        for i in 0..<x.shape[0] { for j in 0..<d { y.data[i * d + j] = (x.data[i * d + j] - mu[j]) * inverseSigma[j] } }
        return y
    }
    return (apply(reference), apply(other))
}
