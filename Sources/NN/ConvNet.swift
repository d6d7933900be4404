// The DeiT teacher at our scale: a small ResNet (He et al., 2016) for 28×28 grayscale images.
// DeiT's teacher is a RegNetY-16GF; what matters for the paper's question is that it is a
// convnet, with a convnet's inductive bias, and more accurate than the student.
//
// Names follow timm's ResNet state dict: conv1, bn1, layer{1,2,3}.0.{conv1,bn1,conv2,bn2},
// layer{2,3}.0.downsample.{0,1}, fc.
import Foundation
import Tensor

public struct ConvNetConfig: Codable, Hashable, Sendable {
    public var channels = 1
    public var widths = [32, 64, 128]   // per stage; every stage after the first halves the resolution
    public var blocksPerStage = 1
    public var classes = 10
    /// A 2×2 max-pool after the stem convolution, as ResNet's stem downsamples before the
    /// stages: the stages then see 14×14, which suits im2col's products better than 28×28.
    public var stemPool = false

    public init(channels: Int = 1, widths: [Int] = [32, 64, 128], blocksPerStage: Int = 1, classes: Int = 10,
                stemPool: Bool = false) {
        (self.channels, self.widths, self.blocksPerStage, self.classes) = (channels, widths, blocksPerStage, classes)
        self.stemPool = stemPool
    }
}

/// ResNet's BasicBlock: conv3×3 → BN → ReLU → conv3×3 → BN, plus the input (through a 1×1
/// convolution and BN when the shape changes), then ReLU. The last BN starts at γ = 0, so each
/// block starts as the identity (timm's `zero_init_last`).
public final class BasicBlock: Module {
    public let conv1: Conv2d, bn1: BatchNorm2d, conv2: Conv2d, bn2: BatchNorm2d
    public let downsample: (conv: Conv2d, bn: BatchNorm2d)?

    public init(_ inChannels: Int, _ outChannels: Int, stride: Int, rng: inout RNG) {
        conv1 = Conv2d(inChannels, outChannels, kernel: 3, stride: stride, padding: 1, rng: &rng)
        bn1 = BatchNorm2d(outChannels)
        conv2 = Conv2d(outChannels, outChannels, kernel: 3, padding: 1, rng: &rng)
        bn2 = BatchNorm2d(outChannels)
        bn2.weight.data.update(repeating: 0, count: outChannels)
        downsample = stride != 1 || inChannels != outChannels
            ? (Conv2d(inChannels, outChannels, kernel: 1, stride: stride, rng: &rng), BatchNorm2d(outChannels)) : nil
    }

    public var children: [(name: String, module: any Module)] {
        [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)]
            + (downsample.map { [("downsample.0", $0.conv), ("downsample.1", $0.bn)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        if Conv2d.fusesEvaluation(before: bn1) { return evaluate(x) }
        let y = bn2(conv2(bn1(conv1(x), relu: true)))
        let shortcut = downsample.map { $0.bn($0.conv(x)) } ?? x
        return relu(y + shortcut)
    }

    /// The same at evaluation without a graph, each convolution fused with its BatchNorm (and the
    /// ReLU and residual after it).
    private func evaluate(_ x: Tensor) -> Tensor {
        let y = conv1.evaluate(x, then: bn1, relu: true)
        let shortcut = downsample.map { $0.conv.evaluate(x, then: $0.bn, relu: false) } ?? x
        return conv2.evaluate(y, then: bn2, adding: shortcut, relu: true)
    }
}

public final class ConvNet: Module {
    public let config: ConvNetConfig
    public let conv1: Conv2d, bn1: BatchNorm2d
    public let stages: [[BasicBlock]]
    public let fc: Linear?  // nil with classes 0: a backbone, whose output is the pooled features

    public init(_ config: ConvNetConfig, rng: inout RNG) {
        self.config = config
        precondition(!config.widths.isEmpty && config.blocksPerStage > 0, "ConvNet: needs at least one stage and one block")
        conv1 = Conv2d(config.channels, config.widths[0], kernel: 3, padding: 1, rng: &rng)
        bn1 = BatchNorm2d(config.widths[0])
        var inWidth = config.widths[0]
        stages = config.widths.enumerated().map { s, width in
            (0..<config.blocksPerStage).map { b in
                defer { inWidth = width }
                return BasicBlock(inWidth, width, stride: s > 0 && b == 0 ? 2 : 1, rng: &rng)
            }
        }
        fc = config.classes > 0 ? Linear(pytorchDefault: config.widths.last!, config.classes, rng: &rng) : nil
    }

    public var children: [(name: String, module: any Module)] {
        var c: [(name: String, module: any Module)] = [("conv1", conv1), ("bn1", bn1)]
        for (s, stage) in stages.enumerated() {
            c += stage.enumerated().map { ("layer\(s + 1).\($0.offset)", $0.element) }
        }
        return c + (fc.map { [("fc", $0)] } ?? [])
    }

    /// images (B, C, H, W) → logits (B, classes): the features, then fc (the features themselves
    /// without one).
    public func callAsFunction(_ images: Tensor) -> Tensor {
        let x = features(images)
        return fc.map { $0(x) } ?? x
    }

    /// images (B, C, H, W) → (B, widths.last): stem, stages, global average pooling.
    public func features(_ images: Tensor) -> Tensor {
        var x: Tensor
        if Conv2d.fusesEvaluation(before: bn1) {
            x = conv1.evaluate(images, then: bn1, relu: true, maxPool: config.stemPool ? 2 : nil)
        } else {
            x = bn1(conv1(images), relu: true)
            if config.stemPool { x = maxPool2d(x, kernel: 2) }
        }
        for block in stages.joined() { x = block(x) }
        return x.mean(axes: [2, 3])
    }
}

extension ConvNet: DescribedModel { public static let architecture = "convnet" }
