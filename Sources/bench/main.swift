// `make bench`: the speed of the tensor core on this machine. A benchmark, not a test.
//
// Prints tab-separated lines in the form of torch_reference.py (beside this file),
//     case  value  detail
// — images/s for the model cases (the same names and shapes as the PyTorch script, so the two
// outputs sit side by side), GFLOP/s for sgemm, GB/s for the memory-bound kernels.
//
//   .build/release/bench                       every case
//   .build/release/bench vit-s16-fwd nano-train only these
import CBLAS
import Data
import Foundation
import Lab
import NN
import Tensor

BLAS.useFastKernels()

let modelCases = ["vit-s16-fwd", "vit-s8-fwd", "vit-b16-fwd", "vit-b8-fwd", "vit-p7-fwd", "nano-train", "nano-dino", "dino-recipe-step",
                  "dino-recipe-step-augmented", "knn-eval", "deit-student-step",
                  "convnet-step", "convnet-teacher-fwd", "convnet-step-im2col", "convnet-teacher-fwd-im2col"]
let kernelCases = ["sgemm", "softmax", "layernorm", "gelu"]  // each memory-bound kernel also prints a copy of its bytes
let requested = Array(CommandLine.arguments.dropFirst())
if requested.contains(where: { $0 == "--help" || $0 == "-h" }) {
    print("""
        usage: bench [CASE ...]   (make bench; make bench AVX2=1 for the AVX2 path)
        Times the tensor core's cases on this machine and prints tab-separated `case  value  detail`
        lines (the cases Sources/bench/torch_reference.py also times keep its names and shapes):
        images/s for the models (seconds for knn-eval), GFLOP/s for sgemm, GB/s for the
        memory-bound kernels. No case: every case. Cases:
          \(modelCases.joined(separator: ", "))
          \(kernelCases.joined(separator: ", "))
        """)
    exit(0)
}
if let unknown = requested.first(where: { !(modelCases + kernelCases).contains($0) }) {
    FileHandle.standardError.write(Data("bench: unknown case '\(unknown)'; cases: \((modelCases + kernelCases).joined(separator: ", "))\n".utf8))
    exit(2)
}
func wanted(_ name: String) -> Bool { requested.isEmpty || requested.contains(name) }

print("# vitdistill tensor core, \(Date().formatted(.iso8601.year().month().day())), \(Machine.cpuModel)")
print("# \(BLAS.configuration)")
print("# \(BLAS.summary); our kernels on \(Parallel.threads) threads; OPENBLAS_CORETYPE=\(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(unset)")")
if BLAS.cpuHasAVX512 && !BLAS.usesAVX512Kernels {
    print("# warning: this CPU has AVX-512 but OpenBLAS runs its \(BLAS.coreName) kernels (see papers/notebook.md, 'BLAS kernels')")
}
// The ConvNet's convolutions run on oneDNN, as in the experiments; the -im2col twins measure the other engine.
print("# the ConvNet's convolutions: oneDNN \(OneDNNInfo.version); convnet-*-im2col: im2col + OpenBLAS")
print("case\tvalue\tdetail")

// sgemm first: the model cases report their GFLOP/s against it.
let sgemm1024 = kernelBenchmarks(sgemm: wanted("sgemm") || modelCases.contains(where: wanted),
                                 printSgemm: wanted("sgemm"),
                                 memoryBound: kernelCases.dropFirst().filter(wanted))

if wanted("vit-s16-fwd") { _ = forwardCase("vit-s16-fwd", .vitS16, batch: 16, sgemm: sgemm1024) }
if wanted("vit-s8-fwd") { _ = forwardCase("vit-s8-fwd", .vitS8, batch: 4, sgemm: sgemm1024) }
if wanted("vit-b16-fwd") { _ = forwardCase("vit-b16-fwd", .vitB16, batch: 8, sgemm: sgemm1024) }
if wanted("vit-b8-fwd") { _ = forwardCase("vit-b8-fwd", .vitB8, batch: 2, sgemm: sgemm1024) }
// The DINO teacher study's backbone (ema-teacher's default) at 28²: the forward of its k-NN features.
if wanted("vit-p7-fwd") {
    _ = forwardCase("vit-p7-fwd", ViTConfig(patchSize: 7, width: 64, depth: 4, heads: 2, classes: 0), batch: 256, sgemm: sgemm1024)
}
if wanted("nano-train") { nanoTrainCase(sgemm: sgemm1024) }
if wanted("nano-dino") { nanoDINOCase(sgemm: sgemm1024) }
if wanted("dino-recipe-step") || wanted("dino-recipe-step-augmented") || wanted("knn-eval") {
    // These read Fashion-MNIST (the augmentation and the k-NN bank need real images).
    if let data = try? FashionMNIST.load() {
        dinoCases(data: data, step: wanted("dino-recipe-step"), augmented: wanted("dino-recipe-step-augmented"), knn: wanted("knn-eval"), sgemm: sgemm1024)
    } else {
        print("# dino-recipe-step, dino-recipe-step-augmented, knn-eval: skipped, Fashion-MNIST is not in \(FashionMNIST.defaultDirectory) (make setup installs it)")
    }
}
if wanted("deit-student-step") { ConvolutionEngine.$current.withValue(.oneDNN) { deitStudentCase(sgemm: sgemm1024) } }
if wanted("convnet-step") || wanted("convnet-teacher-fwd") {
    convNetCases(engine: .oneDNN, step: wanted("convnet-step"), forward: wanted("convnet-teacher-fwd"), sgemm: sgemm1024)
}
// The same on im2col + OpenBLAS, the kernels oneDNN replaced for the ConvNet.
if wanted("convnet-step-im2col") || wanted("convnet-teacher-fwd-im2col") {
    convNetCases(engine: .im2col, step: wanted("convnet-step-im2col"), forward: wanted("convnet-teacher-fwd-im2col"), sgemm: sgemm1024)
}
