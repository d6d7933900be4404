// A convolution and the BatchNorm after it at evaluation (running statistics), with an optional
// residual and ReLU, as one kernel: what a ResNet's evaluation forward runs (the DeiT teacher's
// forward inside every distilled step). BatchNorm folds into the convolution,
//   s = γ/√(σ² + ε),   W′[o] = s[o]·W[o],   b′ = β − s·μ,
//   y = relu(conv(x, W′) + b′ + residual),
// then, for ResNet's stem, an optional k×k max-pool of stride k (on oneDNN it reads the kernel's
// layout, so the unpooled output never comes back to NCHW). oneDNN's pool passes over a NaN
// where ours keeps one in a window's first cell; after the ReLU (the stem's) there is none.
// On oneDNN the bias, the residual (a sum post-op) and the ReLU run inside the convolution's
// kernel; on im2col the ops run in turn. No gradient: for evaluation without a graph only.

public func convBatchNormForInference(_ x: Tensor, weight: Tensor, stride: Int, padding: Int, bnWeight: Tensor, bnBias: Tensor,
                                      runningMean: Tensor, runningVar: Tensor, eps: Float = 1e-5,
                                      residual: Tensor? = nil, relu applyReLU: Bool, maxPool: Int? = nil) -> Tensor {
    let op = "convBatchNormForInference"
    precondition(!Autograd.isEnabled, "\(op): evaluation without a graph only (call it inside withNoGrad)")
    guard weight.rank == 4 else { shapeError(op, "expects weight (O, C, kh, kw), got \(weight.shape)") }
    let geo = ConvGeometry(input: x.shape, kernelH: weight.shape[2], kernelW: weight.shape[3], stride: stride, padding: padding, op: op)
    let (batch, outC) = (x.shape[0], weight.shape[0])
    guard weight.shape[1] == geo.channels, [bnWeight, bnBias, runningMean, runningVar].allSatisfy({ $0.shape == [outC] }) else {
        shapeError(op, "input \(x.shape), weight \(weight.shape) and BatchNorm parameters of \(bnWeight.shape) do not fit")
    }
    if let residual, residual.shape != [batch, outC, geo.outH, geo.outW] {
        shapeError(op, "residual \(residual.shape) does not fit the output [\(batch), \(outC), \(geo.outH), \(geo.outW)]")
    }
    if let maxPool, maxPool < 2 { shapeError(op, "a max-pool needs a side of 2 or more, got \(maxPool)") }
    let folded = Tensor(uninitialized: weight.shape), bias = Tensor(uninitialized: [outC])
    let perOutput = weight.count / outC
    for o in 0..<outC {
        let s = bnWeight.data[o] / (runningVar.data[o] + eps).squareRoot()
        bias.data[o] = bnBias.data[o] - s * runningMean.data[o]
        for i in 0..<perOutput { folded.data[o * perOutput + i] = s * weight.data[o * perOutput + i] }
    }
    guard ConvolutionEngine.current == .oneDNN else {
        var y = conv2d(x, weight: folded, bias: bias, stride: stride, padding: padding)
        if let residual { y = y + residual }
        if applyReLU { y = relu(y) }
        return maxPool.map { maxPool2d(y, kernel: $0) } ?? y
    }
    // oneDNN pools inside the kernel where the side divides the output; otherwise the pool runs after.
    if let maxPool, geo.outH % maxPool != 0 || geo.outW % maxPool != 0 {
        return maxPool2d(convBatchNormForInference(x, weight: weight, stride: stride, padding: padding, bnWeight: bnWeight, bnBias: bnBias,
                                                   runningMean: runningMean, runningVar: runningVar, eps: eps, residual: residual,
                                                   relu: applyReLU), kernel: maxPool)
    }
    let side = maxPool ?? 1
    // Per image: the input, the convolution's output (and the residual's), and y (pooled or not).
    let (inImage, convImage) = (geo.channels * geo.height * geo.width, outC * geo.outPlane)
    let outImage = convImage / (side * side)
    let y = Tensor(uninitialized: [batch, outC, geo.outH / side, geo.outW / side])
    Parallel.forEachChunk(batch, grain: 1) { images in
        MatrixFLOPs.add(2 * convImage * geo.columnRows * images.count)
        let key = OneDNNFusedConvolution.Key(
            shape: .init(images: images.count, channels: geo.channels, height: geo.height, width: geo.width, outChannels: outC,
                         kernelH: geo.kernelH, kernelW: geo.kernelW, stride: stride, padding: padding),
            residual: residual != nil, relu: applyReLU, maxPool: maxPool)
        let (kernels, stream) = (OneDNNFusedConvolution.kernels(key), OneDNNStream())
        let k = kernels.kernel
        let staged = [k.stage(0, x.data + images.lowerBound * inImage, on: stream), k.stage(1, folded.data, on: stream),
                      k.stage(2, bias.data, on: stream)]
        let start = residual.map { $0.data + images.lowerBound * convImage }
        if let pool = kernels.pool {  // its input is the convolution's output, in the convolution's layout
            let unpooled = k.runKeepingLayout(staged, startingFrom: start, on: stream)
            pool.run([unpooled], into: y.data + images.lowerBound * outImage, adding: false, on: stream)
        } else {
            k.run(staged, into: y.data + images.lowerBound * outImage, adding: false, startingFrom: start, on: stream)
        }
    }
    return y
}
