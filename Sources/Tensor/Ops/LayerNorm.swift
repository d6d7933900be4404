// Layer normalization over the last axis, fused forward and backward (llm.c's formulation).
//
//   μ = mean(x), σ² = mean((x − μ)²), rstd = 1/√(σ² + ε), x̂ = (x − μ)·rstd, y = x̂ ⊙ w + b
//   dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)),  dx̂ = g ⊙ w
//   dw = Σ_rows g ⊙ x̂,  db = Σ_rows g
//
// The forward keeps μ and rstd per row for the backward. ε defaults to 1e-6, the value of
// timm's ViT factories and of DINO/DeiT; PyTorch's nn.LayerNorm default is 1e-5.

public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-6) -> Tensor {
    guard let d = x.shape.last, d > 0, weight.shape == [d], bias.shape == [d] else {
        shapeError("layerNorm", "input \(x.shape) needs weight and bias of shape [\(x.shape.last ?? 0)], got \(weight.shape) and \(bias.shape)")
    }
    let rows = x.count / d
    let y = Tensor(uninitialized: x.shape)
    let recording = Autograd.isRecording(x, weight, bias)
    let stats = Tensor(uninitialized: [recording ? 2 * rows : 0])  // μ then rstd, per row
    let (px, py, pw, pb, ps) = (UnsafePointer(x.data), y.data, UnsafePointer(weight.data), UnsafePointer(bias.data), stats.data)
    let invD = 1 / Float(d)

    Parallel.forEachChunk(rows, grain: rowGrain(d)) { range in
        for r in range {
            let (xr, yr) = (px + r &* d, py + r &* d)
            let mean = rowSum(xr, d) * invD
            // Second pass over the centered values: exact where Σx² − (Σx)²/d would cancel.
            let mv = Vec(repeating: mean)
            var acc = Vec()
            var i = 0
            while i &+ vecWidth <= d { let c = load(xr + i) - mv; acc += c * c; i &+= vecWidth }
            var variance = hsum(acc)
            while i < d { let c = xr[i] - mean; variance += c * c; i &+= 1 }
            variance *= invD
            let rstd = 1 / (variance + eps).squareRoot()
            let rv = Vec(repeating: rstd)
            i = 0
            while i &+ vecWidth <= d {
                store((load(xr + i) - mv) * rv * load(pw + i) + load(pb + i), yr + i)
                i &+= vecWidth
            }
            while i < d { yr[i] = (xr[i] - mean) * rstd * pw[i] + pb[i]; i &+= 1 }
            if recording { ps[r] = mean; ps[rows &+ r] = rstd }
        }
    }

    y.record([x, weight, bias]) { y in
        // Pointers are taken from the captured tensors, which keeps them (and `stats`) alive.
        let (g, px, pw, ps) = (UnsafePointer(y.grad!.data), UnsafePointer(x.data), UnsafePointer(weight.data),
                               UnsafePointer(stats.data))
        let dx = x.requiresGrad ? x.gradientTarget() : nil
        let chunks = Parallel.chunkCount(rows, grain: rowGrain(d))
        // Per-chunk partial sums of dw and db, added up after the parallel loop.
        let partial = Tensor(zeros: [chunks, 2, d])
        let pp = partial.data
        Parallel.forEachChunk(rows, grain: rowGrain(d)) { chunk, range in
            let dw = pp + chunk * 2 * d
            let db = dw + d
            for r in range {
                let (xr, gr) = (px + r &* d, g + r &* d)
                let (mean, rstd) = (ps[r], ps[rows &+ r])
                let (mv, rv) = (Vec(repeating: mean), Vec(repeating: rstd))
                // Σ dx̂ and Σ dx̂ ⊙ x̂ over the row; dw, db accumulate on the way.
                var sumD = Vec(), sumDX = Vec()
                var i = 0
                while i &+ vecWidth <= d {
                    let xhat = (load(xr + i) - mv) * rv
                    let gv = load(gr + i)
                    let dxhat = gv * load(pw + i)
                    sumD += dxhat
                    sumDX += dxhat * xhat
                    store(load(dw + i) + gv * xhat, dw + i)
                    store(load(db + i) + gv, db + i)
                    i &+= vecWidth
                }
                var (sD, sDX) = (hsum(sumD), hsum(sumDX))
                while i < d {
                    let xhat = (xr[i] - mean) * rstd
                    let dxhat = gr[i] * pw[i]
                    sD += dxhat
                    sDX += dxhat * xhat
                    dw[i] += gr[i] * xhat
                    db[i] += gr[i]
                    i &+= 1
                }
                guard let dx else { continue }
                let (meanD, meanDX) = (Vec(repeating: sD * invD), Vec(repeating: sDX * invD))
                i = 0
                while i &+ vecWidth <= d {
                    let xhat = (load(xr + i) - mv) * rv
                    dx.put(rv * (load(gr + i) * load(pw + i) - meanD - xhat * meanDX), at: r &* d &+ i)
                    i &+= vecWidth
                }
                if i < d {
                    let m = d &- i
                    let xhat = (loadTail(xr + i, m) - mv) * rv
                    dx.put(rv * (loadTail(gr + i, m) * loadTail(pw + i, m) - meanD - xhat * meanDX), at: r &* d &+ i, count: m)
                }
            }
        }
        for chunk in 0..<chunks {
            if weight.requiresGrad { addScaledRow(from: pp + chunk * 2 * d, into: weight.gradPointer(), scale: 1, d) }
            if bias.requiresGrad { addScaledRow(from: pp + chunk * 2 * d + d, into: bias.gradPointer(), scale: 1, d) }
        }
    }
    return y
}
