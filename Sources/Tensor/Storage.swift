// Tensor memory: 64-byte-aligned Float32 buffers, recycled through a pool.
//
// A training step allocates the same shapes every iteration. Returning large buffers to the
// operating system and asking again means the kernel zeroes fresh pages on first touch: measured
// here, that was 57% of a softmax forward over ViT-S/16 attention scores. The pool keeps freed
// buffers by exact size and hands them back, up to a cap on the bytes it holds.
import Foundation
import Synchronization

/// A 64-byte-aligned Float32 buffer. Shared by tensors that are views of one another
/// (`reshaped`, `detached`); returned to the pool when the last of them goes.
public final class Storage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    init(count: Int, zeroed: Bool) {
        self.count = count
        pointer = BufferPool.allocate(count)
        if zeroed { pointer.update(repeating: 0, count: count) }
    }

    deinit { BufferPool.recycle(pointer, count) }
}

/// The allocator behind every tensor, with counters of the memory in use.
public enum BufferPool {
    /// Buffers smaller than this go straight to malloc, which reuses small blocks well.
    static let minimumPooledCount = 16_384  // 64 kB
    /// The pool holds at most this many bytes of free buffers; beyond it they are freed.
    static let capacityBytes = min(Int(ProcessInfo.processInfo.physicalMemory / 4), 8 << 30)

    private struct State {
        var free: [Int: [UInt]] = [:]   // element count → addresses of free buffers
        var freeBytes = 0
        var liveBytes = 0
        var peakLiveBytes = 0
    }
    private static let state = Mutex(State())

    static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let reused: UInt? = state.withLock { s in
            s.liveBytes += bytes
            s.peakLiveBytes = max(s.peakLiveBytes, s.liveBytes)
            guard count >= minimumPooledCount, let address = s.free[count]?.popLast() else { return nil }
            s.freeBytes -= bytes
            return address
        }
        if let reused { return UnsafeMutablePointer(bitPattern: reused)! }
        var raw: UnsafeMutableRawPointer?
        // Alignment 64: one AVX-512 register, one cache line.
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("Tensor: could not allocate \(bytes) bytes (\(count) floats)")
        }
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    static func recycle(_ pointer: UnsafeMutablePointer<Float>, _ count: Int) {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        let kept = state.withLock { s in
            s.liveBytes -= bytes
            guard count >= minimumPooledCount, s.freeBytes + bytes <= capacityBytes else { return false }
            s.free[count, default: []].append(UInt(bitPattern: pointer))
            s.freeBytes += bytes
            return true
        }
        if !kept { free(pointer) }
    }

    /// Bytes held by live tensors now, and the most held at once since the last reset.
    public static var liveBytes: Int { state.withLock { $0.liveBytes } }
    public static var peakLiveBytes: Int { state.withLock { $0.peakLiveBytes } }

    /// Starts a new peak measurement from the bytes live now.
    public static func resetPeak() { state.withLock { $0.peakLiveBytes = $0.liveBytes } }

    /// Frees every pooled buffer (between experiments with different shapes).
    public static func drain() {
        let addresses = state.withLock { s -> [UInt] in
            defer { s.free = [:]; s.freeBytes = 0 }
            return s.free.values.flatMap { $0 }
        }
        for a in addresses { free(UnsafeMutableRawPointer(bitPattern: a)) }
    }
}
