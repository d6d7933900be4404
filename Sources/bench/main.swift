// `make bench`: the speed of the tensor core on this machine. A benchmark, not a test.
//
// Prints tab-separated lines in the form of ../shared/bench/torch_reference.py,
//     case  value  detail
// where value is GFLOP/s for products and GB/s for memory-bound kernels. These machines are
// shared and noisy, so every comparison is made inside one run: the core and the raw BLAS call are
// timed in alternating rounds and the median of the per-round ratios is reported.
import CBLAS
import Foundation
import Tensor

BLAS.useFastKernels()

/// Seconds per call: calls `body` until `minSeconds` pass (after one warm-up call).
func secondsPerCall(minSeconds: Double = 0.25, _ body: () -> Void) -> Double {
    body()
    var calls = 0
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed = 0.0
    repeat {
        body()
        calls += 1
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    } while elapsed < minSeconds
    return elapsed / Double(calls)
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func emit(_ name: String, _ value: Double, _ detail: String) {
    print("\(name)\t\(String(format: "%.2f", value))\t\(detail)")
    fflush(nil)
}

let rounds = 7
var rng = RNG(seed: 0)

print("# vitdistill tensor core, \(Date().formatted(.iso8601.year().month().day())), \(BLAS.cpuModel)")
print("# \(BLAS.configuration)")
print("# \(BLAS.summary); our kernels on \(Parallel.threads) threads; OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)")")
if BLAS.cpuHasAVX512 && !BLAS.usesAVX512Kernels {
    print("# warning: this CPU has AVX-512 but OpenBLAS runs its \(BLAS.coreName) kernels (see README, 'BLAS kernels')")
}
print("case\tvalue\tdetail")

// MARK: sgemm: the core's matmul (allocating its output) against a raw cblas_sgemm call.
for n in [256, 512, 1024] {
    let a = Tensor.randn([n, n], rng: &rng), b = Tensor.randn([n, n], rng: &rng)
    let c = Tensor(zeros: [n, n])
    let flop = 2 * Double(n * n * n)
    var raw: [Double] = [], core: [Double] = [], coreT: [Double] = [], ratios: [Double] = []
    for _ in 0..<rounds {
        let r = flop / secondsPerCall {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(n), blasint(n), blasint(n), 1,
                        a.data, blasint(n), b.data, blasint(n), 0, c.data, blasint(n))
        } / 1e9
        let k = flop / secondsPerCall { _ = matmul(a, b) } / 1e9
        let kt = flop / secondsPerCall { _ = matmul(a, b, transposeB: true) } / 1e9
        raw.append(r); core.append(k); coreT.append(kt); ratios.append(k / r)
    }
    emit("sgemm-\(n)-raw", median(raw), "GFLOP/s, cblas_sgemm \(n)x\(n)x\(n) into a preallocated buffer")
    emit("sgemm-\(n)-core", median(core),
         "GFLOP/s, matmul(a, b) with its output allocated; core/raw = \(String(format: "%.3f", median(ratios)))")
    emit("sgemm-\(n)-core-bT", median(coreT), "GFLOP/s, matmul(a, b, transposeB: true): a BLAS flag, no copy")
}

// MARK: memory-bound kernels, at a ViT-S/16 batch of 16 (197 tokens, width 384, 6 heads).
/// Times forward and backward of `op` separately; bytes are the minimum traffic: forward reads
/// x and writes y; backward reads g and what it saved, and reads and writes dx.
@MainActor func memoryBound(_ name: String, shape: [Int], forwardBytes: Int, backwardBytes: Int,
                 _ op: (Tensor) -> Tensor) {
    let x = Tensor.randn(shape, rng: &rng, requiresGrad: true)
    let g = Tensor.randn(shape, rng: &rng)
    var forward: [Double] = [], backward: [Double] = []
    for _ in 0..<rounds {
        forward.append(Double(forwardBytes) / withNoGrad { secondsPerCall { _ = op(x) } } / 1e9)
        // Backward alone: the graph is rebuilt before each timed call.
        var samples: [Double] = []
        for _ in 0..<20 {
            x.grad = nil
            let y = op(x)
            let t0 = DispatchTime.now().uptimeNanoseconds
            y.backward(gradient: g)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        backward.append(Double(backwardBytes) / median(samples) / 1e9)
    }
    let detail = "shape \(shape.map(String.init).joined(separator: "x"))"
    emit("\(name)-fwd", median(forward), "GB/s, \(detail)")
    emit("\(name)-bwd", median(backward), "GB/s, \(detail)")
}

let tokens = 16 * 197
let softmaxShape = [16 * 6 * 197, 197]
let softmaxN = softmaxShape.reduce(1, *)
memoryBound("softmax", shape: softmaxShape, forwardBytes: 8 * softmaxN, backwardBytes: 16 * softmaxN) { softmax($0) }

let lnWeight = Tensor.randn([384], rng: &rng, requiresGrad: true), lnBias = Tensor.randn([384], rng: &rng, requiresGrad: true)
memoryBound("layernorm", shape: [tokens, 384], forwardBytes: 8 * tokens * 384, backwardBytes: 16 * tokens * 384) {
    layerNorm($0, weight: lnWeight, bias: lnBias)
}

let geluN = tokens * 1536
memoryBound("gelu", shape: [tokens, 1536], forwardBytes: 8 * geluN, backwardBytes: 16 * geluN) { gelu($0) }
