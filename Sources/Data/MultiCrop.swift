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
    public var flipProbability = 0.5                               // paper 0.5
    public var brightness: Float = 0.4, contrast: Float = 0.4      // paper ColorJitter(0.4, 0.4, 0.2, 0.1): no color here
    public var jitterProbability = 0.8                             // paper 0.8
    /// Blur σ in pixels. Paper U(0.1, 2) on 224-pixel images; scaled by 28/224 that is at most
    /// 0.25 px, which does nothing, so we keep a mild blur that is visible at 28 px.
    public var blurSigma: ClosedRange<Float> = 0.1...0.5
    public var blurProbability = (global1: 1.0, global2: 0.1, local: 0.5)  // paper 1.0, 0.1, 0.5
    public var solarizeProbability = 0.2                           // paper 0.2, second global crop only

    public init() {}

    /// All crops of a batch of [0, 1] images: the global crops first (same order as the paper's
    /// loader), then the local ones; each (B, 1, size, size) in [0, 1].
    public func callAsFunction(_ images: Tensor, rng: inout RNG) -> [Tensor] {
        func view(size: Int, scale: ClosedRange<Float>, blur: Double, solarize: Double) -> Tensor {
            var x = randomResizedCrop(images, size: size, scale: scale, rng: &rng)
            x = randomHorizontalFlip(x, p: flipProbability, rng: &rng)
            x = randomColorJitter(x, brightness: brightness, contrast: contrast, p: jitterProbability, rng: &rng)
            x = randomGaussianBlur(x, sigma: blurSigma, p: blur, rng: &rng)
            if solarize > 0 { x = randomSolarize(x, p: solarize, rng: &rng) }
            return x
        }
        var crops: [Tensor] = []
        for g in 0..<globalCrops {
            crops.append(view(size: globalSize, scale: globalScale,
                              blur: g == 0 ? blurProbability.global1 : blurProbability.global2,
                              solarize: g == 1 ? solarizeProbability : 0))
        }
        for _ in 0..<localCrops {
            crops.append(view(size: localSize, scale: localScale, blur: blurProbability.local, solarize: 0))
        }
        return crops
    }
}
