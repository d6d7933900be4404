// Which OpenBLAS kernels run, and getting the fast ones by default.
//
// Debian's OpenBLAS 0.3.21 predates AMD Zen 4/5: on those CPUs its runtime detection picks the
// Haswell (AVX2) kernels, half the sgemm speed of its SkylakeX (AVX-512) kernels, which run
// correctly there. The library reads OPENBLAS_CORETYPE once, while it loads — before any Swift
// code runs — so the only way to change the choice from inside a program is to set the variable
// and re-launch the process. `BLAS.useFastKernels()` does that, once, at the top of `main`.
import CBLAS
import Foundation

public enum BLAS {
    /// The kernel family OpenBLAS chose ("Haswell", "SkylakeX", …).
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// OpenBLAS's build description: version, DYNAMIC_ARCH, thread limit.
    public static var configuration: String {
        String(cString: openblas_get_config()).trimmingCharacters(in: .whitespaces)
    }

    /// Cores used for a large product: the core's threads, each running single-threaded OpenBLAS.
    public static var threads: Int { Parallel.threads }

    /// OpenBLAS kernel families that use AVX-512.
    static let avx512Cores: Set<String> = ["SkylakeX", "Cooperlake", "SapphireRapids"]

    public static var usesAVX512Kernels: Bool { avx512Cores.contains(coreName) }

    /// Whether this CPU has AVX-512F (Linux: the `flags` line of /proc/cpuinfo).
    public static var cpuHasAVX512: Bool {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        return flags.split(separator: " ").contains("avx512f")
    }

    /// One line for logs and result files, e.g. "OpenBLAS SkylakeX kernels, 2 threads".
    public static var summary: String { "OpenBLAS \(coreName) kernels, \(threads) threads" }

    /// Call first thing in an executable's `main`. If the CPU has AVX-512, OpenBLAS chose
    /// other kernels than SkylakeX, and OPENBLAS_CORETYPE is unset, re-launches this process with
    /// OPENBLAS_CORETYPE=SkylakeX (same arguments, same environment otherwise); the variable being
    /// set is what stops a second re-launch. A value already in the environment is respected —
    /// but if it selects narrower kernels than the CPU has, a note on stderr says so and how to
    /// change it, because it halves the speed of every matrix product.
    public static func useFastKernels() {
        switch kernelDecision(core: coreName, cpuHasAVX512: cpuHasAVX512,
                              coreTypeVariable: ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]) {
        case .keep:
            return
        case .warnNarrow(let chosen):
            note("OPENBLAS_CORETYPE=\(chosen) is set, so OpenBLAS runs its \(coreName) kernels on this AVX-512 CPU "
                 + "(about half the sgemm speed); unset it, or set OPENBLAS_CORETYPE=SkylakeX, for the fast kernels")
        case .relaunch:
            setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
            fflush(nil)  // all C streams: nothing buffered may be lost or printed twice
            execv("/proc/self/exe", CommandLine.unsafeArgv)
            // Only reached if execv failed: carry on with the kernels we have.
            note("could not re-launch with OPENBLAS_CORETYPE=SkylakeX (\(String(cString: strerror(errno)))); using \(coreName) kernels")
        }
    }

    public enum KernelDecision: Equatable {
        case keep                  // AVX-512 kernels already, or a CPU without AVX-512
        case relaunch              // other kernels chosen by detection: re-launch with SkylakeX
        case warnNarrow(String)    // narrower kernels chosen by the user's OPENBLAS_CORETYPE: say so
    }

    /// What `useFastKernels` does, given OpenBLAS's choice, the CPU and the environment. Without
    /// a user's choice every AVX-512 CPU runs the SkylakeX kernels — the ones `make` selects — even
    /// where OpenBLAS detected another AVX-512 family (Cooperlake on some Zen CPUs): the families
    /// round differently, and a run should give the same numbers however it was started.
    public static func kernelDecision(core: String, cpuHasAVX512: Bool, coreTypeVariable: String?) -> KernelDecision {
        guard cpuHasAVX512 else { return .keep }
        if let chosen = coreTypeVariable { return avx512Cores.contains(core) ? .keep : .warnNarrow(chosen) }
        return core == "SkylakeX" ? .keep : .relaunch
    }

    private static func note(_ message: String) {
        FileHandle.standardError.write(Data("note: \(message)\n".utf8))
    }
}
