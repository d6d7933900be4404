// The two supervised models the distillation experiments learn from — the ConvNet (DeiT's
// convnet teacher) and a supervised ViT (its "transformer teacher") — with their recipes per
// scale, trained once per seed and scale and cached.
import Data
import Foundation
import NN
import Tensor

public enum Teachers {
    /// ConvNet architecture and recipe per scale. The default was chosen by trials (PyTorch and
    /// ours agree to a few tenths of a percent): a pooled stem, then stages of 32, 64 and 128
    /// channels at 14², 7², 4², reached 93.5% after 7 of 10 epochs, against 92.0% for stages of
    /// 16, 32, 64 at full resolution, in the same time per epoch.
    public static func convNet(_ scale: Scale) -> (config: ConvNetConfig, recipe: SupervisedRecipe) {
        switch scale {
        case .quick:
            var r = SupervisedRecipe(epochs: 1, batchSize: 64, learningRate: 2e-3)
            r.trainImages = 2048
            return (ConvNetConfig(widths: [8, 16, 32], stemPool: true), r)
        case .default:
            return (ConvNetConfig(widths: [32, 64, 128], stemPool: true), SupervisedRecipe(epochs: 7, batchSize: 128, learningRate: 2e-3))
        case .full:
            var r = SupervisedRecipe(epochs: 40, batchSize: 128, learningRate: 2e-3)
            r.cropScale = 0.6...1  // long runs overfit without it
            return (ConvNetConfig(widths: [32, 64, 128], blocksPerStage: 2, stemPool: true), r)
        }
    }

    /// Supervised ViT architecture and recipe per scale.
    public static func vit(_ scale: Scale) -> (config: ViTConfig, recipe: SupervisedRecipe) {
        switch scale {
        case .quick:
            var r = SupervisedRecipe(epochs: 1, batchSize: 64, learningRate: 1e-3)
            r.trainImages = 2048
            return (ViTConfig(patchSize: 7, width: 32, depth: 2, heads: 2), r)
        case .default:
            return (ViTConfig(patchSize: 7, width: 128, depth: 6, heads: 4), SupervisedRecipe(epochs: 12, batchSize: 128, learningRate: 1e-3))
        case .full:
            return (ViTConfig(patchSize: 4, width: 192, depth: 6, heads: 3), SupervisedRecipe(epochs: 60, batchSize: 128, learningRate: 1e-3))
        }
    }

    /// The generator a teacher is initialized and trained with: a function of the run's seed and
    /// the teacher's name only, so every experiment that needs it gets the same model.
    public static func rng(_ name: String, seed: UInt64) -> RNG { RNG(seed: seed ^ fnv1a(name)) }

    /// Where the teacher `name` ("convnet" or "vit") for (scale, seed) is cached: the key covers
    /// the architecture and recipe (the scale's own unless `recipe` is given), so editing either
    /// never reuses a stale model.
    public static func cacheFile(_ name: String, scale: Scale, seed: UInt64, cache: URL, recipe: SupervisedRecipe? = nil) -> URL {
        let key: [AnyHashableCodable] = name == "convnet"
            ? [AnyHashableCodable(convNet(scale).config), AnyHashableCodable(recipe ?? convNet(scale).recipe)]
            : [AnyHashableCodable(vit(scale).config), AnyHashableCodable(recipe ?? vit(scale).recipe)]
        return ModelCache(root: cache).url(name: name, scale: scale, seed: seed, recipe: key)
    }

    /// Loads the ConvNet teacher for (scale, seed) from the cache, or trains and caches it; with
    /// `recipe`, one trained by that recipe instead of the scale's own.
    public static func convNetTeacher(scale: Scale, seed: UInt64, data: FashionMNIST, cache: URL, recipe: SupervisedRecipe? = nil,
                                      checkpoint: RunCheckpoint? = nil) throws -> ConvNet {
        let (config, own) = convNet(scale)
        let recipe = recipe ?? own
        var rng = rng("convnet", seed: seed)
        let model = ConvNet(config, rng: &rng)
        try ModelCache(root: cache).loadOrTrain(model, at: cacheFile("convnet", scale: scale, seed: seed, cache: cache, recipe: recipe)) {
            _ = try trainClassifier(model, recipe: recipe, data: data, label: "convnet teacher", rng: &rng, checkpoint: checkpoint)
        }
        return model
    }

    /// Loads the supervised ViT ("transformer teacher") for (scale, seed), or trains and caches it;
    /// with `recipe`, one trained by that recipe instead of the scale's own.
    public static func vitTeacher(scale: Scale, seed: UInt64, data: FashionMNIST, cache: URL, recipe: SupervisedRecipe? = nil,
                                  checkpoint: RunCheckpoint? = nil) throws -> VisionTransformer {
        let (config, own) = vit(scale)
        let recipe = recipe ?? own
        var rng = rng("vit", seed: seed)
        let model = try VisionTransformer(config, rng: &rng)
        try ModelCache(root: cache).loadOrTrain(model, at: cacheFile("vit", scale: scale, seed: seed, cache: cache, recipe: recipe)) {
            _ = try trainClassifier(model, recipe: recipe, data: data, label: "vit teacher", rng: &rng, checkpoint: checkpoint)
        }
        return model
    }
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
