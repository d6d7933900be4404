// Splitting loops over the cores: our kernels (elementwise, softmax, layer norm, GELU, im2col,
// attention heads) and the blocks of large matrix products, each block a single-threaded
// OpenBLAS call. One pool of threads does all the parallel work (OpenBLASThreads.swift says
// why; WorkerPool.swift is the pool: Dispatch behind it when another caller has it, the calling
// thread alone while side-by-side lanes fill the cores).
import Dispatch
import Foundation

public enum Parallel {
    /// True inside a parallel region: work there is already spread over the cores, so nested
    /// kernels (a product inside a per-head loop) run on the calling thread.
    @TaskLocal public static var isWorker = false

    /// Worker count for our kernels: the machine's cores (2 here), at most 8.
    public static let threads = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))

    /// Calls `body` on disjoint chunks that together cover 0..<count, using several cores when
    /// the work is worth it: `grain` is the smallest chunk worth a thread (waking one costs a few
    /// microseconds, the time to stream ~50 kB). Chunk boundaries depend only on `count`,
    /// `grain` and the core count, so results are deterministic on a given machine.
    @inlinable
    public static func forEachChunk(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
        forEachChunk(count, grain: grain) { _, range in body(range) }
    }

    /// How many chunks `forEachChunk` will use for this work: one inside a parallel region.
    @inlinable
    public static func chunkCount(_ count: Int, grain: Int) -> Int {
        isWorker ? 1 : max(1, min(threads, count / max(grain, 1)))
    }

    /// As above, also passing the chunk's index in 0..<chunkCount(count, grain:), for kernels
    /// that keep per-chunk partial sums (weight gradients) and add them up afterwards.
    @inlinable
    public static func forEachChunk(_ count: Int, grain: Int, _ body: (Int, Range<Int>) -> Void) {
        let chunks = chunkCount(count, grain: grain)
        if chunks == 1 {
            if count > 0 { body(0, 0..<count) }
            return
        }
        // Every way (the pool, the chunks in turn, Dispatch) returns only after every chunk has run,
        // so `body` never outlives this call; the box only tells the compiler so. Chunks write
        // disjoint memory by contract.
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            let chunk = { (c: Int) in
                Parallel.$isWorker.withValue(true) { shared.value(c, count * c / chunks ..< count * (c + 1) / chunks) }
            }
            if WorkerPool.shared.run(chunks: chunks, chunk) { return }
            // While the lanes fill the cores, the calling thread (a lane's, as a rule) runs the chunks
            // one after the other: a hand-off to another thread would only cost a wake-up.
            if WorkerPool.shared.lanesFillTheCores { return (0..<chunks).forEach(chunk) }
            let sendable = UncheckedSendable(chunk)
            DispatchQueue.concurrentPerform(iterations: chunks) { sendable.value($0) }
        }
    }
}

extension Parallel {
    /// Runs `body` as one of several independent jobs on their own threads (Lab's SideBySide, one
    /// call per lane): while two or more lanes are busy the core's spinning workers sleep, and while
    /// as many as there are cores are, each runs its parallel regions' chunks in turn on its own
    /// thread; a lane left alone takes the workers back (WorkerPool.swift). What each region
    /// computes does not change.
    public static func lane<R>(_ body: () throws -> R) rethrows -> R {
        try WorkerPool.shared.lane(body)
    }
}

/// A value handed to worker threads whose safety the caller guarantees (disjoint writes, or
/// one thread at a time).
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    @inlinable public init(_ value: Value) { self.value = value }
}
