// The core's kernels: sgemm through `matmul` against a raw cblas_sgemm call (timed in alternating
// rounds; the median of per-round ratios is reported), and GB/s of the memory-bound kernels.
import CBLAS
import Dispatch
import Foundation
import Lab
import Tensor

/// Runs the kernel cases; returns the raw sgemm GFLOP/s at 1024 (0 if not measured).
@MainActor
func kernelBenchmarks(sgemm: Bool, printSgemm: Bool, memoryBound: [String]) -> Double {
    var rng = RNG(seed: 0)
    let rounds = 7
    var raw1024 = 0.0
    for n in (sgemm ? [256, 512, 1024] : []) where printSgemm || n == 1024 {
        let a = Tensor.randn([n, n], rng: &rng), b = Tensor.randn([n, n], rng: &rng)
        let c = Tensor(zeros: [n, n])
        let flop = 2 * Double(n * n * n)
        var raw: [Double] = [], core: [Double] = [], coreT: [Double] = [], ratios: [Double] = []
        for _ in 0..<rounds {
            // Raw: OpenBLAS with its own threads, its best on this machine.
            let r = BLAS.withOpenBLASThreads {
                flop / secondsPerCall {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(n), blasint(n), blasint(n), 1,
                                a.data, blasint(n), b.data, blasint(n), 0, c.data, blasint(n))
                } / 1e9
            }
            Thread.sleep(forTimeInterval: 0.15)  // let OpenBLAS's spinning workers park before we time ours
            let k = flop / secondsPerCall { _ = matmul(a, b) } / 1e9
            let kt = flop / secondsPerCall { _ = matmul(a, b, transposeB: true) } / 1e9
            raw.append(r); core.append(k); coreT.append(kt); ratios.append(k / r)
        }
        if n == 1024 { raw1024 = median(raw) }
        guard printSgemm else { continue }
        emit("sgemm-\(n)-raw", median(raw), "GFLOP/s, cblas_sgemm \(n)x\(n)x\(n) into a preallocated buffer, OpenBLAS's own \(Parallel.threads) threads")
        emit("sgemm-\(n)-core", median(core),
             "GFLOP/s, matmul(a, b) with its output allocated; core/raw = \(String(format: "%.3f", median(ratios)))")
        emit("sgemm-\(n)-core-bT", median(coreT), "GFLOP/s, matmul(a, b, transposeB: true): a BLAS flag, no copy")
    }

    // At a ViT-S/16 batch of 16: 197 tokens, width 384, 6 heads.
    let tokens = 16 * 197
    if memoryBound.contains("softmax") { memoryBoundCase("softmax", shape: [16 * 6 * 197, 197], rng: &rng) { softmax($0) } }
    if memoryBound.contains("layernorm") {
        let w = Tensor.randn([384], rng: &rng, requiresGrad: true), b = Tensor.randn([384], rng: &rng, requiresGrad: true)
        memoryBoundCase("layernorm", shape: [tokens, 384], rng: &rng) { layerNorm($0, weight: w, bias: b) }
    }
    if memoryBound.contains("gelu") { memoryBoundCase("gelu", shape: [tokens, 1536], rng: &rng) { gelu($0) } }
    return raw1024
}

/// Times forward and backward of `op` separately; bytes are the minimum traffic: forward reads
/// x and writes y; backward reads g and what it saved, and reads and writes dx. A copy of the
/// same bytes is timed in each round beside them (the machines are shared: bandwidth drifts by
/// 2x within a minute), and the share of a copy is the median of the rounds' ratios.
@MainActor
func memoryBoundCase(_ name: String, shape: [Int], rng: inout RNG, rounds: Int = 7, _ op: (Tensor) -> Tensor) {
    let x = Tensor.randn(shape, rng: &rng, requiresGrad: true)
    let g = Tensor.randn(shape, rng: &rng)
    let n = Double(x.count)
    var forward: [Double] = [], backward: [Double] = [], copy: [Double] = []
    for _ in 0..<rounds {
        copy.append(copyGBPerSecond(count: x.count))
        forward.append(8 * n / secondsPerCall { withNoGrad { _ = op(x) } } / 1e9)
        var samples: [Double] = []
        for _ in 0..<20 {  // backward alone: the graph is rebuilt before each timed call
            x.grad = nil
            let y = op(x)
            let t0 = DispatchTime.now().uptimeNanoseconds
            y.backward(gradient: g)
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        backward.append(16 * n / median(samples) / 1e9)
    }
    let detail = "shape \(shape.map(String.init).joined(separator: "x"))"
    func share(_ rates: [Double]) -> String {
        String(format: "%.0f%% of a copy", 100 * median(zip(rates, copy).map { $0 / $1 }))
    }
    emit("\(name)-fwd", median(forward), "GB/s, \(detail); " + share(forward))
    emit("\(name)-bwd", median(backward), "GB/s, \(detail); " + share(backward))
    emit("\(name)-copy", median(copy), "GB/s, a copy of the same \(shape.map(String.init).joined(separator: "x")) floats (read and write), "
         + "on the kernels' \(Parallel.threads) threads: the memory-bound kernels' ceiling")
}

/// GB/s of copying `count` floats to another buffer, split over the core's threads as its
/// elementwise kernels split their work; bytes as the kernels count them (one read, one write).
func copyGBPerSecond(count: Int) -> Double {
    let source = UnsafeMutablePointer<Float>.allocate(capacity: count), target = UnsafeMutablePointer<Float>.allocate(capacity: count)
    defer { source.deallocate(); target.deallocate() }
    source.initialize(repeating: 1, count: count)
    target.initialize(repeating: 0, count: count)
    return 8 * Double(count) / secondsPerCall {
        Parallel.forEachChunk(count, grain: 1 << 14) { range in
            (target + range.lowerBound).update(from: source + range.lowerBound, count: range.count)
        }
    } / 1e9
}
