// 2-D convolution by im2col + sgemm, PyTorch's `nn.Conv2d` layout (no dilation, no groups).
//
//   x (B, C, H, W), weight (O, C, kh, kw), bias (O) → y (B, O, Ho, Wo),
//   Ho = ⌊(H + 2·padding − kh)/stride⌋ + 1, likewise Wo.
//
// Each core takes a run of the batch's images and works through it alone, a group of G images
// at a time: it unfolds them side by side, cols (C·kh·kw, G·Ho·Wo), so that one single-threaded
//   Y_g (O, G·Ho·Wo) = W (O, C·kh·kw) · cols
// serves G images, and reshuffles the result into (G, O, Ho·Wo). G keeps cols within ~2 MB, so
// the unfolding, the product and the reshuffle run on data still in the caches. (Measured on a
// Zen 4 against one 16 MB group per product split over the cores: the forward of the ConvNet
// teacher 1.3× faster, its training step 1.17×; groups of 256 kB to 2 MB were level within the
// noise.) Backward, per group: dW += dY_g ·
// colsᵀ into the core's own copy (the copies are added in core order afterwards), dcols = Wᵀ ·
// dY_g, dx += col2im(dcols). The columns are rebuilt rather than kept: cheap next to the products.

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
    /// x_i[c, ih, iw], 0 in the padding. Row length of cols: images·Ho·Wo.
    func im2col(_ x: UnsafePointer<Float>, images: Int, _ cols: UnsafeMutablePointer<Float>) {
        let rowLength = images * outPlane, inImage = channels * height * width
        for row in 0..<columnRows {
            let (c, ki, kj) = (row / (kernelH * kernelW), (row / kernelW) % kernelH, row % kernelW)
            for i in 0..<images {
                unfoldPlane(x + i * inImage + c * height * width, ki, kj, cols + row * rowLength + i * outPlane)
            }
        }
    }

    /// One image's plane of one column row: dst[oh·Wo + ow] = plane[ih, iw], 0 in the padding.
    @inline(__always) private func unfoldPlane(_ plane: UnsafePointer<Float>, _ ki: Int, _ kj: Int,
                                               _ dst: UnsafeMutablePointer<Float>) {
        let (rows, columns) = (validRows(ki), validColumns(kj))
        if stride == 1 && outW == width {
            // A "same" convolution: the rows inside the image are one contiguous run of the plane,
            // shifted by (ki − padding)·W + (kj − padding); then the wrapped border columns are zeroed.
            let shift = (ki - padding) * width + (kj - padding)
            let (lo, hi) = (rows.lowerBound * outW, rows.upperBound * outW)
            // Clipped to the plane: what falls outside it lies in a border column, zeroed below.
            let (from, to) = (max(lo, -shift), min(hi, height * width - shift))
            let end = max(from, to)
            fillZeros(dst, from)
            copyFloats(plane + (from + shift), dst + from, end - from)
            fillZeros(dst + end, outPlane - end)
            for oh in rows {
                let line = dst + oh * outW
                for ow in 0..<columns.lowerBound { line[ow] = 0 }
                for ow in columns.upperBound..<outW { line[ow] = 0 }
            }
            return
        }
        for oh in 0..<outH {
            let line = dst + oh * outW
            guard rows.contains(oh) else { for ow in 0..<outW { line[ow] = 0 }; continue }
            let source = plane + (oh * stride - padding + ki) * width
            for ow in 0..<columns.lowerBound { line[ow] = 0 }
            for ow in columns { line[ow] = source[ow * stride - padding + kj] }
            for ow in columns.upperBound..<outW { line[ow] = 0 }
        }
    }

    /// The adjoint of im2col: dx_i[c, ih, iw] += every column entry that copied it, in the order
    /// of the column rows.
    func col2im(_ cols: UnsafePointer<Float>, images: Int, _ dx: UnsafeMutablePointer<Float>) {
        let rowLength = images * outPlane, inImage = channels * height * width
        for row in 0..<columnRows {
            let (c, ki, kj) = (row / (kernelH * kernelW), (row / kernelW) % kernelH, row % kernelW)
            let (rows, columns) = (validRows(ki), validColumns(kj))
            for i in 0..<images {
                let plane = dx + i * inImage + c * height * width
                let src = cols + row * rowLength + i * outPlane
                for oh in rows {
                    let (line, from) = (plane + (oh * stride - padding + ki) * width, src + oh * outW)
                    for ow in columns { line[ow * stride - padding + kj] += from[ow] }
                }
            }
        }
    }

    /// Output rows oh whose input row ih = oh·stride − padding + ki lies inside the image.
    @inline(__always) func validRows(_ ki: Int) -> Range<Int> {
        let lo = max(0, (padding - ki + stride - 1) / stride)
        let hi = min(outH, (height + padding - ki + stride - 1) / stride)
        return lo..<max(lo, hi)
    }

    /// Images per group: as many as keep one group's column matrix within ~2 MB (512 Ki floats).
    func groupSize(batch: Int) -> Int {
        max(1, min(batch, (512 << 10) / max(columnRows * outPlane, 1)))
    }
}

