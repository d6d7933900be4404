// Files a user named, which may be anything: a FIFO would block a reader forever and /dev/zero
// never end, so only regular files are read; files are written whole or not at all; and every
// failure names the path and the cause in words (never a Foundation error dump).
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

    /// Writes `bytes` to `path` so that the file appears whole or not at all: into a new
    /// temporary file in the same folder, flushed to disk, then renamed over `path`. The folder
    /// must exist; every failure names the path and its cause.
    public static func writeAtomically(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        try putInPlace(try writeTemporary(bytes, for: path), at: path)
    }

    /// The first half of `writeAtomically`: `bytes` in a new temporary file beside `path`
    /// (`.<name>.<pid>.<random>.tmp`), flushed to disk; returns its path. Temporaries that a
    /// killed process left in the folder are removed first.
    public static func writeTemporary(_ bytes: UnsafeRawBufferPointer, for path: String) throws -> String {
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let name = path.split(separator: "/").last.map(String.init) ?? path
        removeStaleTemporaries(in: folder.isEmpty ? "/" : folder)
        var suffix = SystemRandomNumberGenerator()
        let temporary = "\(folder.isEmpty ? "" : folder)/.\(name).\(getpid()).\(String(suffix.next() & 0xffff_ffff, radix: 16)).tmp"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileError(path, "cannot be written (\(String(cString: strerror(errno))))") }
        func fail(_ what: String) -> FileError {
            let cause = String(cString: strerror(errno))
            close(fd)
            unlink(temporary)
            return FileError(path, "\(what) (\(cause))")
        }
        var done = 0
        while done < bytes.count {
            let n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw fail("cannot be written") }
            done += n
        }
        guard fsync(fd) == 0 else { throw fail("cannot be flushed to disk") }
        guard close(fd) == 0 else { unlink(temporary); throw FileError(path, "cannot be written (\(String(cString: strerror(errno))))") }
        return temporary
    }

    /// The second half of `writeAtomically`: renames `temporary` over `path` (removing it if that fails).
    public static func putInPlace(_ temporary: String, at path: String) throws {
        // Fault injection for the kill -9 tests: die with the temporary written, before the rename.
        if let victim = getenv("VITDISTILL_TEST_KILL_BEFORE_RENAME"), victim.pointee != 0, path.hasSuffix(String(cString: victim)) {
            raise(SIGKILL)
        }
        guard rename(temporary, path) == 0 else {
            let cause = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError(path, "cannot be put in place (\(cause))")
        }
    }

    /// Renames every temporary over its path as one step that a kill cannot leave half done: the
    /// pairs go first into a journal in `folder` (`.renames.<pid>.journal`, itself written
    /// atomically), and if the process dies between two renames, the next writer in the folder
    /// finishes them (`removeStaleTemporaries`), so the set ends whole and new. A failure removes
    /// the journal and the temporaries not yet renamed before it is thrown.
    public static func putAllInPlace(_ pairs: [(temporary: String, path: String)], folder: String) throws {
        let journal = "\(folder)/.renames.\(getpid()).journal"
        var done = 0
        do {
            let text = Array(pairs.map { "\($0.temporary)\0\($0.path)\0" }.joined().utf8)
            try text.withUnsafeBytes { try writeAtomically($0, to: journal) }
            for pair in pairs {
                try putInPlace(pair.temporary, at: pair.path)
                done += 1
            }
            unlink(journal)
        } catch {
            for pair in pairs.dropFirst(done) { unlink(pair.temporary) }
            unlink(journal)
            throw error
        }
    }

    /// The files in `folder` that `writeTemporary` (`.<name>.<pid>.<hex>.tmp`) and `putAllInPlace`
    /// (`.renames.<pid>.journal`) make, by the pid their name carries.
    private static func ownedFiles(in folder: String) -> (temporaries: [(name: String, pid: Int32)], journals: [(name: String, pid: Int32)]) {
        guard let directory = opendir(folder) else { return ([], []) }
        defer { closedir(directory) }
        var found: ([(String, Int32)], [(String, Int32)]) = ([], [])
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let parts = name.split(separator: ".")
            if name.hasPrefix(".renames."), name.hasSuffix(".journal"), parts.count == 3, let pid = Int32(parts[1]) {
                found.1.append((name, pid))
            } else if name.hasPrefix("."), name.hasSuffix(".tmp"), parts.count >= 4, let pid = Int32(parts[parts.count - 3]),
                      UInt32(parts[parts.count - 2], radix: 16) != nil {
                found.0.append((name, pid))
            }
        }
        return found
    }

    /// Finishes the renames of the journals in `folder` whose process no longer runs (a run
    /// killed while putting a set in place), then removes the temporaries `writeTemporary` made
    /// there whose process no longer runs (a run killed mid-write); those of running processes
    /// stay. Whether a process runs is decided once per pid, so a writer that dies meanwhile keeps
    /// its temporaries and journal for the next pass. A journal is untrusted: only pairs of a
    /// temporary of its own process in this folder and a file beside it are renamed, and only over
    /// a file no newer than the journal (a set written since stands).
    public static func removeStaleTemporaries(in folder: String) {
        let (temporaries, journals) = ownedFiles(in: folder)
        var gone: [Int32: Bool] = [:]
        func isGone(_ pid: Int32) -> Bool {
            if let known = gone[pid] { return known }
            let result = kill(pid, 0) != 0 && errno == ESRCH
            gone[pid] = result
            return result
        }
        func modified(_ path: String) -> timespec? {
            var info = stat()
            return stat(path, &info) == 0 ? info.st_mtim : nil
        }
        for (name, pid) in journals where isGone(pid) {
            let journal = "\(folder)/\(name)"
            if let written = modified(journal), let bytes = try? read(journal, maxBytes: 1 << 20) {
                let fields = bytes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
                for i in stride(from: 0, to: fields.count - 1, by: 2) {
                    let (temporary, path) = (fields[i], fields[i + 1])
                    let base = path.split(separator: "/").last.map(String.init) ?? ""
                    guard temporary.hasPrefix("\(folder)/.\(base).\(pid)."), temporary.hasSuffix(".tmp"), path == "\(folder)/\(base)",
                          access(temporary, F_OK) == 0 else { continue }
                    if let existing = modified(path), (existing.tv_sec, existing.tv_nsec) > (written.tv_sec, written.tv_nsec) { continue }
                    _ = rename(temporary, path)
                }
            }
            unlink(journal)
        }
        for (name, pid) in temporaries where isGone(pid) { unlink("\(folder)/\(name)") }
    }

    /// Creates the folder `path` and any missing parents (`mkdir -p`); says so if something
    /// other than a folder stands in the way.
    public static func createFolders(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            if mkdir(prefix, 0o755) == 0 { continue }
            let cause = errno
            var info = stat()
            if stat(prefix, &info) == 0 {
                guard info.st_mode & S_IFMT == S_IFDIR else { throw FileError(prefix, "is \(kind(info.st_mode)), not a folder") }
                continue
            }
            throw FileError(prefix, "cannot be created (\(String(cString: strerror(cause))))")
        }
    }

    /// Creates the folder `path` and checks that a file can be written in it (a read-only folder
    /// or a full disk is found now, not after hours of training).
    public static func prepareWritableFolder(_ path: String) throws {
        try createFolders(path)
        try writeAtomically(UnsafeRawBufferPointer(start: nil, count: 0), to: "\(path)/.write-check")
        unlink("\(path)/.write-check")
    }

    static func kind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a file"
        case S_IFDIR: "a folder"
        case S_IFIFO: "a FIFO"
        case S_IFCHR, S_IFBLK: "a device"
        case S_IFSOCK: "a socket"
        default: "of an unknown kind"
        }
    }
}
