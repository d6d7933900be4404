// The memory a run may use, stated once: half of this machine's, so a run leaves room for the
// system and a second job (make -j2), and a configuration whose estimate exceeds it stops before
// any work, naming the flags that shrink it.
import Foundation

public enum Memory {
    /// Half of the smaller of the machine's RAM and the container's limit (cgroup v2 memory.max).
    public static let budget: Double = {
        var total = Double(ProcessInfo.processInfo.physicalMemory)
        if let text = try? String(contentsOfFile: "/sys/fs/cgroup/memory.max", encoding: .utf8),
           let limit = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
            total = min(total, limit)
        }
        return total / 2
    }()

    /// Throws when `bytes` exceed the budget, with what needs them and how to need less.
    public static func check(_ bytes: Double, _ what: String, fix: String) throws {
        guard bytes > budget else { return }
        throw TrainingError(String(format: "%@ need about %.1f GB, more than the %.1f GB a run may use (half of this machine's memory, or of its container's limit); %@",
                                   what, bytes / 1e9, budget / 1e9, fix))
    }
}
