// A training batch under DeiT's augmentation: reproducible from the seed, mixed labels that
// match the mixed pixels, and, with everything off, the plain normalized images.
import Foundation
import Testing
import Data
import Lab
import NN
import Tensor

@Suite("augmented batches") struct AugmentedBatchTests {
    @Test(.enabled(if: dataset != nil))
    func strongAugmentationIsReproducibleAndMixesTheLabels() throws {
        let data = dataset!
        var recipe = SupervisedRecipe(epochs: 1, batchSize: 32, learningRate: 1e-3)
        (recipe.cropScale, recipe.randAugment, recipe.erasing, recipe.mix) = (0.08...1, RandAugment(), 0.25, MixConfig())
        try recipe.validate()
        let indices = Array(0..<32)
        var a = RNG(seed: 3), b = RNG(seed: 3)
        let first = augmentedBatch(indices, from: data.train, data: data, recipe: recipe, rng: &a)
        let again = augmentedBatch(indices, from: data.train, data: data, recipe: recipe, rng: &b)
        #expect(first.images.scalars == again.images.scalars && first.labels.lambda == again.labels.lambda)
        #expect(first.images.shape == [32, 1, 28, 28] && first.labels.lambda < 1)
        let labels = data.train.labels(indices)
        #expect(first.labels.labels == labels && first.labels.partners == Array(labels.reversed()))

        var plain = SupervisedRecipe(epochs: 1, batchSize: 32, learningRate: 1e-3)
        plain.flip = false
        let unmixed = augmentedBatch(indices, from: data.train, data: data, recipe: plain, rng: &a)
        #expect(unmixed.images.scalars == data.normalize(data.train.images(indices)).scalars)
        #expect(unmixed.labels.lambda == 1 && unmixed.labels.labels == labels)
    }

    @Test func impossibleAugmentationIsRejectedByName() {
        var recipe = SupervisedRecipe(epochs: 1, batchSize: 32, learningRate: 1e-3)
        recipe.mix = MixConfig()
        recipe.mix!.mixupAlpha = -1
        #expect(throws: TrainingError.self) { try recipe.validate() }
        recipe.mix = nil
        recipe.randAugment = RandAugment()
        recipe.randAugment!.magnitude = 11
        #expect(throws: TrainingError.self) { try recipe.validate() }
    }
}