/// Which kernels run `conv2d`: oneDNN's direct convolutions (Kernels/OneDNN.swift; bias-free
/// convolutions, the ConvNet's, 1.5–2× faster than im2col on its shapes: papers/notebook.md), or
/// im2col + OpenBLAS, which every convolution with a bias (the ViT's patch embedding) runs. The two
/// differ in the last bits, so a trained ConvNet's identity names its engine (Teachers.artifact).
public enum ConvolutionEngine: String, Codable, Sendable {
    case im2col, oneDNN
    @TaskLocal public static var current: ConvolutionEngine = .oneDNN
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
    if bias == nil && ConvolutionEngine.current == .oneDNN { return conv2dOneDNN(x, weight: weight, geo: geo) }
    let (inImage, plane, k) = (geo.channels * geo.height * geo.width, geo.outPlane, geo.columnRows)
    let group = geo.groupSize(batch: batch)
    let y = Tensor(uninitialized: [batch, outC, geo.outH, geo.outW])
    // Each core takes a run of images and works through it a group at a time, single-threaded.
    Parallel.forEachChunk(batch, grain: 1) { images in
        let cols = Tensor(uninitialized: [k, group * plane])
        let product = Tensor(uninitialized: [outC, group * plane])
        for start in Swift.stride(from: images.lowerBound, to: images.upperBound, by: group) {
            let g = min(group, images.upperBound - start)
            geo.im2col(x.data + start * inImage, images: g, cols.data)
            sgemm(false, false, m: outC, n: g * plane, k: k, weight.data, cols.data, beta: 0, product.data)
            // (O, g·plane) → (g, O, plane), adding the bias on the way.
            for i in 0..<g {
                for o in 0..<outC {
                    let (src, dst) = (product.data + o * g * plane + i * plane, y.data + ((start + i) * outC + o) * plane)
                    if let bias { addConstantCopy(src, dst, bias.data[o], plane) } else { copyFloats(src, dst, plane) }
                }
            }
        }
    }

    y.record(bias.map { [x, weight, $0] } ?? [x, weight]) { y in
        let gy = y.grad!.data
        let chunks = Parallel.chunkCount(batch, grain: 1)
        // Each core's share of dW and db, added up in chunk order afterwards (deterministic).
        let dW = weight.requiresGrad ? Tensor(zeros: [chunks, outC * k]) : nil
        let db = bias?.requiresGrad == true ? Tensor(zeros: [chunks, outC]) : nil
        let dx = x.requiresGrad ? x.gradPointer() : nil  // created here, not by two cores at once
        Parallel.forEachChunk(batch, grain: 1) { chunk, images in
            let cols = Tensor(uninitialized: weight.requiresGrad ? [k, group * plane] : [0])
            let dy = Tensor(uninitialized: [outC, group * plane])
            let dcols = Tensor(uninitialized: dx != nil ? [k, group * plane] : [0])
            for start in Swift.stride(from: images.lowerBound, to: images.upperBound, by: group) {
                let g = min(group, images.upperBound - start)
                for i in 0..<g {  // (g, O, plane) → (O, g·plane)
                    for o in 0..<outC {
                        copyFloats(gy + ((start + i) * outC + o) * plane, dy.data + o * g * plane + i * plane, plane)
                    }
                }
                if let dW {  // dW (O, k) += dY_g (O, g·plane) · colsᵀ (g·plane, k)
                    geo.im2col(x.data + start * inImage, images: g, cols.data)
                    sgemm(false, true, m: outC, n: k, k: g * plane, dy.data, cols.data, beta: 1, dW.data + chunk * outC * k)
                }
                if let dx {  // dcols (k, g·plane) = Wᵀ (k, O) · dY_g
                    sgemm(true, false, m: k, n: g * plane, k: outC, weight.data, dy.data, beta: 0, dcols.data)
                    geo.col2im(dcols.data, images: g, dx + start * inImage)
                }
                if let db {
                    for o in 0..<outC { db.data[chunk * outC + o] += rowSum(dy.data + o * g * plane, g * plane) }
                }
            }
        }
        for c in 0..<chunks {
            if let dW { accumulate(dW.data + c * outC * k, into: weight.gradPointer(), count: outC * k) }
            if let db, let bias { accumulate(db.data + c * outC, into: bias.gradPointer(), count: outC) }
        }
    }
    return y
}

