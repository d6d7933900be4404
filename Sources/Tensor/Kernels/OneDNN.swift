// Convolutions on oneDNN (Debian's libdnnl 2.x: Intel's kernels, the ones PyTorch's CPU
// convolutions run on), chosen by measurement for the ConvNet teacher's shapes (3×3 and 1×1, 32–128
// channels, 28² to 4²; papers/notebook.md, "The ConvNet on oneDNN").
//
// Our tensors stay NCHW. oneDNN's direct kernels want channel-blocked layouts (nChw16c with
// AVX-512, nChw8c with AVX2), so each call reorders its operands into the layout the kernel chose
// and its result back; a result that is a gradient is added on the way back (a reorder with a
// sum post-op), as every op adds into its inputs' gradients.
//
// The primitives of a geometry are built once and kept. Each call runs on a stream of its own
// with its own scratchpad, so two threads may run the same primitive. oneDNN runs single-threaded:
// our pool splits the batch over the cores, as for im2col. (Debian builds oneDNN on OpenMP, whose
// idle threads spin after each call and took the cores from our next op: measured, the ConvNet's
// step ran 1.2× faster with OMP_WAIT_POLICY=passive than without, and a team of one has no
// threads to spin.)
import CDNNL
import Foundation
import Synchronization

enum OneDNN {
    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create")
        return engine!
    }()

    static func check(_ status: dnnl_status_t, _ call: @autoclosure () -> String) {
        guard status != dnnl_success else { return }
        fatalError("oneDNN: \(call()) failed: \(String(cString: dnnl_status2str(status)))")
    }

    /// The plain row-major layout of `dims` (NCHW for activations, OIHW for weights, a bias).
    static func plain(_ dims: [Int]) -> dnnl_memory_desc_t {
        var desc = dnnl_memory_desc_t()
        let dims64 = dims.map(Int64.init)
        check(dnnl_memory_desc_init_by_tag(&desc, Int32(dims.count), dims64, dnnl_f32, dims.count == 1 ? dnnl_a : dnnl_abcd),
              "memory_desc_init_by_tag")
        return desc
    }

    /// `dims` in whatever layout the kernel prefers.
    static func any(_ dims: [Int]) -> dnnl_memory_desc_t {
        var desc = dnnl_memory_desc_t()
        let dims64 = dims.map(Int64.init)
        check(dnnl_memory_desc_init_by_tag(&desc, Int32(dims.count), dims64, dnnl_f32, dnnl_format_tag_any), "memory_desc_init_by_tag")
        return desc
    }

    /// oneDNN on the calling thread alone (OpenMP's team size is each thread's own setting).
    static func singleThreaded() { omp_set_num_threads(1) }
}

/// What runs the convolutions, for the bench's header.
public enum OneDNNInfo {
    /// oneDNN's version and the instruction set its kernels use on this CPU (ONEDNN_MAX_CPU_ISA
    /// caps it: `make bench AVX2=1` sets AVX2).
    public static var version: String {
        let v = dnnl_version().pointee
        let isa = ProcessInfo.processInfo.environment["ONEDNN_MAX_CPU_ISA"].map { ", ONEDNN_MAX_CPU_ISA=\($0)" } ?? ""
        return "\(v.major).\(v.minor).\(v.patch)\(isa)"
    }
}

/// A tensor's two layouts: ours (plain) and the kernel's, with the reorders between them that
/// its role needs (an input goes to the kernel's layout, an output comes back, written or added).
final class OneDNNOperand: @unchecked Sendable {
    var plain: dnnl_memory_desc_t, kernel: dnnl_memory_desc_t
    let bytes: Int
    private let toKernel: dnnl_primitive_t?   // nil when the kernel reads the plain layout
    private let toPlain: dnnl_primitive_t?, addToPlain: dnnl_primitive_t?  // an output's

    init(plain: dnnl_memory_desc_t, kernel: dnnl_memory_desc_t, isOutput: Bool) {
        (self.plain, self.kernel) = (plain, kernel)
        bytes = dnnl_memory_desc_get_size(&self.kernel)
        toKernel = dnnl_memory_desc_equal(&self.plain, &self.kernel) != 0 ? nil : Self.reorder(self.plain, self.kernel, adding: false)
        toPlain = isOutput ? Self.reorder(self.kernel, self.plain, adding: false) : nil
        addToPlain = isOutput ? Self.reorder(self.kernel, self.plain, adding: true) : nil
    }

