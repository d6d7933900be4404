// Batch normalization over (B, C, H, W), per channel — PyTorch's `F.batch_norm`, the ConvNet
// teacher's normalization.
//
// Training: statistics of the batch, over N = B·H·W values per channel,
//   μ = mean(x), σ² = mean((x − μ)²), rstd = 1/√(σ² + ε), x̂ = (x − μ)·rstd, y = γ·x̂ + β
//   dx = rstd/N · (N·dx̂ − Σdx̂ − x̂·Σ(dx̂ ⊙ x̂)),  dx̂ = γ·g;  dγ = Σ g ⊙ x̂,  dβ = Σ g
// and the running statistics move: r ← (1 − m)·r + m·batch, with the unbiased variance
// (N/(N − 1)·σ²), as PyTorch does.
// Evaluation: the running statistics instead, so y is affine in x: dx = γ·rstd·g.
// `relu: true` applies ReLU in the same pass, y = max(γ·x̂ + β, 0), and its backward reads
// g·1[y > 0]: the ConvNet's BN → ReLU pairs without the ReLU's own passes (the same numbers).

public func batchNorm2d(_ x: Tensor, weight: Tensor, bias: Tensor, runningMean: Tensor, runningVar: Tensor,
                        training: Bool, momentum: Float = 0.1, eps: Float = 1e-5, relu applyReLU: Bool = false) -> Tensor {
    guard x.rank == 4, weight.shape == [x.shape[1]], bias.shape == weight.shape,
          runningMean.shape == weight.shape, runningVar.shape == weight.shape else {
        shapeError("batchNorm2d", "input \(x.shape) needs (B, C, H, W) with weight, bias and running stats of shape [C], got \(weight.shape)")
    }
    let (batch, channels, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    let n = batch * plane
    if training && n < 2 { shapeError("batchNorm2d", "needs more than one value per channel in training, got input \(x.shape)") }
    // Each core takes whole channels: a channel's statistics, then its normalization, while its
    // B planes are still in the cache. Per channel: the mean and rstd used for this output.
    let stats = Tensor(uninitialized: [2, channels])
    let (mean, rstd) = (stats.data, stats.data + channels)
    let (px, pw, pb) = (UnsafePointer(x.data), UnsafePointer(weight.data), UnsafePointer(bias.data))
    let y = Tensor(uninitialized: x.shape)
    let (out, runMean, runVar) = (y.data, runningMean.data, runningVar.data)
    let grain = max(1, (1 << 15) / max(n, 1))
    Parallel.forEachChunk(channels, grain: grain) { range in
        for c in range {
            if training {
                var s: Double = 0
                for b in 0..<batch { s += Double(rowSum(px + (b * channels + c) * plane, plane)) }
                let m = Float(s / Double(n))
                let mv = Vec(repeating: m)
                var sq: Double = 0
                for b in 0..<batch {
                    let p = px + (b * channels + c) * plane
                    var acc = Vec(), i = 0
                    while i &+ vecWidth <= plane { let d = load(p + i) - mv; acc += d * d; i &+= vecWidth }
                    var t = hsum(acc)
                    while i < plane { t += (p[i] - m) * (p[i] - m); i &+= 1 }
                    sq += Double(t)
                }
                let variance = Float(sq / Double(n))
                (mean[c], rstd[c]) = (m, 1 / (variance + eps).squareRoot())
                runMean[c] = (1 - momentum) * runMean[c] + momentum * m
                runVar[c] = (1 - momentum) * runVar[c] + momentum * variance * Float(n) / Float(n - 1)
            } else {
                (mean[c], rstd[c]) = (runMean[c], 1 / (runVar[c] + eps).squareRoot())
            }
            let scale = pw[c] * rstd[c], shift = pb[c] - mean[c] * pw[c] * rstd[c]  // y = scale·x + shift
            for b in 0..<batch {
                let (src, dst) = (px + (b * channels + c) * plane, out + (b * channels + c) * plane)
                var i = 0
                if applyReLU {
                    while i &+ vecWidth <= plane { store(vmax(load(src + i) * scale + shift, Vec()), dst + i); i &+= vecWidth }
                    while i < plane { let z = src[i] * scale + shift; dst[i] = 0 > z ? 0 : z; i &+= 1 }  // vmax's rule
                } else {
                    while i &+ vecWidth <= plane { store(load(src + i) * scale + shift, dst + i); i &+= vecWidth }
                    while i < plane { dst[i] = src[i] * scale + shift; i &+= 1 }
                }
            }
        }
    }

    y.record([x, weight, bias]) { y in
        let (g, px, pw, py) = (UnsafePointer(y.grad!.data), UnsafePointer(x.data), UnsafePointer(weight.data), UnsafePointer(y.data))
        // The gradient that reaches the normalization: g, or g·1[y > 0] through the ReLU (whose
        // output is positive exactly where its input is), read where it is needed.
        @inline(__always) func gradient(_ at: Int) -> Vec {
            applyReLU ? load(g + at) * Vec().replacing(with: 1, where: load(py + at) .> 0) : load(g + at)
        }
        @inline(__always) func gradient(scalar at: Int) -> Float { applyReLU ? g[at] * (py[at] > 0 ? 1 : 0) : g[at] }
        let (mean, rstd) = (UnsafePointer(stats.data), UnsafePointer(stats.data + channels))
        let dw = weight.requiresGrad ? weight.gradPointer() : nil, db = bias.requiresGrad ? bias.gradPointer() : nil
        // Created here, not by two cores at once; a first gradient is stored rather than added to zeros.
        let target = x.requiresGrad ? x.gradientTarget() : nil
        let invN = 1 / Float(n)
        // Each core takes whole channels. Σg and Σg⊙x̂ per channel give dγ, dβ and the two batch
        // terms of dx.
        Parallel.forEachChunk(channels, grain: grain) { range in
            for c in range {
                var sg: Double = 0, sgx: Double = 0
                let mv = Vec(repeating: mean[c])
                for b in 0..<batch {
                    let (start, xr) = ((b * channels + c) * plane, px + (b * channels + c) * plane)
                    var ag = Vec(), agx = Vec(), i = 0
                    while i &+ vecWidth <= plane {
                        let gv = gradient(start + i)
                        ag += gv
                        agx += gv * (load(xr + i) - mv)
                        i &+= vecWidth
                    }
                    var (tg, tgx) = (hsum(ag), hsum(agx))
                    while i < plane { let gi = gradient(scalar: start + i); tg += gi; tgx += gi * (xr[i] - mean[c]); i &+= 1 }
                    sg += Double(tg)
                    sgx += Double(tgx)
                }
                let (sumG, sumGX) = (Float(sg), Float(sgx) * rstd[c])  // Σg, Σ g ⊙ x̂
                dw?[c] += sumGX
                db?[c] += sumG
                guard let target else { continue }
                let (dx, adds) = (target.pointer, target.adds)
                let k = pw[c] * rstd[c]  // dy/dx̂ · dx̂/dx along the direct path
                let (mg, mgx, m, r) = (sumG * invN, sumGX * invN, mean[c], rstd[c])
                for b in 0..<batch {
                    let bc = b * channels + c
                    let (start, xr, dr) = (bc * plane, px + bc * plane, dx + bc * plane)
                    var i = 0
                    if training {  // dx = γ·rstd·(g − Σg/N − x̂·Σ(g⊙x̂)/N)
                        while i &+ vecWidth <= plane {
                            let xhat = (load(xr + i) - m) * r
                            let d = k * (gradient(start + i) - mg - xhat * mgx)
                            store(adds ? load(dr + i) + d : d, dr + i)
                            i &+= vecWidth
                        }
                        while i < plane {
                            let d = k * (gradient(scalar: start + i) - mg - (xr[i] - m) * r * mgx)
                            dr[i] = adds ? dr[i] + d : d
                            i &+= 1
                        }
                    } else {  // dx = γ·rstd·g
                        while i &+ vecWidth <= plane {
                            let d = k * gradient(start + i)
                            store(adds ? load(dr + i) + d : d, dr + i)
                            i &+= vecWidth
                        }
                        while i < plane { let d = k * gradient(scalar: start + i); dr[i] = adds ? dr[i] + d : d; i &+= 1 }
                    }
                }
            }
        }
    }
    return y
}
