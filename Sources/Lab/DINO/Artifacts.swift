// The trained models the DINO experiments share, as artifacts: a DINO teacher after training by
// a recipe, and a supervised ViT of the same shape. (The DeiT teachers are Teachers.artifact,
// the DeiT⚗ student DeiTStudent.tokenStudent.) Each artifact's generator is salted with its own
// name, so a model is the same whichever experiment asks for it first.
import Data
import Foundation
import NN
import Tensor

public enum Artifacts {
    /// The generator seed of a DINO trainer from `seed`, whatever its teacher update: the
    /// teachers of one seed start from the same network, so their curves share epoch 0.
    public static func dinoSeed(_ seed: UInt64) -> UInt64 { seed ^ fnv1a("dino") }

    /// The teacher backbone of DINO trained by `recipe` (its teacher update included) from
    /// `seed`, its history holding the k-NN `evaluation` schedules after each epoch.
    public static func dino(recipe: DINORecipe, evaluation: KNNSchedule, scale: Scale, seed: UInt64, data: FashionMNIST,
                            label: String = "dino") -> Artifact<any Backbone, [DINOEpochRecord]> {
        Artifact("dino-\(recipe.teacher.rawValue)", scale: scale, seed: seed,
                 identity: [AnyHashableCodable(recipe), AnyHashableCodable(evaluation)] + convolutionIdentity(recipe.convNetBackbone != nil),
                 module: { $0 }) {
            let trainer = try DINOTrainer(recipe: recipe, data: data, seed: dinoSeed(seed))
            return (trainer.teacher.backbone, { checkpoint in try trainer.train(label: label, evaluation: evaluation, checkpoint: checkpoint) })
        }
    }

    /// `dino` with the momentum teacher, trained (or loaded from `cache`), for a recipe whose
    /// backbone is a ViT: attention maps and patch sizes need one.
    public static func dinoViT(recipe: DINORecipe, evaluation: KNNSchedule, scale: Scale, seed: UInt64, data: FashionMNIST, cache: URL,
                               label: String = "dino", checkpoint: RunCheckpoint? = nil) throws -> (model: VisionTransformer, history: [DINOEpochRecord]) {
        guard recipe.convNetBackbone == nil else { throw TrainingError("this experiment needs a ViT backbone; the DINO recipe names a ConvNet") }
        var recipe = recipe
        recipe.teacher = .momentum
        let (model, history) = try dino(recipe: recipe, evaluation: evaluation, scale: scale, seed: seed, data: data, label: label)
            .trained(cache: cache, checkpoint: checkpoint)
        return (model as! VisionTransformer, history)
    }

    /// A ViT of `config` trained with labels by `recipe` from `seed`.
    public static func supervisedViT(config: ViTConfig, recipe: SupervisedRecipe, scale: Scale, seed: UInt64,
                                     data: FashionMNIST) -> Artifact<VisionTransformer, [EpochRecord]> {
        let name = "supervised-small-vit"
        return Artifact(name, scale: scale, seed: seed, identity: [AnyHashableCodable(config), AnyHashableCodable(recipe)]) {
            var rng = RNG(seed: seed ^ fnv1a(name))
            let model = try VisionTransformer(config, rng: &rng)
            return (model, { checkpoint in try trainClassifier(model, recipe: recipe, data: data, label: "supervised", rng: &rng, checkpoint: checkpoint) })
        }
    }
}