    deinit {
        for reorder in [toKernel, toPlain, addToPlain] { if let reorder { dnnl_primitive_destroy(reorder) } }
    }

    /// A reorder from one layout to another; `adding` adds to what the destination holds.
    private static func reorder(_ from: dnnl_memory_desc_t, _ to: dnnl_memory_desc_t, adding: Bool) -> dnnl_primitive_t {
        var (from, to) = (from, to)
        var attr: dnnl_primitive_attr_t?, postOps: dnnl_post_ops_t?
        OneDNN.check(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attr) }
        if adding {
            OneDNN.check(dnnl_post_ops_create(&postOps), "post_ops_create")
            defer { dnnl_post_ops_destroy(postOps) }
            OneDNN.check(dnnl_post_ops_append_sum(postOps, 1), "post_ops_append_sum")
            OneDNN.check(dnnl_primitive_attr_set_post_ops(attr, postOps), "primitive_attr_set_post_ops")
        }
        var desc: dnnl_primitive_desc_t?, primitive: dnnl_primitive_t?
        OneDNN.check(dnnl_reorder_primitive_desc_create(&desc, &from, OneDNN.engine, &to, OneDNN.engine, attr), "reorder_primitive_desc_create")
        defer { dnnl_primitive_desc_destroy(desc) }
        OneDNN.check(dnnl_primitive_create(&primitive, desc), "primitive_create (reorder)")
        return primitive!
    }

    /// The operand in the kernel's layout: our buffer itself, or a reordered copy.
    func staged(_ plainData: UnsafeMutablePointer<Float>, stream: dnnl_stream_t) -> OneDNNStaged {
        guard let toKernel else { return OneDNNStaged(layout: kernel, data: UnsafeMutableRawPointer(plainData), copy: nil) }
        let copy = Tensor(uninitialized: [bytes / MemoryLayout<Float>.stride])
        run(toKernel, from: (plain, UnsafeMutableRawPointer(plainData)), to: (kernel, UnsafeMutableRawPointer(copy.data)), stream)
        return OneDNNStaged(layout: kernel, data: UnsafeMutableRawPointer(copy.data), copy: copy)
    }

    /// Our buffer written into `destination` in the kernel's layout.
    func write(_ plainData: UnsafeMutablePointer<Float>, intoKernelLayout destination: UnsafeMutableRawPointer, stream: dnnl_stream_t) {
        guard let toKernel else {
            return destination.copyMemory(from: plainData, byteCount: bytes)
        }
        run(toKernel, from: (plain, UnsafeMutableRawPointer(plainData)), to: (kernel, destination), stream)
    }

    /// The kernel's result, in the kernel's layout at `data`, written or added into `target`.
    func backToPlain(_ data: UnsafeMutableRawPointer, into target: UnsafeMutablePointer<Float>, adding: Bool, stream: dnnl_stream_t) {
        run((adding ? addToPlain : toPlain)!, from: (kernel, data), to: (plain, UnsafeMutableRawPointer(target)), stream)
    }

    private func run(_ reorder: dnnl_primitive_t, from: (dnnl_memory_desc_t, UnsafeMutableRawPointer),
                     to: (dnnl_memory_desc_t, UnsafeMutableRawPointer), _ stream: dnnl_stream_t) {
        let source = OneDNNMemory(from.0, from.1), destination = OneDNNMemory(to.0, to.1)
        var args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: source.memory), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: destination.memory)]
        OneDNN.check(dnnl_primitive_execute(reorder, stream, 2, &args), "primitive_execute (reorder)")
    }
}

/// A oneDNN memory object over our buffer (no copy), destroyed with this value.
final class OneDNNMemory {
    let memory: dnnl_memory_t

    init(_ desc: dnnl_memory_desc_t, _ data: UnsafeMutableRawPointer) {
        var desc = desc, memory: dnnl_memory_t?
        OneDNN.check(dnnl_memory_create(&memory, &desc, OneDNN.engine, data), "memory_create")
        self.memory = memory!
    }

    deinit { dnnl_memory_destroy(memory) }
}

/// An operand's data in the layout a kernel reads: our buffer itself, or a reordered copy that
/// this value keeps alive (a forward's input, kept for the weight gradient).
struct OneDNNStaged: @unchecked Sendable {
    var layout: dnnl_memory_desc_t
    let data: UnsafeMutableRawPointer
    let copy: Tensor?
}

