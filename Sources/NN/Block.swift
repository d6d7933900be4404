// The pre-norm transformer block of timm's VisionTransformer (and DINO's and DeiT's copies).
//
// Shape legend: B batch, N tokens (prefix tokens + patches), D width, H heads, Dh = D/H.
import Foundation
import Tensor

/// Multi-head self-attention with a fused qkv projection.
public final class Attention: Module {
    public let qkv: Linear, proj: Linear
    public let heads: Int
    let scale: Float

    public init(dim: Int, heads: Int, qkvBias: Bool = true, rng: inout RNG) {
        precondition(dim % heads == 0, "Attention: width \(dim) is not divisible by \(heads) heads")
        qkv = Linear(dim, 3 * dim, bias: qkvBias, rng: &rng)
        proj = Linear(dim, dim, rng: &rng)
        self.heads = heads
        scale = 1 / Float(dim / heads).squareRoot()
    }

    public var children: [(name: String, module: any Module)] { [("qkv", qkv), ("proj", proj)] }

    /// x (B, N, D) → (B, N, D); with `returnWeights`, also softmax(q·kᵀ/√Dh): (B, H, N, N).
    public func callAsFunction(_ x: Tensor, returnWeights: Bool = false) -> (Tensor, Tensor?) {
        let (b, n, d) = (x.shape[0], x.shape[1], x.shape[2])
        let qkv = self.qkv(x)
            .reshaped(b, n, 3, heads, d / heads)            // (B, N, 3·D) → (B, N, 3, H, Dh)
            .permuted(2, 0, 3, 1, 4)                        // → (3, B, H, N, Dh)
        let (q, k, v) = (qkv.select(axis: 0, 0), qkv.select(axis: 0, 1), qkv.select(axis: 0, 2))
        let weights = softmax(matmul(q, k, transposeB: true) * scale)  // (B, H, N, N)
        let mixed = matmul(weights, v)                      // (B, H, N, Dh)
            .permuted(0, 2, 1, 3)                           // → (B, N, H, Dh)
            .reshaped(b, n, d)                              // → (B, N, D)
        return (proj(mixed), returnWeights ? weights : nil)
    }
}

/// fc1 → GELU → fc2, hidden width mlpRatio·D.
public final class MLP: Module {
    public let fc1: Linear, fc2: Linear

    public init(dim: Int, hidden: Int, rng: inout RNG) {
        fc1 = Linear(dim, hidden, rng: &rng)
        fc2 = Linear(hidden, dim, rng: &rng)
    }

    public var children: [(name: String, module: any Module)] { [("fc1", fc1), ("fc2", fc2)] }

    public func callAsFunction(_ x: Tensor) -> Tensor { fc2(gelu(fc1(x))) }
}

/// x ← x + attn(norm1(x)); x ← x + mlp(norm2(x)), each branch under drop path (stochastic depth).
public final class Block: Module {
    public let norm1: LayerNorm, attn: Attention, norm2: LayerNorm, mlp: MLP
    /// Probability of dropping a residual branch for a whole sample, in training.
    public let dropPath: Float

    public init(dim: Int, heads: Int, mlpRatio: Int = 4, qkvBias: Bool = true, dropPath: Float = 0, rng: inout RNG) {
        norm1 = LayerNorm(dim)                                  // ε 1e-6, as vit_small / deit_small
        attn = Attention(dim: dim, heads: heads, qkvBias: qkvBias, rng: &rng)
        norm2 = LayerNorm(dim)
        mlp = MLP(dim: dim, hidden: dim * mlpRatio, rng: &rng)
        self.dropPath = dropPath
    }

    public var children: [(name: String, module: any Module)] {
        [("norm1", norm1), ("attn", attn), ("norm2", norm2), ("mlp", mlp)]
    }

    /// x (B, N, D) → (B, N, D). `rng` is drawn only when drop path is active.
    public func callAsFunction(_ x: Tensor, training: Bool, returnWeights: Bool = false,
                               rng: inout RNG) -> (Tensor, Tensor?) {
        let (a, weights) = attn(norm1(x), returnWeights: returnWeights)
        let x = x + stochasticDepth(a, training: training, rng: &rng)
        return (x + stochasticDepth(mlp(norm2(x)), training: training, rng: &rng), weights)
    }

    /// Drop path: each sample's branch is kept with probability 1 − p and then scaled by 1/(1 − p),
    /// so its expectation is unchanged (timm's `drop_path`).
    private func stochasticDepth(_ branch: Tensor, training: Bool, rng: inout RNG) -> Tensor {
        guard training, dropPath > 0 else { return branch }
        let b = branch.shape[0]
        let keep = 1 - dropPath
        let mask = Tensor((0..<b).map { _ in rng.bernoulli(Double(keep)) ? 1 / keep : 0 }, shape: [b, 1, 1])
        return branch * mask
    }
}
