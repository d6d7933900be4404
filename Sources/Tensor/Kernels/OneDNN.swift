// oneDNN (Debian's libdnnl 2.x: Intel's kernels, the ones PyTorch's CPU convolutions run on) as
// the core calls it: our tensors stay in their plain layouts, and each call reorders its operands
// into the layouts the kernel chose (channel blocks: nChw16c with AVX-512, nChw8c with AVX2) and
// its result back; a result that is a gradient is added on the way back (a reorder with a sum
// post-op), as every op adds into its inputs' gradients. OneDNNConvolution.swift builds the
// convolutions on this.
//
// Every primitive runs with a scratchpad of the call's own and on a stream of the call's own, so
// two threads may run one primitive at once. oneDNN runs single-threaded: our pool splits the
// work over the cores. (Debian builds oneDNN on OpenMP, whose idle threads spin after each call
// and took the cores from our next op: the ConvNet's step ran 1.2× faster with
// OMP_WAIT_POLICY=passive than without; a team of one has no threads to spin.)
import CDNNL
import Foundation
import Glibc
import Synchronization

enum OneDNN {
    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "engine_create")
        return engine!
    }()

    static func check(_ status: dnnl_status_t, _ call: @autoclosure () -> String) {
        guard status != dnnl_success else { return }
        fatalError("oneDNN: \(call()) failed: \(String(cString: dnnl_status2str(status)))")
    }

    /// The plain row-major layout of `dims` (NCHW for activations, OIHW for weights, a bias).
    static func plain(_ dims: [Int]) -> dnnl_memory_desc_t { layout(dims, dims.count == 1 ? dnnl_a : dnnl_abcd) }

    /// `dims` in whatever layout the kernel prefers.
    static func any(_ dims: [Int]) -> dnnl_memory_desc_t { layout(dims, dnnl_format_tag_any) }

    private static func layout(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var desc = dnnl_memory_desc_t()
        check(dnnl_memory_desc_init_by_tag(&desc, Int32(dims.count), dims.map(Int64.init), dnnl_f32, tag), "memory_desc_init_by_tag \(dims)")
        return desc
    }

    /// The layout a primitive descriptor answers to `query` (its `index`-th), named in the error.
    static func layout(of desc: const_dnnl_primitive_desc_t, _ query: dnnl_query_t, _ index: Int32 = 0, what: String) -> dnnl_memory_desc_t {
        guard let layout = dnnl_primitive_desc_query_md(desc, query, index) else {
            fatalError("oneDNN: \(what) has no layout for query \(query.rawValue), index \(index)")
        }
        return layout.pointee
    }

    static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        var (a, b) = (a, b)
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    static func bytes(_ desc: dnnl_memory_desc_t) -> Int {
        var desc = desc
        return dnnl_memory_desc_get_size(&desc)
    }

    /// Primitive attributes with a scratchpad the caller passes (so that concurrent calls never
    /// share oneDNN's own) and `postOps`.
    static func attributes(_ postOps: [(dnnl_post_ops_t) -> dnnl_status_t] = []) -> dnnl_primitive_attr_t {
        var attr: dnnl_primitive_attr_t?
        check(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
        check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
        if !postOps.isEmpty {
            var ops: dnnl_post_ops_t?
            check(dnnl_post_ops_create(&ops), "post_ops_create")
            defer { dnnl_post_ops_destroy(ops) }
            for append in postOps { check(append(ops!), "post_ops_append") }
            check(dnnl_primitive_attr_set_post_ops(attr, ops), "primitive_attr_set_post_ops")
        }
        return attr!
    }

    /// OpenMP's team size for the calling thread (each thread's own setting), looked up in the
    /// runtime libdnnl already loaded.
    private static let setThreads: (@convention(c) (Int32) -> Void)? = {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_set_num_threads").map { unsafeBitCast($0, to: (@convention(c) (Int32) -> Void).self) }
    }()

    /// oneDNN on the calling thread alone.
    static func singleThreaded() { setThreads?(1) }
}

