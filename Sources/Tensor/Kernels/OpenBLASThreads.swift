// OpenBLAS's thread count, and why one call's choice must never reach another thread's call.
import CBLAS
import Glibc

extension BLAS {
    /// OpenBLAS runs every call on one thread; the core splits large products across its own
    /// threads (`sgemm` in MatMul.swift), so that one pool of threads does all the parallel work.
    ///
    /// Why: after each multi-threaded call, OpenBLAS's worker threads keep spinning on
    /// sched_yield for ~2^28 cycles (~0.1 s). On a 2-core machine that takes a core from whatever
    /// runs next — our softmax, GELU, layer norm and attention kernels. Measured: ViT-S/16's
    /// attention core took 8.1 ms right after a two-threaded sgemm and 5.0 ms alone. Set once, on
    /// the first product; the workers OpenBLAS started at load never get work and fall asleep.
    /// (Concurrent single-threaded calls are safe and give the same bits as serial ones: checked on
    /// OpenBLAS 0.3.21 with its Haswell, SkylakeX and Cooperlake kernels.)
    static func configureThreads() { _ = singleThreaded }
    private static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// Runs `body`, a single-threaded OpenBLAS call, never while another thread's call has
    /// OpenBLAS's threads on.
    ///
    /// The thread count is one global of the library, read as each call starts, and a threaded
    /// call blocks K differently: measured on 0.3.21, 1-thread and 2-thread sgemm differ in the
    /// last bits for most of the ViT's shapes with the Haswell kernels (every AVX2 CPU) and for
    /// some with SkylakeX. Without this lock, a square product on one thread (a concurrent test,
    /// a benchmark) turned a training run's products on another thread multi-threaded for its
    /// duration, and the run's numbers depended on the timing. Readers: single-threaded calls,
    /// any number at once; the writer: a call with OpenBLAS's threads, alone.
    @inline(__always)
    static func singleThreadedCall(_ body: () -> Void) {
        threadCountLock.read(body)
    }

    /// Runs `body` with OpenBLAS's own threading on (all cores), for square products and for
    /// comparisons with a raw multi-threaded cblas_sgemm call; no other thread's OpenBLAS call
    /// runs meanwhile. Restores single-threaded calls afterwards.
    public static func withOpenBLASThreads<R>(_ body: () throws -> R) rethrows -> R {
        configureThreads()
        WorkerPool.shared.sendWorkersToSleep()
        return try threadCountLock.write {
            openblas_set_num_threads(Int32(Parallel.threads))
            defer { openblas_set_num_threads(1) }
            return try body()
        }
    }

    private static let threadCountLock = ReadWriteLock()
}

/// pthread's reader-writer lock, preferring writers so that a stream of single-threaded products
/// on two threads cannot starve a threaded one. Not reentrant: a reader must not read again.
final class ReadWriteLock: @unchecked Sendable {
    private let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)

    init() {
        var attributes = pthread_rwlockattr_t()
        pthread_rwlockattr_init(&attributes)
        pthread_rwlockattr_setkind_np(&attributes, Int32(PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP))
        pthread_rwlock_init(lock, &attributes)
        pthread_rwlockattr_destroy(&attributes)
    }

    deinit {
        pthread_rwlock_destroy(lock)
        lock.deallocate()
    }

    @inline(__always)
    func read<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    func write<R>(_ body: () throws -> R) rethrows -> R {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }
}
