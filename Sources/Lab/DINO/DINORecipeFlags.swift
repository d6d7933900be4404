// The command-line flags that change a DINO recipe, shared by the executables that train one.
// Each flag only sets a field; DINORecipe.validate checks the result whole. Each flag's help
// shows the value the experiment's default scale runs and the paper's.
import ArgumentParser

public struct DINORecipeFlags<Config: RecipeConfig>: ParsableArguments where Config.Recipe == DINORecipe {
    static var d: DINORecipe { Config.preset(.default).recipe }

    @Option(help: "Epochs (default scale: \(d.epochs); the paper's 100–800); the warmups shorten to fit.")
    var epochs: Int?

    @Option(help: "Training images per epoch: the first N of the 60 000 (default scale: \(d.trainImages.map(String.init) ?? "all 60 000")); the final k-NN bank is always all 60 000.")
    var trainImages: Int?

    @Option(help: "Images per batch (default scale: \(d.batchSize); the paper's 1024).")
    var batchSize: Int?

    @Option(help: "Peak learning rate per 256 images (default scale: \(d.learningRate); the paper's 5e-4).")
    var learningRate: Float?

    @Option(help: "Epochs of linear learning-rate warmup (default scale: \(d.warmupEpochs); the paper's 10).")
    var warmupEpochs: Int?

    @Option(help: "Teacher momentum at the first step (default scale: \(d.teacherMomentum); the paper's 0.996); it rises to 1 on a cosine.")
    var momentum: Float?

    @Option(help: "Teacher temperature after its warmup (default scale: \(d.teacherTemperature); the paper's 0.04 → 0.07); lower it if the teacher entropy stays near ln K.")
    var teacherTemperature: Float?

    @Option(help: "Teacher temperature at the first epoch (default scale: \(d.warmupTeacherTemperature); the paper's 0.04).")
    var warmupTeacherTemperature: Float?

    @Option(help: "Epochs over which the teacher temperature rises linearly to --teacher-temperature (default scale: \(d.warmupTeacherTemperatureEpochs); the paper's 30, the official default 0).")
    var warmupTeacherTemperatureEpochs: Int?

    @Option(help: "Epochs during which the student's last layer does not move (default scale: \(d.freezeLastLayerEpochs); the paper's 1).")
    var freezeLastLayerEpochs: Int?

    @Option(help: "Local crops per image (default scale: \(d.localCrops); the official 8, the paper's Tab. 8 also 2, 6, 10).")
    var localCrops: Int?

    @Option(help: "Area range of the local crops, as 'low,high' (default scale: \(d.localScale.lowerBound),\(d.localScale.upperBound); the paper's 0.05,0.4); global crops take 'high' to 1.")
    var localScale: String?

    @Option(help: "Patch size of the backbone (default scale: \(d.backbone.patchSize); the paper's 16 and 8 at 224²); the 28² global and the local crops must be multiples of it.")
    var patchSize: Int?

    @Option(help: "Side of the local crops, a multiple of the patch size (default scale: \(d.localSize) of 28; the paper's 96 of 224).")
    var localSize: Int?

    @Option(help: "Backbone width, timm's embed_dim (default scale: \(d.backbone.width); ViT-S: 384).")
    var width: Int?

    @Option(help: "Backbone depth in blocks (default scale: \(d.backbone.depth); ViT-S: 12).")
    var depth: Int?

    @Option(help: "Attention heads per block, a divisor of the width (default scale: \(d.backbone.heads); ViT-S: 6).")
    var heads: Int?

    @Option(help: "K, the head's output dimension (default scale: \(d.head.outDim); the paper's 65 536).")
    var outDim: Int?

    public init() {}

    /// Sets every field a flag names; the caller validates the recipe.
    public func update(_ recipe: inout DINORecipe) throws {
        // Counts out of the recipe's bounds are named by their flag here, before the recipe sees them.
        try Flags.count("epochs", epochs, 1...DINORecipe.maxEpochs)
        try Flags.count("train-images", trainImages, 1...60_000, note: "Fashion-MNIST's training set")
        try Flags.count("batch-size", batchSize, 2...DINORecipe.maxBatchSize, note: "the center is a batch mean")
        try Flags.count("local-crops", localCrops, 0...DINORecipe.maxLocalCrops)
        if let epochs { recipe.setEpochs(epochs) }
        if let trainImages { recipe.trainImages = trainImages }
        if let batchSize { recipe.batchSize = batchSize }
        if let learningRate { recipe.learningRate = learningRate }
        if let warmupEpochs { recipe.warmupEpochs = warmupEpochs }
        if let momentum { recipe.teacherMomentum = momentum }
        if let teacherTemperature { recipe.teacherTemperature = teacherTemperature }
        if let warmupTeacherTemperature { recipe.warmupTeacherTemperature = warmupTeacherTemperature }
        if let warmupTeacherTemperatureEpochs { recipe.warmupTeacherTemperatureEpochs = warmupTeacherTemperatureEpochs }
        if let freezeLastLayerEpochs { recipe.freezeLastLayerEpochs = freezeLastLayerEpochs }
        if let localCrops { recipe.localCrops = localCrops }
        if let localScale {
            let local = try Flags.range("local-scale", localScale, rule: "0 < low < high < 1") { $0 > 0 && $0 < $1 && $1 < 1 }
            (recipe.localScale, recipe.globalScale) = (local, local.upperBound...1)
        }
        if let patchSize { recipe.backbone.patchSize = patchSize }
        if let localSize { recipe.localSize = localSize }
        if let width { recipe.backbone.width = width }
        if let depth { recipe.backbone.depth = depth }
        if let heads { recipe.backbone.heads = heads }
        if let outDim { recipe.head.outDim = outDim }
    }
}

/// For an experiment whose only flags are its DINO recipe's: `typealias Options = DINORecipeFlags<Config>`.
extension DINORecipeFlags: ConfigFlags {
    public func apply(to config: inout Config, scale: Scale) throws { try update(&config.recipe) }
}
