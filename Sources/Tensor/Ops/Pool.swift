// Max and average pooling over (B, C, H, W), PyTorch's `max_pool2d` / `avg_pool2d` semantics:
// output size ⌊(H + 2·padding − kernel)/stride⌋ + 1; max pooling pads with −∞; average pooling
// divides by kernel² including padded cells (`count_include_pad=True`, PyTorch's default).
//
//   max: dx[argmax] += g          avg: dx[window] += g / kernel²

/// A pooling window's geometry; stride defaults to the kernel. Each (B, C) plane pools alone.
private func poolGeometry(_ x: Tensor, kernel: Int, stride: Int?, padding: Int, op: String)
    -> (geo: ConvGeometry, planes: Int, inPlane: Int, outPlane: Int, y: Tensor) {
    let geo = ConvGeometry(input: x.shape, kernelH: kernel, kernelW: kernel, stride: stride ?? kernel, padding: padding, op: op)
    guard padding * 2 <= kernel else { shapeError(op, "padding \(padding) must be at most half the kernel \(kernel)") }
    let y = Tensor(uninitialized: [x.shape[0], geo.channels, geo.outH, geo.outW])
    return (geo, x.shape[0] * geo.channels, geo.height * geo.width, geo.outH * geo.outW, y)
}

public func maxPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
    let (geo, planes, inPlane, outPlane, y) = poolGeometry(x, kernel: kernel, stride: stride, padding: padding, op: "maxPool2d")
    // The flat index in the input plane of each output's maximum: the first of the window's
    // cells in row order, unless a later one is strictly greater.
    let argmax = UnsafeMutableBufferPointer<Int32>.allocate(capacity: planes * outPlane)
    let (am, px, py) = (argmax.baseAddress!, UnsafePointer(x.data), y.data)
    let grain = max(1, 8192 / max(inPlane, 1))
    Parallel.forEachChunk(planes, grain: grain) { range in
        for p in range {
            let (src, dst, idx) = (px + p * inPlane, py + p * outPlane, am + p * outPlane)
            if kernel == 2 && geo.stride == 2 && padding == 0 {
                maxPool2x2(src, width: geo.width, outH: geo.outH, outW: geo.outW, dst, idx)
                continue
            }
            for oh in 0..<geo.outH {
                for ow in 0..<geo.outW {
                    var best = -Float.infinity, at = -1
                    for ki in 0..<kernel {
                        for kj in 0..<kernel {
                            guard let (ih, iw) = geo.source(oh, ow, ki, kj) else { continue }
                            let v = src[ih * geo.width + iw]
                            if v > best || at < 0 { best = v; at = ih * geo.width + iw }
                        }
                    }
                    dst[oh * geo.outW + ow] = best
                    idx[oh * geo.outW + ow] = Int32(at)
                }
            }
        }
    }
    let indices = PoolIndices(argmax)
    y.record([x]) { y in
        let (g, dx, am) = (UnsafePointer(y.grad!.data), x.gradPointer(), UnsafePointer(indices.buffer.baseAddress!))
        Parallel.forEachChunk(planes, grain: grain) { range in
            for p in range {  // planes write disjoint parts of dx
                let (gp, dp, ip) = (g + p * outPlane, dx + p * inPlane, am + p * outPlane)
                for o in 0..<outPlane { dp[Int(ip[o])] += gp[o] }
            }
        }
    }
    return y
}

