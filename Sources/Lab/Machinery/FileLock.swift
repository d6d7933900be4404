// A lock on a file in the cache, so two runs that need the same trained model (two experiments
// under `make -j`, a job array on one file system, two lanes of one experiment) train it once: the
// second waits, then loads what the first stored. flock's lock belongs to the open file, so on a
// local file system it also holds between threads of one process (NFS emulates it per process).
import Foundation
import Tensor

final class FileLock {
    private let descriptor: Int32

    /// Takes the exclusive lock on `path` (created if missing), waiting while another run holds
    /// it; says so first if it has to wait.
    init(_ path: String, waitingFor what: String) throws {
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FileError(path, "cannot be opened as a lock (\(String(cString: strerror(errno))))") }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            print("model cache: another run is making \(what); waiting for it")
            fflush(nil)
            while flock(descriptor, LOCK_EX) != 0 {
                guard errno == EINTR else {
                    close(descriptor)
                    throw FileError(path, "cannot be locked (\(String(cString: strerror(errno))))")
                }
            }
        }
    }

    /// The lock goes with the descriptor; a process that dies releases it too.
    deinit { close(descriptor) }
}
