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
    var argmax = [Int32](repeating: 0, count: planes * outPlane)  // flat index in the input plane
    argmax.withUnsafeMutableBufferPointer { am in
        let (am, px, py) = (am.baseAddress!, UnsafePointer(x.data), y.data)
        Parallel.forEachChunk(planes, grain: max(1, 8192 / max(inPlane, 1))) { range in
            for p in range {
                let (src, dst, idx) = (px + p * inPlane, py + p * outPlane, am + p * outPlane)
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
    }
    y.record([x]) { y in
        let (g, dx) = (y.grad!.data, x.gradPointer())
        for p in 0..<planes {
            for o in 0..<outPlane { dx[p * inPlane + Int(argmax[p * outPlane + o])] += g[p * outPlane + o] }
        }
    }
    return y
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
