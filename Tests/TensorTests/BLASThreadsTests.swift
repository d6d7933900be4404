// The lock (OpenBLASThreads.swift) that keeps one thread's multi-threaded OpenBLAS call from
// reaching another thread's single-threaded ones: products on two threads keep their bits while a
// third runs threaded products, and nobody waits forever.
import Foundation
import Synchronization
import Testing
import Tensor

@Suite("OpenBLAS threads") struct BLASThreadsTests {
    @Test func singleThreadedProductsKeepTheirBitsBesideThreadedOnes() {
        // The first OpenBLAS would split if its threads were on, which moves its bits (a missing lock
        // failed this test); the second never splits, and checks the attention products' path.
        @Sendable func products() -> [[Float]] {
            var rng = RNG(seed: 26)
            let a = Tensor.randn([384, 602], rng: &rng), b = Tensor.randn([602, 300], rng: &rng)
            let q = Tensor.randn([17, 32], rng: &rng), k = Tensor.randn([17, 32], rng: &rng)
            return [matmul(a, b).scalars, matmul(q, k, transposeB: true).scalars]
        }
        let expected = products()
        let mismatches = Tally()
        let done = DispatchGroup()
        func start(_ job: @escaping @Sendable () -> Void) {
            done.enter()
            Thread { job(); done.leave() }.start()
        }
        start {  // a square 1024³ product runs on OpenBLAS's own threads (MatMul.swift)
            let x = Tensor(repeating: 0.5, shape: [1024, 1024])
            for _ in 0..<8 where matmul(x, x).scalars[0] != 256 { mismatches.count.add(1, ordering: .relaxed) }
        }
        for _ in 0..<2 {
            start { for _ in 0..<30 where products() != expected { mismatches.count.add(1, ordering: .relaxed) } }
        }
        #expect(done.wait(timeout: .now() + 120) == .success, "a product waited for the lock for two minutes")
        #expect(mismatches.count.load(ordering: .relaxed) == 0)
    }
}

private final class Tally: Sendable { let count = Atomic<Int>(0) }
