// The trained models `attention-maps` compares, as artifacts: each loaded from the model cache or
// trained and cached, keyed by its full recipe. (The teachers are Teachers.trained, the DeiT⚗
// student DeiTStudent.tokenStudent.)
import Data
import Foundation
import NN
import Tensor

public enum Artifacts {
    /// The backbone of DINO's momentum teacher after training by `recipe` from `seed`, and the
    /// history of its training.
    public static func dinoBackbone(recipe: DINORecipe, scale: Scale, seed: UInt64, data: FashionMNIST, cache: URL,
                                    label: String = "dino", checkpoint: RunCheckpoint? = nil) throws -> (model: any Backbone, history: [DINOEpochRecord]) {
        var recipe = recipe
        recipe.teacher = .momentum
        // The generator's salt is that of the model's first consumer, so the committed data reproduce.
        let trainer = try DINOTrainer(recipe: recipe, data: data, seed: seed ^ fnv1a("attention-maps"))
        let backbone = trainer.teacher.backbone
        let file = ModelCache(root: cache, folder: "students").url(name: "dino-momentum", scale: scale, seed: seed, recipe: recipe)
        let (history, _) = try ModelCache(root: cache, folder: "students").loadOrTrain(backbone, at: file) {
            try trainer.train(label: label, evaluation: .none, checkpoint: checkpoint)
        }
        return (backbone, history)
    }

    /// `dinoBackbone` for a recipe whose backbone is a ViT (attention maps and patch sizes need one).
    public static func dinoViT(recipe: DINORecipe, scale: Scale, seed: UInt64, data: FashionMNIST, cache: URL,
                               label: String = "dino", checkpoint: RunCheckpoint? = nil) throws -> (model: VisionTransformer, history: [DINOEpochRecord]) {
        guard recipe.convNetBackbone == nil else { throw TrainingError("this experiment needs a ViT backbone; the DINO recipe names a ConvNet") }
        let (model, history) = try dinoBackbone(recipe: recipe, scale: scale, seed: seed, data: data, cache: cache, label: label, checkpoint: checkpoint)
        return (model as! VisionTransformer, history)
    }

    /// A ViT of `config` trained with labels by `recipe` from `seed`, and the history of its training.
    public static func supervisedViT(config: ViTConfig, recipe: SupervisedRecipe, scale: Scale, seed: UInt64, data: FashionMNIST, cache: URL,
                                     checkpoint: RunCheckpoint? = nil) throws -> (model: VisionTransformer, history: [EpochRecord]) {
        var rng = RNG(seed: seed ^ fnv1a("attention-maps supervised"))  // salted as the backbone above
        let model = try VisionTransformer(config, rng: &rng)
        let students = ModelCache(root: cache, folder: "students")
        let file = students.url(name: "supervised-small-vit", scale: scale, seed: seed, recipe: [AnyHashableCodable(config), AnyHashableCodable(recipe)])
        let history = try students.trainedClassifier(model, at: file, recipe: recipe, data: data, label: "supervised", rng: &rng,
                                                     checkpoint: checkpoint)
        return (model, history)
    }
}
