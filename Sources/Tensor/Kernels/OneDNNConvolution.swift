// The ConvNet's convolutions on oneDNN's direct kernels (OneDNN.swift: layouts and reorders),
// chosen by measurement for its shapes (3×3 and 1×1, 32–128 channels, 28² to 4²; papers/notebook.md,
// "The ConvNet on oneDNN"): the training kernels (forward, backward to the input, backward to the
// weights) and the evaluation kernel that folds BatchNorm in (FusedConv.swift).
import CDNNL

/// A convolution's geometry on one core's run of images (no bias).
struct OneDNNConvolutionShape: Hashable, Sendable {
    let images, channels, height, width, outChannels, kernelH, kernelW, stride, padding: Int

    var source: [Int] { [images, channels, height, width] }
    var weights: [Int] { [outChannels, channels, kernelH, kernelW] }
    var destination: [Int] {
        [images, outChannels, (height + 2 * padding - kernelH) / stride + 1, (width + 2 * padding - kernelW) / stride + 1]
    }
    var strides: [Int64] { [Int64(stride), Int64(stride)] }
    var paddings: [Int64] { [Int64(padding), Int64(padding)] }

    /// A primitive descriptor of `desc` (a convolution descriptor) with `attr`, after `hint`.
    func primitiveDesc(_ desc: inout dnnl_convolution_desc_t, _ attr: dnnl_primitive_attr_t?,
                       hint: const_dnnl_primitive_desc_t? = nil) -> dnnl_primitive_desc_t {
        var pd: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_primitive_desc_create(&pd, &desc, attr, OneDNN.engine, hint), "primitive_desc_create (convolution \(self))")
        return pd!
    }
}

/// A convolution's training kernels for one shape.
final class OneDNNConvolution: Sendable {
    let forward: OneDNNKernel, backwardData: OneDNNKernel, backwardWeights: OneDNNKernel

    private static let cache = OneDNNCache<OneDNNConvolutionShape, OneDNNConvolution>()

    /// The kernels of this shape, built on first use.
    static func kernels(_ shape: OneDNNConvolutionShape) -> OneDNNConvolution { cache.value(shape, OneDNNConvolution.init) }

    private init(_ s: OneDNNConvolutionShape) {
        OneDNN.singleThreaded()
        let (src, weights, dst) = (OneDNN.plain(s.source), OneDNN.plain(s.weights), OneDNN.plain(s.destination))
        var (anySrc, anyWeights, anyDst) = (OneDNN.any(s.source), OneDNN.any(s.weights), OneDNN.any(s.destination))
        let attr = OneDNN.attributes()
        defer { dnnl_primitive_attr_destroy(attr) }
        /// The kernel of the convolution descriptor `initialize` fills (after the forward's, `hint`).
        func kernel(_ what: String, hint: const_dnnl_primitive_desc_t? = nil,
                    _ initialize: (inout dnnl_convolution_desc_t) -> dnnl_status_t,
                    _ arguments: [(role: Int32, query: dnnl_query_t, index: Int32, plain: dnnl_memory_desc_t)])
            -> (kernel: OneDNNKernel, desc: dnnl_primitive_desc_t) {
            var desc = dnnl_convolution_desc_t()
            OneDNN.check(initialize(&desc), "convolution descriptor (\(what) \(s))")
            let pd = s.primitiveDesc(&desc, attr, hint: hint)
            return (OneDNNKernel(pd, what: "convolution \(what) \(s)", arguments: arguments), pd)
        }
        let (stride, padding) = (s.strides, s.paddings)
        let forwardKernel = kernel("forward", {
            dnnl_convolution_forward_desc_init(&$0, dnnl_forward_training, dnnl_convolution_direct, &anySrc, &anyWeights, nil, &anyDst,
                                               stride, padding, padding)
        }, [(DNNL_ARG_SRC, dnnl_query_src_md, 0, src), (DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, weights),
            (DNNL_ARG_DST, dnnl_query_dst_md, 0, dst)])
        defer { dnnl_primitive_desc_destroy(forwardKernel.desc) }
        let dataKernel = kernel("backward to the input", hint: forwardKernel.desc, {
            dnnl_convolution_backward_data_desc_init(&$0, dnnl_convolution_direct, &anySrc, &anyWeights, &anyDst, stride, padding, padding)
        }, [(DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, dst), (DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, weights),
            (DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, 0, src)])
        let weightsKernel = kernel("backward to the weights", hint: forwardKernel.desc, {
            dnnl_convolution_backward_weights_desc_init(&$0, dnnl_convolution_direct, &anySrc, &anyWeights, nil, &anyDst,
                                                        stride, padding, padding)
        }, [(DNNL_ARG_SRC, dnnl_query_src_md, 0, src), (DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, 0, dst),
            (DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, 0, weights)])
        dnnl_primitive_desc_destroy(dataKernel.desc)
        dnnl_primitive_desc_destroy(weightsKernel.desc)
        (forward, backwardData, backwardWeights) = (forwardKernel.kernel, dataKernel.kernel, weightsKernel.kernel)
    }
}