/// conv2d on oneDNN's kernels, which read our NCHW operands reordered into their blocked layouts.
/// As on im2col, each core takes a run of the batch's images: oneDNN runs single-threaded inside
/// it, and the weight gradient's per-core parts are added in core order. The forward's reordered
/// input serves the weight gradient, and one reordered dy both gradients, where the layouts agree.
private func conv2dOneDNN(_ x: Tensor, weight: Tensor, geo: ConvGeometry) -> Tensor {
    let (batch, outC) = (x.shape[0], weight.shape[0])
    let (inImage, outImage, weights) = (geo.channels * geo.height * geo.width, outC * geo.outPlane, weight.count)
    func kernels(_ images: Range<Int>) -> OneDNNConvolution {
        OneDNNConvolution.kernels(.init(images: images.count, channels: geo.channels, height: geo.height, width: geo.width,
                                        outChannels: outC, kernelH: geo.kernelH, kernelW: geo.kernelW,
                                        stride: geo.stride, padding: geo.padding))
    }
    let flopsPerImage = 2 * outImage * geo.columnRows  // per pass: forward, to the input, to the weights
    let y = Tensor(uninitialized: [batch, outC, geo.outH, geo.outW])
    let kept = KeptInputs(Parallel.chunkCount(batch, grain: 1), keeping: (x.requiresGrad || weight.requiresGrad) && Autograd.isEnabled)
    Parallel.forEachChunk(batch, grain: 1) { chunk, images in
        MatrixFLOPs.add(flopsPerImage * images.count)
        let (k, stream) = (kernels(images).forward, OneDNNStream())
        let staged = [k.stage(0, x.data + images.lowerBound * inImage, on: stream), k.stage(1, weight.data, on: stream)]
        k.run(staged, into: y.data + images.lowerBound * outImage, adding: false, on: stream)
        kept.keep(staged[0], chunk: chunk, images: images)
    }
    y.record([x, weight]) { y in
        let gy = y.grad!.data
        let dx = x.requiresGrad ? x.gradientTarget() : nil  // created here, not by two cores at once
        let chunks = Parallel.chunkCount(batch, grain: 1)
        let dW = weight.requiresGrad ? Tensor(uninitialized: [chunks, weights]) : nil
        Parallel.forEachChunk(batch, grain: 1) { chunk, images in
            MatrixFLOPs.add(flopsPerImage * images.count * ((dx != nil ? 1 : 0) + (dW != nil ? 1 : 0)))
            let (k, stream, start) = (kernels(images), OneDNNStream(), images.lowerBound)
            let dy = gy + start * outImage
            var stagedDy: OneDNNStaged?
            if let dx {
                let staged = [k.backwardData.stage(0, dy, on: stream), k.backwardData.stage(1, weight.data, on: stream)]
                k.backwardData.run(staged, into: dx.pointer + start * inImage, adding: dx.adds, on: stream)
                stagedDy = staged[0]
            }
            if let dW {
                let w = k.backwardWeights
                let staged = [w.stage(0, x.data + start * inImage, reusing: kept.input(chunk: chunk, images: images), on: stream),
                              w.stage(1, dy, reusing: stagedDy, on: stream)]
                w.run(staged, into: dW.data + chunk * weights, adding: false, on: stream)
            }
        }
        if let dW {
            let target = weight.gradientTarget()
            if !target.adds { copyFloats(dW.data, target.pointer, weights) }
            for c in (target.adds ? 0 : 1)..<chunks { accumulate(dW.data + c * weights, into: target.pointer, count: weights) }
        }
    }
    return y
}

/// Each core's reordered forward input with its images, kept for the weight gradient (each core
/// writes its own slot); the backward reuses one only for the same images.
private final class KeptInputs: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<(staged: OneDNNStaged, images: Range<Int>)?>
    private let keeping: Bool

    init(_ chunks: Int, keeping: Bool) {
        (slots, self.keeping) = (.allocate(capacity: chunks), keeping)
        slots.initialize(repeating: nil)
    }

    deinit { slots.deinitialize(); slots.deallocate() }

    func keep(_ staged: OneDNNStaged, chunk: Int, images: Range<Int>) {
        if keeping && chunk < slots.count { slots[chunk] = (staged, images) }
    }

    func input(chunk: Int, images: Range<Int>) -> OneDNNStaged? {
        guard chunk < slots.count, let slot = slots[chunk], slot.images == images else { return nil }
        return slot.staged
    }
}

// Inline copies for the short runs of im2col and the reshuffles: a call into libc's memmove or
// memset per 16–200 floats cost more than the copy itself (measured: half of im2col's time).

/// dst[i] = src[i], i < n
@inline(__always)
func copyFloats(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i &+ vecWidth <= n { store(load(src + i), dst + i); i &+= vecWidth }
    while i < n { dst[i] = src[i]; i &+= 1 }
}

/// dst[i] = 0, i < n
@inline(__always)
func fillZeros(_ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    var i = 0
    while i &+ vecWidth <= n { store(Vec(), dst + i); i &+= vecWidth }
    while i < n { dst[i] = 0; i &+= 1 }
}

/// dst[i] = src[i] + c
@inline(__always)
func addConstantCopy(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ c: Float, _ n: Int) {
    let cv = Vec(repeating: c)
    var i = 0
    while i &+ vecWidth <= n { store(load(src + i) + cv, dst + i); i &+= vecWidth }
    while i < n { dst[i] = src[i] + c; i &+= 1 }
}
