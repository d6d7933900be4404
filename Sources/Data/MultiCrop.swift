// DINO's multi-crop (`DataAugmentationDINO` in main_dino.py), scaled from 224-pixel ImageNet to
// 28-pixel Fashion-MNIST. Global crops go to teacher and student, local crops to the student only.
import Tensor

public struct MultiCrop: Sendable {
    public var globalCrops = 2                                     // paper 2
    public var globalSize = 28                                     // paper 224: the full image size
    public var globalScale: ClosedRange<Float> = 0.4...1           // paper (0.4, 1)
    public var localCrops = 6                                      // main_dino.py 8; the paper's Tab. 8 also 6 and 10
    public var localSize = 12                                      // paper 96 = 0.43 of 224; 12 = 0.43 of 28
    public var localScale: ClosedRange<Float> = 0.05...0.4         // paper (0.05, 0.4)
    public var augmentation = CropAugmentation()

    public init() {}

    /// All crops of a batch of [0, 1] images: the global crops first (same order as the paper's
    /// loader), then the local ones; each (B, 1, size, size) in [0, 1].
    public func callAsFunction(_ images: Tensor, rng: inout RNG) -> [Tensor] {
        func view(size: Int, scale: ClosedRange<Float>, blur: Double, solarize: Double) -> Tensor {
            var x = randomResizedCrop(images, size: size, scale: scale, rng: &rng)
            let a = augmentation
            x = randomHorizontalFlip(x, p: a.flipProbability, rng: &rng)
            x = randomColorJitter(x, brightness: a.brightness, contrast: a.contrast, p: a.jitterProbability, rng: &rng)
            x = randomGaussianBlur(x, sigma: a.blurSigma, p: blur, rng: &rng)
            if solarize > 0 { x = randomSolarize(x, p: solarize, rng: &rng) }
            return x
        }
        var crops: [Tensor] = []
        for g in 0..<globalCrops {
            crops.append(view(size: globalSize, scale: globalScale,
                              blur: g == 0 ? augmentation.blurFirstGlobal : augmentation.blurSecondGlobal,
                              solarize: g == 1 ? augmentation.solarizeProbability : 0))
        }
        for _ in 0..<localCrops {
            crops.append(view(size: localSize, scale: localScale, blur: augmentation.blurLocal, solarize: 0))
        }
        return crops
    }
}

/// The photometric half of multi-crop: what each crop goes through after it is cut and resized.
public struct CropAugmentation: Codable, Hashable, Sendable {
    public var flipProbability = 0.5                               // paper 0.5
    public var brightness: Float = 0.4, contrast: Float = 0.4      // paper ColorJitter(0.4, 0.4, 0.2, 0.1): no color here
    public var jitterProbability = 0.8                             // paper 0.8
    /// Blur σ in pixels. Paper U(0.1, 2) on 224-pixel images; scaled by 28/224 that is at most
    /// 0.25 px, which does nothing, so we keep a mild blur that is visible at 28 px.
    public var blurSigma: ClosedRange<Float> = 0.1...0.5
    public var blurFirstGlobal = 1.0, blurSecondGlobal = 0.1, blurLocal = 0.5  // paper 1.0, 0.1, 0.5
    public var solarizeProbability = 0.2                           // paper 0.2, second global crop only

    public init() {}

    /// Why these settings cannot run, or nil.
    public var problem: String? {
        let probabilities = [("flip", flipProbability), ("jitter", jitterProbability), ("first global crop's blur", blurFirstGlobal),
                             ("second global crop's blur", blurSecondGlobal), ("local crops' blur", blurLocal), ("solarize", solarizeProbability)]
        if let (name, p) = probabilities.first(where: { !(0...1).contains($0.1) }) { return "the \(name) probability must be in [0, 1], got \(p)" }
        guard brightness.isFinite, contrast.isFinite, brightness >= 0, contrast >= 0 else {
            return "brightness and contrast jitter must be finite and ≥ 0, got \(brightness) and \(contrast)"
        }
        guard blurSigma.lowerBound > 0, blurSigma.upperBound.isFinite else { return "the blur σ must be finite and > 0, got \(blurSigma)" }
        return nil
    }
}
