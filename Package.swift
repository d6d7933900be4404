// swift-tools-version: 6.1
// vitdistill — DINO and DeiT reproduced at small scale on a CPU. See README.md.
import PackageDescription

// Swift compiles for baseline x86-64 (SSE2) unless told otherwise, which would run our SIMD16<Float>
// kernels four registers at a time. The project is built from source on the machine that runs it,
// so it compiles for that CPU (AVX-512 where present). VITDISTILL_TARGET_CPU names another (e.g.
// `haswell`: AVX2 and FMA only), to measure the AVX2 path on an AVX-512 machine.
let targetCPU = Context.environment["VITDISTILL_TARGET_CPU"] ?? "native"
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", targetCPU])]

let package = Package(
    name: "vitdistill",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Data", targets: ["Data"]),
        .library(name: "Lab", targets: ["Lab"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries. Debian: libopenblas-dev, zlib1g-dev, libdnnl-dev (`make setup` installs them).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),

        // The tensor core: storage, autograd, ops, kernels, optimizers, safetensors (zlib: CRC-32;
        // oneDNN: the ConvNet's convolutions).
        .target(name: "Tensor", dependencies: ["CBLAS", "CZlib", "CDNNL"], swiftSettings: cpuFlags),
        // Modules (ViT, ConvNet, heads) and the data pipeline, side by side on the core.
        .target(name: "NN", dependencies: ["Tensor"], swiftSettings: cpuFlags),
        .target(name: "Data", dependencies: ["Tensor", "CZlib"], swiftSettings: cpuFlags),
        // What every experiment shares: training loops, evaluation, progress, results, scales.
        .target(name: "Lab", dependencies: ["CBLAS", "NN", "Data", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: cpuFlags),

        // One executable per experiment.
        .executableTarget(name: "supervised", dependencies: ["Lab"], swiftSettings: cpuFlags),
        .executableTarget(name: "patch-throughput", dependencies: ["Lab"], swiftSettings: cpuFlags),
        .executableTarget(name: "ema-teacher", dependencies: ["Lab"], swiftSettings: cpuFlags),
        .executableTarget(name: "collapse", dependencies: ["Lab"], swiftSettings: cpuFlags),
        .executableTarget(name: "distillation", dependencies: ["Lab"], swiftSettings: cpuFlags),
        .executableTarget(name: "token-similarity", dependencies: ["Lab"], swiftSettings: cpuFlags),
        .executableTarget(name: "attention-maps", dependencies: ["Lab"], swiftSettings: cpuFlags),

        // `make fuzz`: mutated files against the readers of untrusted input (a test runs 2 000 of each).
        .executableTarget(name: "fuzz", dependencies: ["Tensor", "Data", "CZlib"], swiftSettings: cpuFlags),

        // `make bench`: speed of the core on this machine. A benchmark, not a test.
        // torch_reference.py times the same cases in PyTorch, for the ratios the notebook states;
        // onednn_convolutions.c times oneDNN's convolutions alone, the measurement that chose it.
        // sgemm_libraries.c times OpenBLAS's sgemm against oneDNN's, the measurement that kept OpenBLAS.
        .executableTarget(name: "bench", dependencies: ["Tensor", "NN", "Data", "Lab"],
                          exclude: ["torch_reference.py", "onednn_convolutions.c", "sgemm_libraries.c"], swiftSettings: cpuFlags),

        .testTarget(name: "TensorTests", dependencies: ["Tensor"], exclude: ["Fixtures"], swiftSettings: cpuFlags),
        .testTarget(name: "DataTests", dependencies: ["Data", "CZlib"], swiftSettings: cpuFlags),
        .testTarget(name: "NNTests", dependencies: ["NN"], exclude: ["load_in_timm.py", "load_in_pytorch.py"], swiftSettings: cpuFlags),
        .testTarget(name: "LabTests", dependencies: ["Lab", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                    swiftSettings: cpuFlags),
    ]
)
