// 2-D convolution by im2col + sgemm, PyTorch's `nn.Conv2d` layout (no dilation, no groups).
//
//   x (B, C, H, W), weight (O, C, kh, kw), bias (O) → y (B, O, Ho, Wo),
//   Ho = ⌊(H + 2·padding − kh)/stride⌋ + 1, likewise Wo.
//
// Per image: cols (C·kh·kw, Ho·Wo) = im2col(x_b); y_b (O, Ho·Wo) = W (O, C·kh·kw) · cols + b.
// Backward: dW += dy_b · colsᵀ, dcols = Wᵀ · dy_b, dx_b += col2im(dcols). The columns are
// rebuilt in the backward pass rather than kept: cheap next to the products, and it saves
// C·kh·kw·Ho·Wo floats per image.

struct ConvGeometry {
    let channels, height, width, kernelH, kernelW, stride, padding, outH, outW: Int
    var columnRows: Int { channels * kernelH * kernelW }
    var columnCount: Int { outH * outW }

    init(input: [Int], kernelH: Int, kernelW: Int, stride: Int, padding: Int, op: String) {
        guard input.count == 4 else { shapeError(op, "expects input (B, C, H, W), got \(input)") }
        guard stride > 0, padding >= 0, kernelH > 0, kernelW > 0 else {
            shapeError(op, "needs kernel > 0, stride > 0 and padding ≥ 0 (kernel \(kernelH)×\(kernelW), stride \(stride), padding \(padding))")
        }
        (channels, height, width) = (input[1], input[2], input[3])
        (self.kernelH, self.kernelW, self.stride, self.padding) = (kernelH, kernelW, stride, padding)
        outH = (height + 2 * padding - kernelH) / stride + 1
        outW = (width + 2 * padding - kernelW) / stride + 1
        guard height + 2 * padding >= kernelH, width + 2 * padding >= kernelW else {
            shapeError(op, "kernel \(kernelH)×\(kernelW) is larger than the padded input \(input)")
        }
    }

    /// Source pixel of output (oh, ow) at kernel offset (ki, kj), or nil in the padding.
    @inline(__always) func source(_ oh: Int, _ ow: Int, _ ki: Int, _ kj: Int) -> (Int, Int)? {
        let ih = oh * stride - padding + ki, iw = ow * stride - padding + kj
        return (ih >= 0 && ih < height && iw >= 0 && iw < width) ? (ih, iw) : nil
    }

    /// Calls body(column, source) for every entry of the (C·kh·kw, Ho·Wo) column matrix: its
    /// flat index, and the flat index in (C, H, W) of the pixel it copies, or nil in the padding.
    /// Channels are split across cores; each channel's entries read and write only that channel.
    @inline(__always)
    private func forEachColumnEntry(_ body: (_ column: Int, _ source: Int?) -> Void) {
        Parallel.forEachChunk(channels, grain: max(1, 4096 / max(kernelH * kernelW * columnCount, 1))) { range in
            for c in range {
                for ki in 0..<kernelH {
                    for kj in 0..<kernelW {
                        let row = ((c * kernelH + ki) * kernelW + kj) * columnCount
                        for oh in 0..<outH {
                            for ow in 0..<outW {
                                let pixel = source(oh, ow, ki, kj).map { (c * height + $0.0) * width + $0.1 }
                                body(row + oh * outW + ow, pixel)
                            }
                        }
                    }
                }
            }
        }
    }

    /// cols[(c·kh + ki)·kw + kj, oh·Wo + ow] = x[c, ih, iw] (0 in the padding).
    func im2col(_ x: UnsafePointer<Float>, _ cols: UnsafeMutablePointer<Float>) {
        forEachColumnEntry { column, source in cols[column] = source.map { x[$0] } ?? 0 }
    }

    /// The adjoint of im2col: dx[c, ih, iw] += Σ of every column entry that copied it.
    func col2im(_ cols: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>) {
        forEachColumnEntry { column, source in if let source { dx[source] += cols[column] } }
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
    let (inSize, outSize, k, n) = (geo.channels * geo.height * geo.width, outC * geo.columnCount,
                                   geo.columnRows, geo.columnCount)
    let y = Tensor(uninitialized: [batch, outC, geo.outH, geo.outW])
    let cols = Tensor(uninitialized: [k, n])
    for b in 0..<batch {
        let yb = y.data + b * outSize
        geo.im2col(x.data + b * inSize, cols.data)
        if let bias { for o in 0..<outC { (yb + o * n).update(repeating: bias.data[o], count: n) } }
        sgemm(false, false, m: outC, n: n, k: k, weight.data, cols.data, beta: bias == nil ? 0 : 1, yb)
    }

    y.record(bias.map { [x, weight, $0] } ?? [x, weight]) { y in
        let g = y.grad!.data
        let cols = Tensor(uninitialized: [k, n])
        let dcols = Tensor(uninitialized: x.requiresGrad ? [k, n] : [0])
        for b in 0..<batch {
            let gb = g + b * outSize
            if weight.requiresGrad {  // dW (O, k) += dy_b (O, n) · colsᵀ (n, k)
                geo.im2col(x.data + b * inSize, cols.data)
                sgemm(false, true, m: outC, n: k, k: n, gb, cols.data, beta: 1, weight.gradPointer())
            }
            if x.requiresGrad {       // dcols (k, n) = Wᵀ (k, O) · dy_b (O, n)
                sgemm(true, false, m: k, n: n, k: outC, weight.data, gb, beta: 0, dcols.data)
                geo.col2im(dcols.data, x.gradPointer() + b * inSize)
            }
            if let bias, bias.requiresGrad {
                let db = bias.gradPointer()
                for o in 0..<outC { db[o] += rowSum(gb + o * n, n) }
            }
        }
    }
    return y
}
