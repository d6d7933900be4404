// A seed gives the same bits whatever else the process and the machine are doing: a training run
// alone and the same run while other threads keep the core's pool and OpenBLAS busy with products
// of every shape (the square ones OpenBLAS runs on its own threads among them).
import Foundation
import Synchronization
import Testing
import Data
import Lab
import NN
import Tensor

/// Threads that multiply matrices of assorted shapes, as a concurrently running test would,
/// until `stop()`.
final class BusyMachine: @unchecked Sendable {
    private let running = Atomic<Bool>(true)
    private var threads: [Thread] = []
    private let finished = DispatchGroup()

    init(threads count: Int = 2) {
        for t in 0..<count {
            finished.enter()
            let thread = Thread { [self] in
                var rng = RNG(seed: UInt64(t))
                // Square (OpenBLAS's threads), tall and wide (the core's split) and small products.
                let shapes = [(512, 512, 512), (300, 300, 64), (2048, 64, 96), (96, 2048, 64), (17, 17, 8)]
                var i = t
                while running.load(ordering: .relaxed) {
                    let (m, n, k) = shapes[i % shapes.count]
                    let a = Tensor.randn([m, k], rng: &rng), b = Tensor.randn([k, n], rng: &rng)
                    _ = softmax(matmul(a, b)).sum().item
                    i += 1
                }
                finished.leave()
            }
            threads.append(thread)
            thread.start()
        }
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        finished.wait()
    }
}

@Suite("determinism") struct DeterminismTests {
    /// Products of shapes whose last bits OpenBLAS's threaded and single-threaded kernels round
    /// differently (K past its blocking), each computed alone and then again and again beside a
    /// busy machine: every repetition gives the bits of the first.
    @Test func matrixProductsGiveTheSameBitsUnderLoad() {
        var rng = RNG(seed: 5)
        let shapes = [(700, 64, 700), (64, 700, 700), (544, 48, 16), (16, 48, 544), (4, 9, 25088)]
        let operands = shapes.map { (m, n, k) in (Tensor.randn([m, k], rng: &rng), Tensor.randn([k, n], rng: &rng)) }
        let alone = operands.map { matmul($0.0, $0.1).scalars }
        let busy = BusyMachine()
        var differing: Set<Int> = []
        for _ in 0..<40 {
            for (i, (a, b)) in operands.enumerated() where matmul(a, b).scalars != alone[i] { differing.insert(i) }
        }
        busy.stop()
        #expect(differing.isEmpty, "products \(differing.sorted().map { shapes[$0] }) changed under load (\(BLAS.coreName) kernels)")
    }

    /// The classifier of the resume test, trained alone and then beside a busy machine.
    @Test(.enabled(if: dataset != nil), arguments: ["vit", "convnet"])
    func aTrainingRunGivesTheSameBitsUnderLoad(_ kind: String) throws {
        func run() throws -> (history: [EpochRecord], weights: [String: [Float]]) {
            var recipe = SupervisedRecipe(epochs: 1, batchSize: 32, learningRate: 2e-3)
            recipe.trainImages = 1024
            recipe.cropScale = 0.5...1
            var rng = RNG(seed: 21)
            let model: any Classifier = kind == "vit"
                ? try VisionTransformer(ViTConfig(patchSize: 7, width: 16, depth: 2, heads: 2, dropPathRate: 0.2), rng: &rng)
                : ConvNet(ConvNetConfig(widths: [4, 8, 16]), rng: &rng)
            let history = try trainClassifier(model, recipe: recipe, data: dataset!, label: "determinism \(kind)", rng: &rng)
            return (history, state(model))
        }
        let alone = try run()
        let busy = BusyMachine()
        let loaded = try run()
        busy.stop()
        #expect(loaded.history.map(\.trainLoss) == alone.history.map(\.trainLoss))
        #expect(loaded.history.map(\.testAccuracy) == alone.history.map(\.testAccuracy))
        let changed = alone.weights.keys.filter { loaded.weights[$0] != alone.weights[$0] }.sorted()
        #expect(changed.isEmpty, "weights changed under load (\(BLAS.coreName) kernels): \(changed)")
    }
}
