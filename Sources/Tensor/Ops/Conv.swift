// 2-D convolution by im2col + sgemm, PyTorch's `nn.Conv2d` layout (no dilation, no groups).
//
//   x (B, C, H, W), weight (O, C, kh, kw), bias (O) → y (B, O, Ho, Wo),
//   Ho = ⌊(H + 2·padding − kh)/stride⌋ + 1, likewise Wo.
//
// Images are unfolded in groups of G side by side: cols (C·kh·kw, G·Ho·Wo), so one sgemm
//   Y_g (O, G·Ho·Wo) = W (O, C·kh·kw) · cols
// serves G images, and its result is reshuffled into (G, O, Ho·Wo). (One product per image,
// reading its columns in place, avoids that copy but measured 20% slower: small products run far
// below BLAS's peak.) Backward: dW += dY_g · colsᵀ, dcols = Wᵀ · dY_g, dx += col2im(dcols).
// The columns are rebuilt in the backward pass rather than kept: cheap next to the products.

struct ConvGeometry {
    let channels, height, width, kernelH, kernelW, stride, padding, outH, outW: Int
    var columnRows: Int { channels * kernelH * kernelW }
    var outPlane: Int { outH * outW }

    init(input: [Int], kernelH: Int, kernelW: Int, stride: Int, padding: Int, op: String) {
        guard input.count == 4 else { shapeError(op, "expects input (B, C, H, W), got \(input)") }
        guard stride > 0, padding >= 0, kernelH > 0, kernelW > 0 else {
            shapeError(op, "needs kernel > 0, stride > 0 and padding ≥ 0 (kernel \(kernelH)×\(kernelW), stride \(stride), padding \(padding))")
        }
        (channels, height, width) = (input[1], input[2], input[3])
        (self.kernelH, self.kernelW, self.stride, self.padding) = (kernelH, kernelW, stride, padding)
        guard height + 2 * padding >= kernelH, width + 2 * padding >= kernelW else {
            shapeError(op, "kernel \(kernelH)×\(kernelW) is larger than the padded input \(input)")
        }
        outH = (height + 2 * padding - kernelH) / stride + 1
        outW = (width + 2 * padding - kernelW) / stride + 1
    }

    /// Source pixel of output (oh, ow) at kernel offset (ki, kj), or nil in the padding.
    @inline(__always) func source(_ oh: Int, _ ow: Int, _ ki: Int, _ kj: Int) -> (Int, Int)? {
        let ih = oh * stride - padding + ki, iw = ow * stride - padding + kj
        return (ih >= 0 && ih < height && iw >= 0 && iw < width) ? (ih, iw) : nil
    }

    /// Output columns ow whose input column iw = ow·stride − padding + kj lies inside the image.
    @inline(__always) func validColumns(_ kj: Int) -> Range<Int> {
        let lo = max(0, (padding - kj + stride - 1) / stride)
        let hi = min(outW, (width + padding - kj + stride - 1) / stride)
        return lo..<max(lo, hi)
    }

    /// For `images` images starting at x: cols[(c·kh + ki)·kw + kj, i·Ho·Wo + oh·Wo + ow] =
    /// x_i[c, ih, iw], 0 in the padding. Row length of cols: images·Ho·Wo. Rows split across cores.
    func im2col(_ x: UnsafePointer<Float>, images: Int, _ cols: UnsafeMutablePointer<Float>) {
        let rowLength = images * outPlane, inImage = channels * height * width
        Parallel.forEachChunk(columnRows, grain: max(1, 16_384 / max(rowLength, 1))) { rows in
            for row in rows {
                let (c, ki, kj) = (row / (kernelH * kernelW), (row / kernelW) % kernelH, row % kernelW)
                let valid = validColumns(kj)
                for i in 0..<images {
                    let src = x + i * inImage + c * height * width
                    for oh in 0..<outH {
                        let dst = cols + row * rowLength + i * outPlane + oh * outW
                        let ih = oh * stride - padding + ki
                        guard ih >= 0 && ih < height, !valid.isEmpty else { dst.update(repeating: 0, count: outW); continue }
                        dst.update(repeating: 0, count: valid.lowerBound)
                        let line = src + ih * width - padding + kj
                        if stride == 1 {
                            (dst + valid.lowerBound).update(from: line + valid.lowerBound, count: valid.count)
                        } else {
                            for ow in valid { dst[ow] = line[ow * stride] }
                        }
                        (dst + valid.upperBound).update(repeating: 0, count: outW - valid.upperBound)
                    }
                }
            }
        }
    }

