// The command-line flags of DeiT's augmentation, shared by the experiments that train students.
// Each flag sets one field of a SupervisedRecipe; SupervisedRecipe.validate checks the result.
import ArgumentParser
import Data

public struct AugmentationFlags: ParsableArguments {
    @Option(help: "Random resized crop's area range, as 'low,high' (DeiT's 0.08,1; the preset's 0.5,1), or 'off'.")
    var cropScale: String?

    @Option(help: "RandAugment's magnitude m, 0 to 10 (DeiT's 9; off in the preset); 0 turns it off.")
    var magnitude: Float?

    @Option(help: "Random erasing's probability (DeiT's 0.25).")
    var erasing: Double?

    @Option(help: "Mixup's α (DeiT's 0.8); 0 with --cutmix-alpha 0 turns mixing off.")
    var mixupAlpha: Double?

    @Option(help: "CutMix's α (DeiT's 1.0).")
    var cutmixAlpha: Double?

    public init() {}

    /// Sets every field a flag names.
    public func apply(to r: inout SupervisedRecipe) throws {
        if let cropScale {
            r.cropScale = cropScale == "off" ? nil
                : try Flags.range("crop-scale", cropScale, rule: "0 < low ≤ high ≤ 1 (or 'off')") { $0 > 0 && $0 <= $1 && $1 <= 1 }
        }
        if let magnitude {
            guard (0...10).contains(magnitude) else { throw ValidationError("--magnitude must be from 0 to 10, got \(magnitude)") }
            if magnitude == 0 { r.randAugment = nil } else { r.randAugment = r.randAugment ?? RandAugment(); r.randAugment!.magnitude = magnitude }
        }
        if let erasing { r.erasing = erasing }
        if mixupAlpha != nil || cutmixAlpha != nil {
            var mix = r.mix ?? MixConfig()
            if let mixupAlpha { mix.mixupAlpha = mixupAlpha }
            if let cutmixAlpha { mix.cutmixAlpha = cutmixAlpha }
            r.mix = mix.mixupAlpha == 0 && mix.cutmixAlpha == 0 ? nil : mix
        }
    }
}