/// A CPU stream for one call, on the calling thread alone (OpenMP's team size is each thread's
/// own setting).
final class OneDNNStream {
    let stream: dnnl_stream_t

    init() {
        OneDNN.singleThreaded()
        var stream: dnnl_stream_t?
        OneDNN.check(dnnl_stream_create(&stream, OneDNN.engine, dnnl_stream_default_flags.rawValue), "stream_create")
        self.stream = stream!
    }

    deinit {
        dnnl_stream_wait(stream)
        dnnl_stream_destroy(stream)
    }
}

/// One oneDNN primitive with its operands: inputs staged from our layout, one output written or
/// added into it.
final class OneDNNKernel: @unchecked Sendable {
    private let primitive: dnnl_primitive_t
    private let inputs: [(arg: Int32, operand: OneDNNOperand)]
    private let output: (arg: Int32, operand: OneDNNOperand)
    private var scratchpad: dnnl_memory_desc_t

    /// The primitive of `desc` (the caller keeps ownership); `arguments` give each argument's
    /// oneDNN role, the query of the layout the kernel chose, and our plain layout; the last one
    /// is the output.
    convenience init(_ desc: const_dnnl_primitive_desc_t, arguments: [(arg: Int32, query: dnnl_query_t, plain: dnnl_memory_desc_t)]) {
        self.init(desc, arguments: arguments.map { ($0.arg, $0.query, 0, $0.plain) })
    }

    /// As above, with the index of each argument's layout among those its query answers (a bias
    /// is the second of a convolution's weights).
    init(_ desc: const_dnnl_primitive_desc_t, arguments: [(arg: Int32, query: dnnl_query_t, index: Int32, plain: dnnl_memory_desc_t)]) {
        var primitive: dnnl_primitive_t?
        OneDNN.check(dnnl_primitive_create(&primitive, desc), "primitive_create")
        self.primitive = primitive!
        let operands = arguments.enumerated().map { i, a in
            (arg: a.arg, operand: OneDNNOperand(plain: a.plain, kernel: dnnl_primitive_desc_query_md(desc, a.query, a.index).pointee,
                                                isOutput: i == arguments.count - 1))
        }
        (inputs, output) = (Array(operands.dropLast()), operands.last!)
        scratchpad = dnnl_primitive_desc_query_md(desc, dnnl_query_scratchpad_md, 0).pointee
    }

    deinit { dnnl_primitive_destroy(primitive) }

    /// Input `index` (in the order of the arguments) from our layout into this kernel's.
    func stage(_ index: Int, _ plainData: UnsafeMutablePointer<Float>, on stream: OneDNNStream) -> OneDNNStaged {
        inputs[index].operand.staged(plainData, stream: stream.stream)
    }

    /// Input `index` as this kernel reads it: `staged` if another kernel staged it the same way.
    func stage(_ index: Int, _ plainData: UnsafeMutablePointer<Float>, reusing staged: OneDNNStaged?, on stream: OneDNNStream) -> OneDNNStaged {
        if var staged, dnnl_memory_desc_equal(&staged.layout, &inputs[index].operand.kernel) != 0 { return staged }
        return stage(index, plainData, on: stream)
    }

    /// Runs the primitive on staged inputs, writing or adding its result into `outputData`.
    /// `startingFrom` fills the result first (for a kernel whose sum post-op adds to it).
    func run(_ staged: [OneDNNStaged], into outputData: UnsafeMutablePointer<Float>, adding: Bool,
             startingFrom initial: UnsafeMutablePointer<Float>? = nil, on stream: OneDNNStream) {
        var memories = staged.map { OneDNNMemory($0.layout, $0.data) }
        let result = Tensor(uninitialized: [output.operand.bytes / MemoryLayout<Float>.stride])
        if let initial { output.operand.write(initial, intoKernelLayout: UnsafeMutableRawPointer(result.data), stream: stream.stream) }
        memories.append(OneDNNMemory(output.operand.kernel, UnsafeMutableRawPointer(result.data)))
        let pad = Tensor(uninitialized: [dnnl_memory_desc_get_size(&scratchpad) / MemoryLayout<Float>.stride + 1])
        memories.append(OneDNNMemory(scratchpad, UnsafeMutableRawPointer(pad.data)))
        let roles = inputs.map(\.arg) + [output.arg, DNNL_ARG_SCRATCHPAD]
        var args = zip(roles, memories).map { dnnl_exec_arg_t(arg: $0, memory: $1.memory) }
        OneDNN.check(dnnl_primitive_execute(primitive, stream.stream, Int32(args.count), &args), "primitive_execute")
        output.operand.backToPlain(UnsafeMutableRawPointer(result.data), into: outputData, adding: adding, stream: stream.stream)
        OneDNN.check(dnnl_stream_wait(stream.stream), "stream_wait")
        withExtendedLifetime((staged, memories, pad, result)) {}
    }
}