/// The evaluation forward of convolution, BatchNorm folded into its weights and a bias, an
/// optional residual and ReLU, as one kernel: y = relu(conv(x, W′) + b′ + residual); then an
/// optional max-pool (ResNet's stem), which reads the kernel's layout without a reorder.
final class OneDNNFusedConvolution: Sendable {
    let kernel: OneDNNKernel, pool: OneDNNKernel?

    struct Key: Hashable, Sendable { let shape: OneDNNConvolutionShape, residual: Bool, relu: Bool, maxPool: Int? }

    private static let cache = OneDNNCache<Key, OneDNNFusedConvolution>()

    static func kernels(_ key: Key) -> OneDNNFusedConvolution { cache.value(key, OneDNNFusedConvolution.init) }

    private init(_ key: Key) {
        OneDNN.singleThreaded()
        let s = key.shape
        var (anySrc, anyWeights, bias, anyDst) = (OneDNN.any(s.source), OneDNN.any(s.weights), OneDNN.plain([s.outChannels]),
                                                  OneDNN.any(s.destination))
        // The training kernels' activation layouts (channel blocks): oneDNN would pick channels-last
        // for inference, whose reorders from and to NCHW cost more (measured on the ConvNet's forward).
        var (src, dst) = (anySrc, anyDst)
        do {
            var desc = dnnl_convolution_desc_t()
            OneDNN.check(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &anySrc, &anyWeights,
                                                            nil, &anyDst, s.strides, s.paddings, s.paddings), "convolution_forward_desc_init")
            let pd = s.primitiveDesc(&desc, nil)
            defer { dnnl_primitive_desc_destroy(pd) }
            src = OneDNN.layout(of: pd, dnnl_query_src_md, what: "convolution forward \(s)")
            dst = OneDNN.layout(of: pd, dnnl_query_dst_md, what: "convolution forward \(s)")
        }
        let attr = OneDNN.attributes((key.residual ? [{ dnnl_post_ops_append_sum($0, 1) }] : [])
                                     + (key.relu ? [{ dnnl_post_ops_append_eltwise($0, 1, dnnl_eltwise_relu, 0, 0) }] : []))
        defer { dnnl_primitive_attr_destroy(attr) }
        var desc = dnnl_convolution_desc_t()
        OneDNN.check(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &anyWeights,
                                                        &bias, &dst, s.strides, s.paddings, s.paddings), "convolution_forward_desc_init")
        let pd = s.primitiveDesc(&desc, attr)
        defer { dnnl_primitive_desc_destroy(pd) }
        let kernel = OneDNNKernel(pd, what: "fused convolution \(key)",
                              arguments: [(DNNL_ARG_SRC, dnnl_query_src_md, 0, OneDNN.plain(s.source)),
                                          (DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, OneDNN.plain(s.weights)),
                                          (DNNL_ARG_BIAS, dnnl_query_weights_md, 1, bias),
                                          (DNNL_ARG_DST, dnnl_query_dst_md, 0, OneDNN.plain(s.destination))])
        pool = key.maxPool.map { side in
            let unpooled = s.destination
            let pooled = [unpooled[0], unpooled[1], unpooled[2] / side, unpooled[3] / side]
            var (input, anyPooled) = (kernel.outputLayout, OneDNN.any(pooled))
            let (window, zeros): ([Int64], [Int64]) = ([Int64(side), Int64(side)], [0, 0])
            var poolDesc = dnnl_pooling_desc_t(), poolPD: dnnl_primitive_desc_t?
            OneDNN.check(dnnl_pooling_forward_desc_init(&poolDesc, dnnl_forward_inference, dnnl_pooling_max, &input, &anyPooled,
                                                        window, window, zeros, zeros), "pooling_forward_desc_init")
            let poolAttr = OneDNN.attributes()
            defer { dnnl_primitive_attr_destroy(poolAttr) }
            OneDNN.check(dnnl_primitive_desc_create(&poolPD, &poolDesc, poolAttr, OneDNN.engine, nil), "primitive_desc_create (max-pool \(key))")
            defer { dnnl_primitive_desc_destroy(poolPD) }
            precondition(OneDNN.equal(OneDNN.layout(of: poolPD!, dnnl_query_src_md, what: "max-pool"), input),
                         "oneDNN's max-pool must read the convolution's output as it lies")
            return OneDNNKernel(poolPD!, what: "max-pool \(key)", arguments: [(DNNL_ARG_SRC, dnnl_query_src_md, 0, input),  // read as the convolution left it
                                                                              (DNNL_ARG_DST, dnnl_query_dst_md, 0, OneDNN.plain(pooled))])
        }
        self.kernel = kernel
    }
}
