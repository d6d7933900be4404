// The command-line flags of a DeiT student's recipe — its length, batch, rate, images and
// augmentation — shared by the experiments that train students. Each flag sets one field of a
// SupervisedRecipe; SupervisedRecipe.validate checks the result.
import ArgumentParser
import Data

public struct StudentRecipeFlags<Config: RecipeConfig>: ParsableArguments where Config.Recipe == SupervisedRecipe {
    static var d: SupervisedRecipe { Config.preset(.default).recipe }

    @Option(help: "Students' epochs (default scale: \(d.epochs); DeiT's 300 of ImageNet).")
    var epochs: Int?

    @Option(help: "Students' batch size (default scale: \(d.batchSize); DeiT's 1024).")
    var batchSize: Int?

    @Option(help: "Students' peak learning rate (default scale: \(d.learningRate); DeiT's 5e-4 × batch/512).")
    var learningRate: Float?

    @Option(help: "Training images per epoch: the first N of the 60 000 (default scale: \(d.trainImages.map(String.init) ?? "all 60 000")).")
    var trainImages: Int?

    @Option(help: "Random resized crop's area range, as 'low,high', or 'off' (default scale: \(d.cropScale.map { "\($0.lowerBound),\($0.upperBound)" } ?? "off"); DeiT's 0.08,1).")
    var cropScale: String?

    @Option(help: "RandAugment's magnitude m, 0 to 10, 0 turning it off (default scale: \(d.randAugment.map { "\($0.magnitude)" } ?? "off"); DeiT's 9).")
    var magnitude: Float?

    @Option(help: "Random erasing's probability (default scale: \(d.erasing); DeiT's 0.25).")
    var erasing: Double?

    @Option(help: "Mixup's α (default scale: \(d.mix.map { "\($0.mixupAlpha)" } ?? "off"); DeiT's 0.8); 0 with --cutmix-alpha 0 turns mixing off.")
    var mixupAlpha: Double?

    @Option(help: "CutMix's α (default scale: \(d.mix.map { "\($0.cutmixAlpha)" } ?? "off"); DeiT's 1.0).")
    var cutmixAlpha: Double?

    public init() {}

    /// Sets every field a flag names.
    public func update(_ r: inout SupervisedRecipe) throws {
        try Flags.count("epochs", epochs, 1...SupervisedRecipe.maxEpochs)
        try Flags.count("batch-size", batchSize, 1...SupervisedRecipe.maxBatchSize)
        try Flags.count("train-images", trainImages, 1...60_000, note: "Fashion-MNIST's training set")
        if let epochs { r.epochs = epochs }
        if let batchSize { r.batchSize = batchSize }
        if let learningRate { r.learningRate = learningRate }
        if let trainImages { r.trainImages = trainImages }
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