/// A convolution's three kernels for one geometry: forward, backward to the input, backward to
/// the weights (no bias: the ConvNet's convolutions have none).
final class OneDNNConvolution: @unchecked Sendable {
    let forward: OneDNNKernel, backwardData: OneDNNKernel, backwardWeights: OneDNNKernel

    struct Key: Hashable { let batch, channels, height, width, outChannels, kernelH, kernelW, stride, padding: Int }

    private static let cache = Mutex<[Key: OneDNNConvolution]>([:])

    /// The kernels of this geometry, built on first use.
    static func kernels(_ key: Key) -> OneDNNConvolution {
        if let known = cache.withLock({ $0[key] }) { return known }
        let made = OneDNNConvolution(key)
        return cache.withLock { cache in
            if let known = cache[key] { return known }
            cache[key] = made
            return made
        }
    }

    private init(_ k: Key) {
        OneDNN.singleThreaded()
        let outH = (k.height + 2 * k.padding - k.kernelH) / k.stride + 1, outW = (k.width + 2 * k.padding - k.kernelW) / k.stride + 1
        let (srcDims, weightDims, dstDims) = ([k.batch, k.channels, k.height, k.width], [k.outChannels, k.channels, k.kernelH, k.kernelW],
                                             [k.batch, k.outChannels, outH, outW])
        let (src, weights, dst) = (OneDNN.plain(srcDims), OneDNN.plain(weightDims), OneDNN.plain(dstDims))
        var (anySrc, anyWeights, anyDst) = (OneDNN.any(srcDims), OneDNN.any(weightDims), OneDNN.any(dstDims))
        let (strides, padding): ([Int64], [Int64]) = ([Int64(k.stride), Int64(k.stride)], [Int64(k.padding), Int64(k.padding)])
        var attr: dnnl_primitive_attr_t?
        OneDNN.check(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attr) }
        OneDNN.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
        func primitiveDesc(_ desc: inout dnnl_convolution_desc_t, hint: const_dnnl_primitive_desc_t?) -> dnnl_primitive_desc_t {
            var pd: dnnl_primitive_desc_t?
            OneDNN.check(dnnl_primitive_desc_create(&pd, &desc, attr, OneDNN.engine, hint), "primitive_desc_create (convolution \(k))")
            return pd!
        }
        var desc = dnnl_convolution_desc_t()
        OneDNN.check(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &anySrc, &anyWeights, nil,
                                                        &anyDst, strides, padding, padding), "convolution_forward_desc_init")
        let forwardDesc = primitiveDesc(&desc, hint: nil)
        defer { dnnl_primitive_desc_destroy(forwardDesc) }
        forward = OneDNNKernel(forwardDesc, arguments: [(DNNL_ARG_SRC, dnnl_query_src_md, src), (DNNL_ARG_WEIGHTS, dnnl_query_weights_md, weights),
                                                        (DNNL_ARG_DST, dnnl_query_dst_md, dst)])
        OneDNN.check(dnnl_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &anySrc, &anyWeights, &anyDst,
                                                              strides, padding, padding), "convolution_backward_data_desc_init")
        let dataDesc = primitiveDesc(&desc, hint: forwardDesc)
        defer { dnnl_primitive_desc_destroy(dataDesc) }
        backwardData = OneDNNKernel(dataDesc, arguments: [(DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, dst),
                                                          (DNNL_ARG_WEIGHTS, dnnl_query_weights_md, weights),
                                                          (DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, src)])
        OneDNN.check(dnnl_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &anySrc, &anyWeights, nil, &anyDst,
                                                                 strides, padding, padding), "convolution_backward_weights_desc_init")
        let weightsDesc = primitiveDesc(&desc, hint: forwardDesc)
        defer { dnnl_primitive_desc_destroy(weightsDesc) }
        backwardWeights = OneDNNKernel(weightsDesc, arguments: [(DNNL_ARG_SRC, dnnl_query_src_md, src),
                                                                (DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, dst),
                                                                (DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, weights)])
    }
}

