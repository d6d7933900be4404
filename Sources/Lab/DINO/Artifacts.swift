// The trained models the DINO experiments share, as artifacts: DINO's momentum teacher after
// training by a recipe, and a supervised ViT of the same shape. (The DeiT teachers are
// Teachers.artifact, the DeiT⚗ student DeiTStudent.tokenStudent.)
import Data
import Foundation
import NN
import Tensor

public enum Artifacts {
    /// The backbone of DINO's momentum teacher after training by `recipe` from `seed`.
    ///
    /// Its generator's salt is "attention-maps", the name of the experiment that first trained
    /// it: the committed data were made with it, and changing it retrains the model.
    public static func dinoMomentum(recipe: DINORecipe, scale: Scale, seed: UInt64, data: FashionMNIST,
                                    label: String = "dino") -> Artifact<any Backbone, [DINOEpochRecord]> {
        var recipe = recipe
        recipe.teacher = .momentum
        return Artifact("dino-momentum", scale: scale, seed: seed, identity: recipe, module: { $0 }) { [recipe] in
            let trainer = try DINOTrainer(recipe: recipe, data: data, seed: seed ^ fnv1a("attention-maps"))
            return (trainer.teacher.backbone, { checkpoint in try trainer.train(label: label, evaluation: .none, checkpoint: checkpoint) })
        }
    }

    /// `dinoMomentum` trained (or loaded from `cache`), for a recipe whose backbone is a ViT:
    /// attention maps and patch sizes need one.
    public static func dinoViT(recipe: DINORecipe, scale: Scale, seed: UInt64, data: FashionMNIST, cache: URL, label: String = "dino",
                               checkpoint: RunCheckpoint? = nil) throws -> (model: VisionTransformer, history: [DINOEpochRecord]) {
        guard recipe.convNetBackbone == nil else { throw TrainingError("this experiment needs a ViT backbone; the DINO recipe names a ConvNet") }
        let (model, history) = try dinoMomentum(recipe: recipe, scale: scale, seed: seed, data: data, label: label)
            .trained(cache: cache, checkpoint: checkpoint)
        return (model as! VisionTransformer, history)
    }

    /// A ViT of `config` trained with labels by `recipe` from `seed` (its salt, like the DINO
    /// backbone's, is the first consumer's, kept so the committed data reproduce).
    public static func supervisedViT(config: ViTConfig, recipe: SupervisedRecipe, scale: Scale, seed: UInt64,
                                     data: FashionMNIST) -> Artifact<VisionTransformer, [EpochRecord]> {
        Artifact("supervised-small-vit", scale: scale, seed: seed, identity: [AnyHashableCodable(config), AnyHashableCodable(recipe)]) {
            var rng = RNG(seed: seed ^ fnv1a("attention-maps supervised"))
            let model = try VisionTransformer(config, rng: &rng)
            return (model, { checkpoint in try trainClassifier(model, recipe: recipe, data: data, label: "supervised", rng: &rng, checkpoint: checkpoint) })
        }
    }
}
