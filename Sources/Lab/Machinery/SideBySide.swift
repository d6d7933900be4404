// Independent training runs (seeds, teachers) on the machine's cores at once. One small run
// keeps two cores only about 75 % busy: its steps are chains of small products and elementwise
// kernels with a hand-off between threads in each. Two runs side by side fill the gaps
// (papers/dino-sweep.md measures the gain). A lane with no job left ends, and the run still
// going takes both cores back (Parallel.lane), so the last run never trains beside an idle lane.
//
// The bits do not change: each kernel splits its work by the size of the work and the core
// count, never by load (Parallel.forEachChunk), and OpenBLAS's multi-threaded products run
// alone (BLAS.withOpenBLASThreads). A run gives the same result alone or beside another.
import Foundation
import Tensor

public enum SideBySide {
    /// Calls `job(i)` for every i in 0..<count, at most `lanes` at a time, each on its own
    /// thread; returns the results in job order. After a job throws, no new job starts; the
    /// running ones finish (a stop signal stops each at its next step, with its checkpoint) and
    /// the first error is rethrown.
    public static func run<T>(_ count: Int, lanes: Int = Parallel.threads, _ job: @escaping (Int) throws -> T) throws -> [T] {
        let lanes = max(1, min(lanes, count))
        if lanes == 1 { return try (0..<count).map(job) }
        return try runLanes(count, lanes: lanes, job)
    }

    private static func runLanes<T>(_ count: Int, lanes: Int, _ job: @escaping (Int) throws -> T) throws -> [T] {
        let state = State<T>(count: count)
        let shared = UncheckedSendable(job)
        let done = DispatchGroup(), start = Date()
        for _ in 0..<lanes {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                Parallel.lane {
                    while let i = state.nextJob() {
                        do { state.finish(i, with: try shared.value(i)) } catch { state.fail(error) }
                    }
                }
                state.laneEnded(after: Date().timeIntervalSince(start))
            }
            thread.stackSize = 64 << 20  // as deep as the main thread's: autograd recurses
            thread.start()
        }
        done.wait()
        TimeBreakdown.ranSideBySide(laneSeconds: state.laneSeconds, wallSeconds: Date().timeIntervalSince(start))
        if let error = state.error { throw error }
        return state.results.map { $0! }
    }

    /// The jobs handed out and the results back, behind one lock.
    private final class State<T>: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var results: [T?]
        private(set) var error: (any Error)?
        private var next = 0
        private(set) var laneSeconds: Double = 0

        init(count: Int) { results = Array(repeating: nil, count: count) }

        func nextJob() -> Int? {
            lock.withLock {
                guard error == nil, next < results.count else { return nil }
                defer { next += 1 }
                return next
            }
        }

        func finish(_ job: Int, with result: T) { lock.withLock { results[job] = result } }

        func fail(_ e: any Error) { lock.withLock { if error == nil { error = e } } }

        func laneEnded(after seconds: Double) { lock.withLock { laneSeconds += seconds } }
    }
}