    /// The adjoint of im2col: dx_i[c, ih, iw] += every column entry that copied it. Channels are
    /// split across cores (each writes only its own planes).
    func col2im(_ cols: UnsafePointer<Float>, images: Int, _ dx: UnsafeMutablePointer<Float>) {
        let rowLength = images * outPlane, inImage = channels * height * width
        Parallel.forEachChunk(channels, grain: max(1, 4096 / max(kernelH * kernelW * rowLength, 1))) { range in
            for c in range {
                for ki in 0..<kernelH {
                    for kj in 0..<kernelW {
                        let row = (c * kernelH + ki) * kernelW + kj
                        let valid = validColumns(kj)
                        for i in 0..<images {
                            let dst = dx + i * inImage + c * height * width
                            for oh in 0..<outH {
                                let ih = oh * stride - padding + ki
                                guard ih >= 0 && ih < height else { continue }
                                let src = cols + row * rowLength + i * outPlane + oh * outW
                                let line = dst + ih * width - padding + kj
                                if stride == 1 {
                                    addScaledRow(from: src + valid.lowerBound, into: line + valid.lowerBound, scale: 1, valid.count)
                                } else {
                                    for ow in valid { line[ow * stride] += src[ow] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Images per group: as many as keep the column matrix under ~16 MB.
    func groupSize(batch: Int) -> Int {
        max(1, min(batch, (4 << 20) / max(columnRows * outPlane, 1)))
    }
}

public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
    let op = "conv2d"
    guard weight.rank == 4 else { shapeError(op, "expects weight (O, C, kh, kw), got \(weight.shape)") }
    let geo = ConvGeometry(input: x.shape, kernelH: weight.shape[2], kernelW: weight.shape[3],
                           stride: stride, padding: padding, op: op)
    guard weight.shape[1] == geo.channels else {
        shapeError(op, "input \(x.shape) has \(geo.channels) channels, weight \(weight.shape) expects \(weight.shape[1])")
    }
    let (batch, outC) = (x.shape[0], weight.shape[0])
    if let bias, bias.shape != [outC] { shapeError(op, "bias \(bias.shape) does not fit weight \(weight.shape)") }
    let (inImage, plane, k) = (geo.channels * geo.height * geo.width, geo.outPlane, geo.columnRows)
    let group = geo.groupSize(batch: batch)
    let y = Tensor(uninitialized: [batch, outC, geo.outH, geo.outW])
    let cols = Tensor(uninitialized: [k, group * plane])
    let product = Tensor(uninitialized: [outC, group * plane])
    for start in Swift.stride(from: 0, to: batch, by: group) {
        let g = min(group, batch - start)
        geo.im2col(x.data + start * inImage, images: g, cols.data)
        sgemm(false, false, m: outC, n: g * plane, k: k, weight.data, cols.data, beta: 0, product.data)
        // (O, g·plane) → (g, O, plane), adding the bias on the way.
        for i in 0..<g {
            for o in 0..<outC {
                let (src, dst) = (product.data + o * g * plane + i * plane, y.data + ((start + i) * outC + o) * plane)
                if let bias { addConstantCopy(src, dst, bias.data[o], plane) } else { dst.update(from: src, count: plane) }
            }
        }
    }

    y.record(bias.map { [x, weight, $0] } ?? [x, weight]) { y in
        let gy = y.grad!.data
        let cols = Tensor(uninitialized: [k, group * plane])
        let dy = Tensor(uninitialized: [outC, group * plane])
        let dcols = Tensor(uninitialized: x.requiresGrad ? [k, group * plane] : [0])
        for start in Swift.stride(from: 0, to: batch, by: group) {
            let g = min(group, batch - start)
            for i in 0..<g {  // (g, O, plane) → (O, g·plane)
                for o in 0..<outC {
                    (dy.data + o * g * plane + i * plane).update(from: gy + ((start + i) * outC + o) * plane, count: plane)
                }
            }
            if weight.requiresGrad {  // dW (O, k) += dY_g (O, g·plane) · colsᵀ (g·plane, k)
                geo.im2col(x.data + start * inImage, images: g, cols.data)
                sgemm(false, true, m: outC, n: k, k: g * plane, dy.data, cols.data, beta: 1, weight.gradPointer())
            }
            if x.requiresGrad {       // dcols (k, g·plane) = Wᵀ (k, O) · dY_g
                sgemm(true, false, m: k, n: g * plane, k: outC, weight.data, dy.data, beta: 0, dcols.data)
                geo.col2im(dcols.data, images: g, x.gradPointer() + start * inImage)
            }
            if let bias, bias.requiresGrad {
                let db = bias.gradPointer()
                for o in 0..<outC { db[o] += rowSum(dy.data + o * g * plane, g * plane) }
            }
        }
    }
    return y
}

/// dst[i] = src[i] + c
@inline(__always)
func addConstantCopy(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ c: Float, _ n: Int) {
    let cv = Vec(repeating: c)
    var i = 0
    while i &+ vecWidth <= n { store(load(src + i) + cv, dst + i); i &+= vecWidth }
    while i < n { dst[i] = src[i] + c; i &+= 1 }
}
