// The pre-norm transformer block of timm's VisionTransformer (and DINO's and DeiT's copies).
//
// Shape legend: B batch, N tokens (prefix tokens + patches), D width, H heads, Dh = D/H.
import Foundation
import Tensor

/// Multi-head self-attention with a fused qkv projection.
public final class Attention: Module {
    public let qkv: Linear, proj: Linear
    public let heads: Int

    public init(dim: Int, heads: Int, qkvBias: Bool = true, rng: inout RNG) {
        precondition(dim % heads == 0, "Attention: width \(dim) is not divisible by \(heads) heads")
        qkv = Linear(dim, 3 * dim, bias: qkvBias, rng: &rng)
        proj = Linear(dim, dim, rng: &rng)
        self.heads = heads
    }

    public var children: [(name: String, module: any Module)] { [("qkv", qkv), ("proj", proj)] }

    /// x (B, N, D) → the heads' mixed values (B, N, D) before the output projection `proj`; with
    /// `returnWeights`, also softmax(q·kᵀ/√Dh): (B, H, N, N). The heads are computed by the core's
    /// fused `multiHeadAttention`, straight from the qkv projection's output — timm's reshape
    /// (B, N, 3·D) → (3, B, H, N, Dh) without the copies. The block applies `proj` itself, so that
    /// the residual add rides on it.
    public func mixHeads(_ x: Tensor, returnWeights: Bool = false) -> (Tensor, Tensor?) {
        multiHeadAttention(qkv(x), heads: heads, returnWeights: returnWeights)
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
        let (mixed, weights) = attn.mixHeads(norm1(x), returnWeights: returnWeights)
        guard training && dropPath > 0 else {
            // The residual adds ride on the output projections: y = x + proj(a), x + fc2(·).
            let y = attn.proj(mixed, residual: x)
            return (mlp.fc2(gelu(mlp.fc1(norm2(y))), residual: y), weights)
        }
        let y = x + stochasticDepth(attn.proj(mixed), training: training, rng: &rng)
        return (y + stochasticDepth(mlp(norm2(y)), training: training, rng: &rng), weights)
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