/// The evaluation forward of convolution, BatchNorm (folded into the weights and a bias), an
/// optional residual and ReLU, as one kernel: y = relu(conv(x, W′) + b′ + residual).
final class OneDNNFusedConvolution: @unchecked Sendable {
    let kernel: OneDNNKernel

    struct Key: Hashable { let geometry: OneDNNConvolution.Key, residual: Bool, relu: Bool }

    private static let cache = Mutex<[Key: OneDNNFusedConvolution]>([:])

    static func kernel(_ key: Key) -> OneDNNKernel {
        if let known = cache.withLock({ $0[key] }) { return known.kernel }
        let made = OneDNNFusedConvolution(key)
        return cache.withLock { cache in
            if let known = cache[key] { return known.kernel }
            cache[key] = made
            return made.kernel
        }
    }

    private init(_ key: Key) {
        OneDNN.singleThreaded()
        let k = key.geometry
        let outH = (k.height + 2 * k.padding - k.kernelH) / k.stride + 1, outW = (k.width + 2 * k.padding - k.kernelW) / k.stride + 1
        let (srcDims, weightDims, dstDims) = ([k.batch, k.channels, k.height, k.width], [k.outChannels, k.channels, k.kernelH, k.kernelW],
                                             [k.batch, k.outChannels, outH, outW])
        var (anySrc, anyWeights, anyBias, anyDst) = (OneDNN.any(srcDims), OneDNN.any(weightDims), OneDNN.plain([k.outChannels]),
                                                     OneDNN.any(dstDims))
        let (strides, padding): ([Int64], [Int64]) = ([Int64(k.stride), Int64(k.stride)], [Int64(k.padding), Int64(k.padding)])
        // The training kernels' activation layouts (channel blocks), whose reorders from and to
        // NCHW cost less than those of the channels-last layout oneDNN picks for inference.
        var (src, dst) = (anySrc, anyDst)
        do {
            var desc = dnnl_convolution_desc_t(), pd: dnnl_primitive_desc_t?
            OneDNN.check(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &anySrc, &anyWeights,
                                                            nil, &anyDst, strides, padding, padding), "convolution_forward_desc_init")
            OneDNN.check(dnnl_primitive_desc_create(&pd, &desc, nil, OneDNN.engine, nil), "primitive_desc_create")
            (src, dst) = (dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0).pointee, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0).pointee)
            dnnl_primitive_desc_destroy(pd)
        }
        var attr: dnnl_primitive_attr_t?, postOps: dnnl_post_ops_t?
        OneDNN.check(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attr) }
        OneDNN.check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
        OneDNN.check(dnnl_post_ops_create(&postOps), "post_ops_create")
        defer { dnnl_post_ops_destroy(postOps) }
        if key.residual { OneDNN.check(dnnl_post_ops_append_sum(postOps, 1), "post_ops_append_sum") }
        if key.relu { OneDNN.check(dnnl_post_ops_append_eltwise(postOps, 1, dnnl_eltwise_relu, 0, 0), "post_ops_append_eltwise") }
        OneDNN.check(dnnl_primitive_attr_set_post_ops(attr, postOps), "primitive_attr_set_post_ops")
        var desc = dnnl_convolution_desc_t(), pd: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &anyWeights,
                                                        &anyBias, &dst, strides, padding, padding), "convolution_forward_desc_init")
        OneDNN.check(dnnl_primitive_desc_create(&pd, &desc, attr, OneDNN.engine, nil), "primitive_desc_create (fused convolution \(key))")
        defer { dnnl_primitive_desc_destroy(pd) }
        kernel = OneDNNKernel(pd!, arguments: [(DNNL_ARG_SRC, dnnl_query_src_md, 0, OneDNN.plain(srcDims)),
                                               (DNNL_ARG_WEIGHTS, dnnl_query_weights_md, 0, OneDNN.plain(weightDims)),
                                               (DNNL_ARG_BIAS, dnnl_query_weights_md, 1, OneDNN.plain([k.outChannels])),
                                               (DNNL_ARG_DST, dnnl_query_dst_md, 0, OneDNN.plain(dstDims))])
    }
}
