// The threads behind Parallel.forEachChunk: one per extra core, started once, which spin for a
// while after each parallel region before they sleep.
//
// Why not Dispatch alone: a training step of a small model is a chain of hundreds of short
// parallel regions. Between them Dispatch's workers sleep, and on a virtual machine a sleeping
// vCPU is handed back to the host, so every region first waits for a wake-up. Measured on the DINO
// step (the DINO teacher study's, Zen 4, 2 vCPUs, binaries alternated): with Dispatch alone it ran 1.23×
// slower when no OpenBLAS thread happened to spin beside it, and these workers made it 1.2–1.3×
// faster than Dispatch with that thread. A worker here spins for `spinSeconds` after its last
// chunk, then parks on a condition variable (OpenMP runtimes do the same, with a block time of
// 0.2 s). It spins with sched_yield, so that it never keeps a thread with work off the core:
// beside `yes > /dev/null` a pure spin made the DINO step 0.56–0.77× as fast as Dispatch alone,
// the yielding one 0.85–1.08×; idle, the yielding one ran it at 1095–1171 images/s against
// Dispatch's 681–934.
//
// One parallel region at a time uses the pool; a second caller meanwhile (a concurrent test) falls
// back to Dispatch. While two or more lanes of independent runs are busy (Parallel.lane) the pool
// sleeps; while as many as there are cores are, each lane runs its chunks one after the other on
// its own thread (measured on a 2-vCPU Zen 5: two DINO steps side by side at 528 and 569
// images/s each, against 483 and 484 through Dispatch). Which thread runs a chunk never
// changes what the chunk computes.
import Foundation
import Glibc
import Synchronization

@usableFromInline
final class WorkerPool: @unchecked Sendable {
    @usableFromInline static let shared = WorkerPool(workers: Parallel.threads - 1)

    /// How long an idle worker spins before it sleeps.
    static let spinSeconds = 0.002

    private let workers: Int
    /// The region being run: its number (bits 32–63), its chunk count (16–31) and the next chunk
    /// to hand out (0–15). A worker takes a chunk by compare-and-swap, so one still busy with an
    /// old region can never take a chunk of a new one.
    private let ticket = Atomic<UInt64>(0)
    private let unfinished = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private let sleepers = Atomic<Int>(0)
    private let sleepNow = Atomic<Bool>(false)
    /// Lanes of independent runs now busy (Parallel.lane); two or more keep the pool asleep.
    private let lanes = Atomic<Int>(0)
    private let wake = NSCondition()
    // Written by the caller before it publishes the region, read only by whoever wins a chunk of it.
    private nonisolated(unsafe) var body: ((Int) -> Void)?

    private init(workers: Int) {
        self.workers = workers
        for _ in 0..<workers {
            let thread = Thread { [unowned self] in self.work() }
            thread.stackSize = 64 << 20  // autograd recurses; as deep as the main thread's
            thread.start()
        }
    }

    /// Runs body(0..<chunks) on the caller and the workers; false (nothing run) if the pool is
    /// already running another caller's region.
    @usableFromInline
    func run(chunks: Int, _ work: (Int) -> Void) -> Bool {
        guard workers > 0, chunks < 1 << 16, lanes.load(ordering: .relaxed) < 2,
              busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { busy.store(false, ordering: .releasing) }
        sleepNow.store(false, ordering: .relaxed)
        withoutActuallyEscaping(work) { work in
            body = work
            unfinished.store(chunks, ordering: .relaxed)
            let region = (ticket.load(ordering: .relaxed) >> 32) &+ 1
            // Sequentially consistent with the sleepers' count: either a worker about to sleep sees
            // the new region, or this sees it counted and wakes it.
            ticket.store(region << 32 | UInt64(chunks) << 16, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 { wake.lock(); wake.broadcast(); wake.unlock() }
            takeChunks(region: region)
            var spins = 0
            while unfinished.load(ordering: .acquiring) > 0 {
                spins &+= 1
                if spins > 256 { sched_yield() }  // a worker the scheduler took off its core needs it back
            }
            body = nil
        }
        return true
    }

    /// Whether as many lanes of independent runs as cores are busy: they fill the cores already.
    @usableFromInline var lanesFillTheCores: Bool { lanes.load(ordering: .relaxed) >= Parallel.threads }

    /// Sends the spinning workers to sleep now rather than at the end of their spin, before
    /// OpenBLAS's own threads take the cores (BLAS.withOpenBLASThreads).
    func sendWorkersToSleep() { sleepNow.store(true, ordering: .relaxed) }

    /// Runs `body` as one lane of independent runs: while another lane is busy too, the pool
    /// sleeps and stays unused, since the runs already fill the cores and a spinning worker only
    /// takes time from them (measured: two DINO teacher-study runs side by side took 44–47 s with
    /// it spinning, 40–41 s without). The last lane still busy takes the pool back, so a run left
    /// alone at the end has both cores at full speed instead of an idle lane beside it. A lane
    /// that waits on lanes of its own (nested side-by-side runs; none today) still counts as busy.
    func lane<R>(_ body: () throws -> R) rethrows -> R {
        if lanes.add(1, ordering: .relaxed).newValue >= 2 { sendWorkersToSleep() }
        defer { lanes.subtract(1, ordering: .relaxed) }
        return try body()
    }

    /// Takes and runs chunks of `region` until none are left.
    private func takeChunks(region: UInt64) {
        var current = ticket.load(ordering: .acquiring)
        while current >> 32 == region, current & 0xFFFF < (current >> 16) & 0xFFFF {
            let (exchanged, seen) = ticket.compareExchange(expected: current, desired: current &+ 1, ordering: .acquiringAndReleasing)
            guard exchanged else { current = seen; continue }
            body!(Int(current & 0xFFFF))
            unfinished.subtract(1, ordering: .releasing)
            current = ticket.load(ordering: .acquiring)
        }
    }

    private func work() {
        Parallel.$isWorker.withValue(true) {
            var seen: UInt64 = 0
            while true {
                let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(Self.spinSeconds * 1e9)
                var spins = 0
                while ticket.load(ordering: .acquiring) >> 32 == seen {
                    spins &+= 1
                    sched_yield()  // spinning, but never in the way of a thread that has work
                    guard spins & 63 == 0,
                          sleepNow.load(ordering: .relaxed) || DispatchTime.now().uptimeNanoseconds > deadline else { continue }
                    wake.lock()
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    while ticket.load(ordering: .sequentiallyConsistent) >> 32 == seen { wake.wait() }
                    sleepers.subtract(1, ordering: .relaxed)
                    wake.unlock()
                }
                seen = ticket.load(ordering: .acquiring) >> 32
                takeChunks(region: seen)
            }
        }
    }
}
