// The machine a result came from, and what its matrix products can reach: the CPU's name and a
// raw multi-threaded sgemm, which experiments report their throughput against.
import CBLAS
import Dispatch
import Foundation
import Tensor

public enum Machine {
    /// The CPU's model name, for result files (Linux: /proc/cpuinfo).
    public static var cpuModel: String {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let name = line.split(separator: ":", maxSplits: 1).last else { return "unknown CPU" }
        return name.trimmingCharacters(in: .whitespaces)
    }

    /// GFLOP/s of a raw n×n×n cblas_sgemm with OpenBLAS's own threads (its best here): after an
    /// untimed round, the median of `rounds` timings of about 0.2 s each. Experiments report their
    /// throughput beside it.
    public static func measureSgemm(size n: Int = 1024, rounds: Int = 7) -> Double {
        let a = Tensor(repeating: 0.5, shape: [n, n]), b = Tensor(repeating: 0.25, shape: [n, n]), c = Tensor(zeros: [n, n])
        let rates: [Double] = (0...rounds).map { _ in
            BLAS.withOpenBLASThreads {
                let seconds = timeRepeatedly(warmup: 0, atLeast: 1, seconds: 0.2) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(n), blasint(n), blasint(n), 1,
                                a.data, blasint(n), b.data, blasint(n), 0, c.data, blasint(n))
                }.mean
                return 2 * Double(n * n * n) / seconds / 1e9
            }
        }
        Thread.sleep(forTimeInterval: 0.15)  // let OpenBLAS's spinning workers park
        return rates.dropFirst().sorted()[rounds / 2]  // the first round warms up
    }
}