/// What runs the ConvNet's convolutions, for the bench's header.
public enum OneDNNInfo {
    /// oneDNN's version and the instruction set its kernels use on this CPU (ONEDNN_MAX_CPU_ISA
    /// caps it: `make bench AVX2=1` sets AVX2).
    public static var version: String {
        let v = dnnl_version().pointee
        let isa: String = switch dnnl_get_effective_cpu_isa() {
        case dnnl_cpu_isa_avx512_core, dnnl_cpu_isa_avx512_core_vnni, dnnl_cpu_isa_avx512_core_bf16, dnnl_cpu_isa_avx512_core_amx: "AVX-512"
        case dnnl_cpu_isa_avx2, dnnl_cpu_isa_avx2_vnni: "AVX2"
        default: "ISA \(dnnl_get_effective_cpu_isa().rawValue)"
        }
        return "\(v.major).\(v.minor).\(v.patch), \(isa) kernels"
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

/// A CPU stream for one call, on the calling thread alone.
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

/// A primitive with its scratchpad's size: `run` passes it a scratchpad and its arguments.
final class OneDNNPrimitive: @unchecked Sendable {
    private let primitive: dnnl_primitive_t
    private let scratchpad: dnnl_memory_desc_t

    init(_ desc: const_dnnl_primitive_desc_t, what: String) {
        var primitive: dnnl_primitive_t?
        OneDNN.check(dnnl_primitive_create(&primitive, desc), "primitive_create (\(what))")
        self.primitive = primitive!
        scratchpad = OneDNN.layout(of: desc, dnnl_query_scratchpad_md, what: what)
    }

    /// A reorder from one layout to another; `adding` adds to what the destination holds.
    convenience init(reorderFrom from: dnnl_memory_desc_t, to: dnnl_memory_desc_t, adding: Bool) {
        var (from, to) = (from, to)
        let attr = OneDNN.attributes(adding ? [{ dnnl_post_ops_append_sum($0, 1) }] : [])
        defer { dnnl_primitive_attr_destroy(attr) }
        var desc: dnnl_primitive_desc_t?
        OneDNN.check(dnnl_reorder_primitive_desc_create(&desc, &from, OneDNN.engine, &to, OneDNN.engine, attr), "reorder_primitive_desc_create")
        defer { dnnl_primitive_desc_destroy(desc) }
        self.init(desc!, what: "reorder")
    }

    deinit { dnnl_primitive_destroy(primitive) }

    /// Runs on `arguments` (role, layout, data), which must outlive the call.
    func run(_ arguments: [(role: Int32, layout: dnnl_memory_desc_t, data: UnsafeMutableRawPointer)], on stream: OneDNNStream) {
        let pad = Tensor(uninitialized: [OneDNN.bytes(scratchpad) / MemoryLayout<Float>.stride + 1])
        let memories = arguments.map { OneDNNMemory($0.layout, $0.data) } + [OneDNNMemory(scratchpad, UnsafeMutableRawPointer(pad.data))]
        var args = zip(arguments.map(\.role) + [DNNL_ARG_SCRATCHPAD], memories).map { dnnl_exec_arg_t(arg: $0, memory: $1.memory) }
        OneDNN.check(dnnl_primitive_execute(primitive, stream.stream, Int32(args.count), &args), "primitive_execute")
        OneDNN.check(dnnl_stream_wait(stream.stream), "stream_wait")
        withExtendedLifetime((pad, memories)) {}
    }
}

/// An operand's data in the layout a kernel reads: our buffer itself, or a reordered copy that
/// this value keeps alive (a forward's input, kept for the weight gradient).
struct OneDNNStaged: @unchecked Sendable {
    let layout: dnnl_memory_desc_t
    let data: UnsafeMutableRawPointer
    let copy: Tensor?
}

/// A tensor's two layouts, ours (plain) and the kernel's, with the reorders its role needs: an
/// input goes to the kernel's layout; an output comes back, written or added.
final class OneDNNOperand: @unchecked Sendable {
    let plain: dnnl_memory_desc_t, kernel: dnnl_memory_desc_t
    let bytes: Int
    private let toKernel: OneDNNPrimitive?   // nil when the kernel reads the plain layout
    private let toPlain: OneDNNPrimitive?, addToPlain: OneDNNPrimitive?  // an output's

    init(plain: dnnl_memory_desc_t, kernel: dnnl_memory_desc_t, isOutput: Bool) {
        (self.plain, self.kernel, bytes) = (plain, kernel, OneDNN.bytes(kernel))
        toKernel = OneDNN.equal(plain, kernel) ? nil : OneDNNPrimitive(reorderFrom: plain, to: kernel, adding: false)
        toPlain = isOutput ? OneDNNPrimitive(reorderFrom: kernel, to: plain, adding: false) : nil
        addToPlain = isOutput ? OneDNNPrimitive(reorderFrom: kernel, to: plain, adding: true) : nil
    }

    /// The operand in the kernel's layout: our buffer itself, or a reordered copy.
    func staged(_ plainData: UnsafeMutablePointer<Float>, on stream: OneDNNStream) -> OneDNNStaged {
        guard toKernel != nil else { return OneDNNStaged(layout: kernel, data: UnsafeMutableRawPointer(plainData), copy: nil) }
        let copy = Tensor(uninitialized: [bytes / MemoryLayout<Float>.stride])
        write(plainData, intoKernelLayout: UnsafeMutableRawPointer(copy.data), on: stream)
        return OneDNNStaged(layout: kernel, data: UnsafeMutableRawPointer(copy.data), copy: copy)
    }

    /// Our buffer written into `destination` in the kernel's layout.
    func write(_ plainData: UnsafeMutablePointer<Float>, intoKernelLayout destination: UnsafeMutableRawPointer, on stream: OneDNNStream) {
        guard let toKernel else { return destination.copyMemory(from: plainData, byteCount: bytes) }
        toKernel.run([(DNNL_ARG_FROM, plain, UnsafeMutableRawPointer(plainData)), (DNNL_ARG_TO, kernel, destination)], on: stream)
    }

    /// The kernel's result at `data` (its layout), written or added into `target` (ours).
    func backToPlain(_ data: UnsafeMutableRawPointer, into target: UnsafeMutablePointer<Float>, adding: Bool, on stream: OneDNNStream) {
        (adding ? addToPlain : toPlain)!.run([(DNNL_ARG_FROM, kernel, data), (DNNL_ARG_TO, plain, UnsafeMutableRawPointer(target))], on: stream)
    }
}

/// A oneDNN operation with its operands: inputs staged from our layouts, one output written or
/// added into ours.
final class OneDNNKernel: @unchecked Sendable {
    private let primitive: OneDNNPrimitive
    private let inputs: [(role: Int32, operand: OneDNNOperand)]
    private let output: (role: Int32, operand: OneDNNOperand)

    /// The primitive of `desc` (the caller keeps it); `arguments` give each argument's role, the
    /// query and index of the layout the kernel chose (a bias is a convolution's second weights),
    /// and our plain layout; the last argument is the output.
    init(_ desc: const_dnnl_primitive_desc_t, what: String,
         arguments: [(role: Int32, query: dnnl_query_t, index: Int32, plain: dnnl_memory_desc_t)]) {
        primitive = OneDNNPrimitive(desc, what: what)
        let operands = arguments.enumerated().map { i, a in
            (role: a.role, operand: OneDNNOperand(plain: a.plain, kernel: OneDNN.layout(of: desc, a.query, a.index, what: what),
                                                  isOutput: i == arguments.count - 1))
        }
        (inputs, output) = (Array(operands.dropLast()), operands.last!)
    }

    /// Input `index` (in the order of the arguments) in this kernel's layout: `reusing` if
    /// another kernel staged it in the same layout, else staged from our buffer.
    func stage(_ index: Int, _ plainData: UnsafeMutablePointer<Float>, reusing staged: OneDNNStaged? = nil,
               on stream: OneDNNStream) -> OneDNNStaged {
        if let staged, OneDNN.equal(staged.layout, inputs[index].operand.kernel) { return staged }
        return inputs[index].operand.staged(plainData, on: stream)
    }

    /// Runs on staged inputs, writing or adding the result into `outputData`; `startingFrom`
    /// fills the result first (for a kernel whose sum post-op adds to it).
    func run(_ staged: [OneDNNStaged], into outputData: UnsafeMutablePointer<Float>, adding: Bool,
             startingFrom initial: UnsafeMutablePointer<Float>? = nil, on stream: OneDNNStream) {
        let result = runKeepingLayout(staged, startingFrom: initial, on: stream)
        output.operand.backToPlain(result.data, into: outputData, adding: adding, on: stream)
        withExtendedLifetime(result) {}
    }

    /// The same, the result left in the kernel's layout (for a next kernel that reads it so).
    func runKeepingLayout(_ staged: [OneDNNStaged], startingFrom initial: UnsafeMutablePointer<Float>? = nil,
                          on stream: OneDNNStream) -> OneDNNStaged {
        let result = Tensor(uninitialized: [output.operand.bytes / MemoryLayout<Float>.stride])
        let resultData = UnsafeMutableRawPointer(result.data)
        if let initial { output.operand.write(initial, intoKernelLayout: resultData, on: stream) }
        primitive.run(zip(inputs, staged).map { ($0.role, $1.layout, $1.data) } + [(output.role, output.operand.kernel, resultData)],
                      on: stream)
        withExtendedLifetime(staged) {}
        return OneDNNStaged(layout: output.operand.kernel, data: resultData, copy: result)
    }

    /// The output's layout in this kernel.
    var outputLayout: dnnl_memory_desc_t { output.operand.kernel }
}

/// Values built once per key and kept (primitives of a geometry), shared by all threads.
final class OneDNNCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let values = Mutex<[Key: Value]>([:])

    func value(_ key: Key, _ make: (Key) -> Value) -> Value {
        if let known = values.withLock({ $0[key] }) { return known }
        let made = make(key)  // outside the lock: building takes milliseconds
        return values.withLock { values in
            if let known = values[key] { return known }
            values[key] = made
            return made
        }
    }
}