/// The 2×2, stride-2 window without padding (ResNet's stem pool), its four cells in row order,
/// eight outputs at a time: each row pair is loaded as two vectors of 16 and split into its even
/// and odd columns.
@inline(__always)
private func maxPool2x2(_ src: UnsafePointer<Float>, width: Int, outH: Int, outW: Int,
                        _ dst: UnsafeMutablePointer<Float>, _ idx: UnsafeMutablePointer<Int32>) {
    let lanes = SIMD8<Int32>(0, 2, 4, 6, 8, 10, 12, 14)
    for oh in 0..<outH {
        let (top, bottom) = (src + 2 * oh * width, src + (2 * oh + 1) * width)
        var ow = 0
        while ow &+ 8 <= outW {  // the 16 inputs of 8 outputs lie within the row: 2·outW ≤ width
            let t = UnsafeRawPointer(top + 2 * ow).loadUnaligned(as: SIMD16<Float>.self)
            let b = UnsafeRawPointer(bottom + 2 * ow).loadUnaligned(as: SIMD16<Float>.self)
            let first: SIMD8<Int32> = lanes &+ Int32(2 * oh * width + 2 * ow)
            var best: SIMD8<Float> = t.evenHalf
            var at = first
            @inline(__always) func consider(_ v: SIMD8<Float>, _ offset: Int32) {
                let greater: SIMDMask<SIMD8<Int32>> = v .> best  // Float's mask: the same type as Int32's
                best.replace(with: v, where: greater)
                at.replace(with: first &+ offset, where: greater)
            }
            consider(t.oddHalf, 1)
            consider(b.evenHalf, Int32(width))
            consider(b.oddHalf, Int32(width + 1))
            UnsafeMutableRawPointer(dst + oh * outW + ow).storeBytes(of: best, as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(idx + oh * outW + ow).storeBytes(of: at, as: SIMD8<Int32>.self)
            ow &+= 8
        }
        while ow < outW {
            let i = 2 * oh * width + 2 * ow
            var (best, at) = (top[2 * ow], i)
            if top[2 * ow + 1] > best { (best, at) = (top[2 * ow + 1], i + 1) }
            if bottom[2 * ow] > best { (best, at) = (bottom[2 * ow], i + width) }
            if bottom[2 * ow + 1] > best { (best, at) = (bottom[2 * ow + 1], i + width + 1) }
            dst[oh * outW + ow] = best
            idx[oh * outW + ow] = Int32(at)
            ow &+= 1
        }
    }
}

/// The argmax indices a max-pool's backward reads, freed with its graph.
private final class PoolIndices: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Int32>
    init(_ buffer: UnsafeMutableBufferPointer<Int32>) { self.buffer = buffer }
    deinit { buffer.deallocate() }
}

public func avgPool2d(_ x: Tensor, kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
    let (geo, planes, inPlane, outPlane, y) = poolGeometry(x, kernel: kernel, stride: stride, padding: padding, op: "avgPool2d")
    let inv = 1 / Float(kernel * kernel)
    let (px, py) = (UnsafePointer(x.data), y.data)
    Parallel.forEachChunk(planes, grain: max(1, 8192 / max(inPlane, 1))) { range in
        for p in range {
            let (src, dst) = (px + p * inPlane, py + p * outPlane)
            for oh in 0..<geo.outH {
                for ow in 0..<geo.outW {
                    var s: Float = 0
                    for ki in 0..<kernel {
                        for kj in 0..<kernel {
                            if let (ih, iw) = geo.source(oh, ow, ki, kj) { s += src[ih * geo.width + iw] }
                        }
                    }
                    dst[oh * geo.outW + ow] = s * inv
                }
            }
        }
    }
    y.record([x]) { y in
        let (g, dx) = (UnsafePointer(y.grad!.data), x.gradPointer())
        Parallel.forEachChunk(planes, grain: max(1, 8192 / max(inPlane, 1))) { range in
            for p in range {  // planes write disjoint parts of dx
                for oh in 0..<geo.outH {
                    for ow in 0..<geo.outW {
                        let share = g[p * outPlane + oh * geo.outW + ow] * inv
                        for ki in 0..<kernel {
                            for kj in 0..<kernel {
                                if let (ih, iw) = geo.source(oh, ow, ki, kj) { dx[p * inPlane + ih * geo.width + iw] += share }
                            }
                        }
                    }
                }
            }
        }
    }
    return y
}
