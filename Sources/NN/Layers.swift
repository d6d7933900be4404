// The basic layers, with PyTorch's layouts and the initializations timm, DINO and DeiT use.
import Foundation
import Tensor

/// y = x·Wᵀ + b. weight (out, in), bias (out).
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    /// timm's ViT init: weight ~ trunc_normal(std 0.02), bias 0.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, std: Float = 0.02, rng: inout RNG) {
        weight = Tensor.truncatedNormal([outFeatures, inFeatures], std: std, rng: &rng, requiresGrad: true)
        self.bias = bias ? Tensor(zeros: [outFeatures], requiresGrad: true) : nil
    }

    /// PyTorch's default `nn.Linear` init: weight and bias ~ U(−1/√in, 1/√in).
    public init(pytorchDefault inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RNG) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = Tensor.uniform([outFeatures, inFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true)
        self.bias = bias ? Tensor.uniform([outFeatures], low: -bound, high: bound, rng: &rng, requiresGrad: true) : nil
    }

    public var ownParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }

    /// residual + x·Wᵀ + b in one pass (a transformer block's output projections).
    public func callAsFunction(_ x: Tensor, residual: Tensor) -> Tensor { linear(x, weight: weight, bias: bias, residual: residual) }
}

/// Layer normalization over the last axis: weight 1, bias 0; ε 1e-6 as timm's ViT factories.
public final class LayerNorm: Module {
    public let weight: Tensor, bias: Tensor
    public let eps: Float

    public init(_ dim: Int, eps: Float = 1e-6) {
        weight = Tensor(repeating: 1, shape: [dim], requiresGrad: true)
        bias = Tensor(zeros: [dim], requiresGrad: true)
        self.eps = eps
    }

    public var ownParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: eps) }
}

/// 2-D convolution, weight (out, in, k, k). Kaiming-normal init (fan-out, ReLU gain) as timm's
/// and torchvision's ResNets; `pytorchDefault` gives nn.Conv2d's own U(−1/√fan_in, 1/√fan_in).
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int, padding: Int

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = false, pytorchDefault: Bool = false, rng: inout RNG) {
        let shape = [outChannels, inChannels, kernel, kernel]
        if pytorchDefault {
            let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
            weight = Tensor.uniform(shape, low: -bound, high: bound, rng: &rng, requiresGrad: true)
            self.bias = bias ? Tensor.uniform([outChannels], low: -bound, high: bound, rng: &rng, requiresGrad: true) : nil
        } else {
            let std = (2 / Float(outChannels * kernel * kernel)).squareRoot()  // kaiming_normal_, mode fan_out
            weight = Tensor.randn(shape, std: std, rng: &rng, requiresGrad: true)
            self.bias = bias ? Tensor(zeros: [outChannels], requiresGrad: true) : nil
        }
        (self.stride, self.padding) = (stride, padding)
    }

    public var ownParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

extension Conv2d {
    /// Whether a convolution before `bn` runs fused with it (`evaluate`): at evaluation without a
    /// graph, on oneDNN. On im2col the ops run one by one.
    public static func fusesEvaluation(before bn: BatchNorm2d) -> Bool {
        !Autograd.isEnabled && !bn.training && ConvolutionEngine.current == .oneDNN
    }

    /// Evaluation without a graph: this convolution and `bn` (running statistics) as one kernel,
    /// then `residual` added and ReLU (convBatchNormForInference).
    public func evaluate(_ x: Tensor, then bn: BatchNorm2d, adding residual: Tensor? = nil, relu: Bool, maxPool: Int? = nil) -> Tensor {
        precondition(bias == nil && !bn.training, "Conv2d.evaluate: a bias-free convolution before a BatchNorm in evaluation mode")
        return convBatchNormForInference(x, weight: weight, stride: stride, padding: padding, bnWeight: bn.weight, bnBias: bn.bias,
                                         runningMean: bn.runningMean, runningVar: bn.runningVar, residual: residual, relu: relu,
                                         maxPool: maxPool)
    }
}

/// Batch normalization over channels with running statistics (momentum 0.1, ε 1e-5, PyTorch's).
/// timm's state dict also has `num_batches_tracked` (an integer); it is not stored here, so load
/// into PyTorch with strict=False.
public final class BatchNorm2d: TrainingModeDependent {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVar: Tensor
    public var training = true

    public init(_ channels: Int) {
        weight = Tensor(repeating: 1, shape: [channels], requiresGrad: true)
        bias = Tensor(zeros: [channels], requiresGrad: true)
        runningMean = Tensor(zeros: [channels])
        runningVar = Tensor(repeating: 1, shape: [channels])
    }

    public var ownParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }
    public var ownBuffers: [(name: String, tensor: Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        batchNorm2d(x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                    training: training)
    }

    /// relu(self(x)) in one pass (batchNorm2d's `relu`).
    public func callAsFunction(_ x: Tensor, relu: Bool) -> Tensor {
        batchNorm2d(x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
                    training: training, relu: relu)
    }
}
