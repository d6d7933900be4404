// The two supervised models the distillation experiments learn from — the ConvNet (DeiT's
// convnet teacher) and a supervised ViT (its "transformer teacher") — with their recipes per
// scale, trained once per seed and scale and cached.
import Data
import Foundation
import NN
import Tensor

public enum Teachers {
    /// ConvNet architecture and recipe per scale. The default's pooled stem and stages of 32, 64,
    /// 128 channels at 14², 7², 4² learn more than narrower stages at full resolution in the same
    /// time per epoch (papers/deit-sweep.md, "The ConvNet teacher's shape").
    public static func convNet(_ scale: Scale) -> (config: ConvNetConfig, recipe: SupervisedRecipe) {
        switch scale {
        case .quick:
            return (ConvNetConfig(widths: [8, 16, 32], stemPool: true), SupervisedRecipe(epochs: 1, batchSize: 64, learningRate: 2e-3, trainImages: 2048))
        case .default:
            return (ConvNetConfig(widths: [32, 64, 128], stemPool: true), SupervisedRecipe(epochs: 7, batchSize: 128, learningRate: 2e-3))
        case .full:
            // The default's ConvNet, trained longer (DeiTStudent.teacherRecipe's regime trains it
            // for the DeiT experiments; this flip-only one is `supervised --data-regime full`'s).
            var full = convNet(.default)
            full.recipe.epochs = 20
            full.recipe.cropScale = 0.6...1  // long runs overfit without it
            return full
        }
    }

    /// Supervised ViT architecture and recipe per scale.
    public static func vit(_ scale: Scale) -> (config: ViTConfig, recipe: SupervisedRecipe) {
        switch scale {
        case .quick:
            return (ViTConfig(patchSize: 7, width: 32, depth: 2, heads: 2), SupervisedRecipe(epochs: 1, batchSize: 64, learningRate: 1e-3, trainImages: 2048))
        case .default:
            return (ViTConfig(patchSize: 7, width: 128, depth: 6, heads: 4), SupervisedRecipe(epochs: 12, batchSize: 128, learningRate: 1e-3))
        case .full:
            var full = vit(.default)
            full.recipe.epochs = 30
            full.recipe.cropScale = 0.6...1
            return full
        }
    }

    /// The scale's recipe of a teacher.
    public static func recipe(_ kind: TeacherArchitecture, _ scale: Scale) -> SupervisedRecipe {
        kind == .convnet ? convNet(scale).recipe : vit(scale).recipe
    }

    /// The scale's architecture of a teacher, as its summary shows it.
    public static func architecture(_ kind: TeacherArchitecture, _ scale: Scale) -> any Encodable {
        kind == .convnet ? convNet(scale).config : vit(scale).config
    }

    /// The teacher `kind` of (scale, seed) trained by `recipe` (the scale's own by default), as
    /// an artifact. Its generator is a function of the seed and the teacher's name only, so every
    /// experiment that asks for it gets the same model; its file name hashes the architecture,
    /// the recipe and (for the ConvNet) the convolution engine, so changing any never reuses a
    /// stale model.
    public static func artifact(_ kind: TeacherArchitecture, scale: Scale, seed: UInt64, data: FashionMNIST,
                                recipe: SupervisedRecipe? = nil) -> Artifact<any Classifier, [EpochRecord]> {
        let recipe = recipe ?? self.recipe(kind, scale)
        return Artifact(kind.rawValue, scale: scale, seed: seed, shelf: .teachers,
                        identity: [AnyHashableCodable(architecture(kind, scale)), AnyHashableCodable(recipe)] + convolutionIdentity(kind == .convnet),
                        module: { $0 }) {
            var rng = RNG(seed: seed ^ fnv1a(kind.rawValue))
            let model: any Classifier = kind == .convnet ? ConvNet(convNet(scale).config, rng: &rng) : try VisionTransformer(vit(scale).config, rng: &rng)
            return (model, { checkpoint in
                try trainClassifier(model, recipe: recipe, data: data, label: "\(kind.rawValue) teacher", rng: &rng, checkpoint: checkpoint)
            })
        }
    }
}

/// What a model's file name hashes besides its recipe when it has the ConvNet's convolutions: the
/// engine, whose sums round differently (ConvolutionEngine).
public func convolutionIdentity(_ hasConvNet: Bool) -> [AnyHashableCodable] {
    hasConvNet ? [AnyHashableCodable(ConvolutionEngine.current)] : []
}

/// 64-bit FNV-1a: a stable hash (Swift's Hasher is seeded per process).
public func fnv1a(_ s: String) -> UInt64 {
    s.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
}

/// An Encodable box, so a heterogeneous list of configs hashes as one JSON document.
public struct AnyHashableCodable: Encodable {
    let encodeValue: (Encoder) throws -> Void
    public init<T: Encodable>(_ value: T) { encodeValue = value.encode }
    public func encode(to encoder: Encoder) throws { try encodeValue(encoder) }
}
