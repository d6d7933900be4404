// L2 normalization along an axis, PyTorch's `F.normalize(x, dim, eps=1e-12)`: DINO's head
// normalizes its bottleneck, and the k-NN evaluation its features.
//
//   y = x / max(‖x‖, ε)
//   dx = (g − y·⟨y, g⟩) / ‖x‖     where ‖x‖ > ε;   dx = g / ε where the norm was clamped.

public func l2Normalize(_ x: Tensor, axis: Int = -1, eps: Float = 1e-12) -> Tensor {
    let axis = normalizeAxis(axis, rank: x.rank, op: "l2Normalize")
    let n = x.shape[axis]
    let inner = x.shape[(axis + 1)...].reduce(1, *)
    let outer = x.shape[..<axis].reduce(1, *)
    let y = Tensor(uninitialized: x.shape)
    let norms = Tensor(uninitialized: [outer * inner])  // max(‖x‖, ε) per vector, for the backward
    let (px, py, pn) = (UnsafePointer(x.data), y.data, norms.data)

    // Vector (o, i) has elements at base + k·inner, k < n.
    let vectors = outer * inner
    Parallel.forEachChunk(vectors, grain: max(1, (1 << 15) / max(n, 1))) { range in
        for v in range {
            let base = (v / inner) * n * inner + v % inner
            let norm: Float
            if inner == 1 {
                norm = max(dotRow(px + base, px + base, n).squareRoot(), eps)
                scaleCopy(px + base, py + base, 1 / norm, n)
            } else {
                var s: Float = 0
                for k in 0..<n { s += px[base + k * inner] * px[base + k * inner] }
                norm = max(s.squareRoot(), eps)
                for k in 0..<n { py[base + k * inner] = px[base + k * inner] / norm }
            }
            pn[v] = norm
        }
    }

    y.record([x]) { y in
        let (g, py, dx, pn) = (UnsafePointer(y.grad!.data), UnsafePointer(y.data), x.gradPointer(), UnsafePointer(norms.data))
        Parallel.forEachChunk(vectors, grain: max(1, (1 << 15) / max(n, 1))) { range in
            for v in range {
                let base = (v / inner) * n * inner + v % inner
                let norm = pn[v]
                // A clamped norm equals ε exactly; there y = x/ε is linear in x and ⟨y, g⟩ drops out.
                var yg: Float = 0
                if norm > eps {
                    if inner == 1 { yg = dotRow(py + base, g + base, n) }
                    else { for k in 0..<n { yg += py[base + k * inner] * g[base + k * inner] } }
                }
                for k in 0..<n {
                    let j = base + k * inner
                    dx[j] += (g[j] - py[j] * yg) / norm
                }
            }
        }
    }
    return y
}

/// dst[i] = src[i]·c
@inline(__always)
func scaleCopy(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ c: Float, _ n: Int) {
    var i = 0
    while i &+ vecWidth <= n { store(load(src + i) * c, dst + i); i &+= vecWidth }
    while i < n { dst[i] = src[i] * c; i &+= 1 }
}
