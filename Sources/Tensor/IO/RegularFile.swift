// Reading a file a user named, which may be anything: a FIFO would block a reader forever and
// /dev/zero never end, so only regular files are read, and every failure names the path and
// the cause in words (never a Foundation error dump).
import Glibc

public struct FileError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String
    public var description: String { "\(path): \(problem)" }
    public init(_ path: String, _ problem: String) { (self.path, self.problem) = (path, problem) }
}

public enum RegularFile {
    /// Opens `path` for reading and returns its descriptor and size; refuses folders, devices,
    /// FIFOs and sockets by kind (opened without blocking, then checked on the descriptor, so a
    /// link to a device is refused too).
    public static func open(_ path: String) throws -> (descriptor: Int32, size: Int) {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw FileError(path, "cannot be opened (\(String(cString: strerror(errno))))") }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let cause = String(cString: strerror(errno))
            close(fd)
            throw FileError(path, "cannot be read (\(cause))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw FileError(path, "is \(kind(info.st_mode)), not a regular file")
        }
        return (fd, Int(info.st_size))
    }

    /// The whole file, if it holds at most `maxBytes`.
    public static func read(_ path: String, maxBytes: Int = 1 << 34) throws -> [UInt8] {
        let (fd, size) = try open(path)
        defer { close(fd) }
        guard size <= maxBytes else { throw FileError(path, "is \(size) bytes, more than the \(maxBytes) this reader accepts") }
        return try [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let n = Glibc.read(fd, buffer.baseAddress! + count, size - count)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw FileError(path, "cannot be read (\(String(cString: strerror(errno))))") }
                guard n > 0 else { throw FileError(path, "ended after \(count) of its \(size) bytes while it was read") }
                count += n
            }
        }
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFDIR: "a folder"
        case S_IFIFO: "a FIFO"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFSOCK: "a socket"
        default: "of an unknown kind"
        }
    }
}
