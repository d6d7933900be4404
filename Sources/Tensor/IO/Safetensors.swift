// Checkpoints in the safetensors format (huggingface/safetensors), which PyTorch and timm read:
//
//   [8 bytes: header length N, little-endian u64][N bytes: JSON header][raw tensor bytes]
//   header: {"<name>": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …,
//            "__metadata__": {"<key>": "<string>"}}   offsets relative to the data section.
//
// Reading treats the file as untrusted: the header's size is bounded by the data's, it is parsed
// strictly (unique names, whole sizes), every size it claims is checked against the file's real
// size before anything is allocated, the data against the CRC-32 the writer recorded in the
// metadata, and each problem has its own message.
import Foundation

public struct SafetensorsError: Error, CustomStringConvertible {
    public let file: String
    public let problem: String
    public var description: String { "\(file): not a valid safetensors file: \(problem)" }
}

public enum Safetensors {
    /// Element types we read (converted to Float32) and their sizes in bytes. F32 is what we write.
    static let readableTypes: [String: Int] = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8]
    /// Every dtype the format defines, to tell "unknown" from "known but not a float we load".
    static let knownTypes: Set<String> = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
                                          "I32", "U32", "F32", "F64", "I64", "U64"]

    /// Writes the tensors (Float32, in the given order) and string metadata, with the CRC-32 of
    /// the data. The file appears complete or not at all: it is written under a temporary name
    /// and renamed.
    public static func write(_ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
                             to url: URL) throws {
        var names = Set<String>()
        for (name, _) in tensors where !names.insert(name).inserted || name == "__metadata__" {
            throw SafetensorsError(file: url.path, problem: "tensor name '\(name)' is repeated or reserved")
        }
        var crc = crc32(UnsafeRawBufferPointer(start: nil, count: 0))
        for (_, tensor) in tensors {
            crc = crc32(UnsafeRawBufferPointer(start: tensor.data, count: 4 * tensor.count), continuing: crc)
        }
        var metadata = metadata.filter { $0.key != checksumKey && $0.key != headerChecksumKey }
        var layout: [TensorEntry] = [], end = 0
        for (name, tensor) in tensors {
            layout.append(TensorEntry(name: name, dtype: "F32", shape: tensor.shape, begin: end, end: end + 4 * tensor.count))
            end += 4 * tensor.count
        }
        metadata[headerChecksumKey] = hex(headerCRC(metadata, layout))
        metadata[checksumKey] = hex(crc)
        func quoted(_ s: String) -> String {
            String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
        }
        var entries: [String] = []
        do {
            let fields = metadata.keys.sorted().map { "\(quoted($0)):\(quoted(metadata[$0]!))" }
            entries.append("\"__metadata__\":{\(fields.joined(separator: ","))}")
        }
        var offset = 0
        for (name, tensor) in tensors {
            let bytes = tensor.count * 4
            entries.append("\(quoted(name)):{\"dtype\":\"F32\",\"shape\":[\(tensor.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        var header = Array("{\(entries.joined(separator: ","))}".utf8)
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        while (8 + header.count) % 8 != 0 { header.append(UInt8(ascii: " ")) }

        var file = [UInt8]()
        file.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: header)
        for (_, tensor) in tensors {
            // Float32 little-endian: this machine's layout (x86-64 and arm64 are little-endian).
            file.append(contentsOf: UnsafeRawBufferPointer(start: tensor.data, count: 4 * tensor.count))
        }
        // A failed write is the disk's or the folder's problem, not the format's: its FileError
        // ("cannot be written (No space left on device)") goes up as it is.
        try file.withUnsafeBytes { try RegularFile.writeAtomically($0, to: url.path) }
    }

    /// The metadata key of the CRC-32 of the data section, which `write` adds and `read` checks.
    public static let checksumKey = "crc32"
    /// The metadata key of the CRC-32 of the rest of the header: every tensor's entry (name,
    /// dtype, shape, offsets) and the rest of the metadata (a run's position, its history, a
    /// model's architecture). A flipped byte there, or two tensors' names swapped, must not load.
    public static let headerChecksumKey = "crc32_header"

    /// A tensor's entry in the header.
    struct TensorEntry { let name: String, dtype: String, shape: [Int], begin: Int, end: Int }

    /// CRC-32 of the metadata's fields in key order, each as key NUL value NUL in UTF-8, then of
    /// the tensors' entries in data order (then name order), each as name NUL dtype NUL shape NUL
    /// begin NUL end NUL (numbers in decimal, the shape's joined by commas).
    static func headerCRC(_ metadata: [String: String], _ entries: [TensorEntry]) -> UInt32 {
        var text: [UInt8] = []
        func field(_ s: String) { text.append(contentsOf: s.utf8); text.append(0) }
        for key in metadata.keys.sorted() { field(key); field(metadata[key]!) }
        // In data order, names breaking ties (zero-size tensors share an offset): the same order
        // whichever order the writer listed them or the reader sorted them.
        for e in entries.sorted(by: { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }) {
            field(e.name); field(e.dtype); field(e.shape.map(String.init).joined(separator: ","))
            field(String(e.begin)); field(String(e.end))
        }
        return text.withUnsafeBytes { crc32($0) }
    }

    /// Reads every tensor in the file, in data-offset order, with the metadata (less the
    /// checksum). A file that carries a checksum must match it; with `requireChecksum`, one
    /// without is refused too (the project's own checkpoints and cached models all carry one).
    public static func read(_ url: URL, requireChecksum: Bool = false) throws -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        let file = url.path
        func fail(_ problem: String) -> SafetensorsError { SafetensorsError(file: file, problem: problem) }
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(file) } catch let error as FileError { throw fail(error.problem) }
        guard bytes.count >= 8 else { throw fail("truncated: \(bytes.count) bytes, shorter than the 8-byte header length") }
        let headerLength = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw fail("header length \(headerLength) runs past the end of the file (\(bytes.count) bytes)")
        }
        let headerEnd = 8 + Int(headerLength)
        let dataSize = bytes.count - headerEnd
        guard Int(headerLength) <= headerLimit(dataBytes: dataSize) else {
            throw fail("a \(headerLength)-byte header for \(dataSize) bytes of data (the limit is \(headerLimit(dataBytes: dataSize)))")
        }
        let json: JSONValue
        do { json = try bytes.withUnsafeBytes { try StrictJSON.parse(UnsafeRawBufferPointer(rebasing: $0[8..<headerEnd])) } } catch {
            throw fail("the header is not valid JSON (\(error))")
        }
        guard let header = json.object else { throw fail("the header is not a JSON object") }

        var metadata: [String: String] = [:]
        if let meta = header.first(where: { $0.key == "__metadata__" })?.value {
            guard let m = meta.object else { throw fail("__metadata__ is not an object") }
            for (k, v) in m {
                guard let s = v.string else { throw fail("__metadata__ value for '\(k)' is not a string") }
                metadata[k] = s
            }
        }

        var entries: [TensorEntry] = []
        for (name, value) in header where name != "__metadata__" {
            guard let info = value.object else { throw fail("entry '\(name)' is not an object") }
            func field(_ key: String) -> JSONValue? { info.first(where: { $0.key == key })?.value }
            guard let dtype = field("dtype")?.string else { throw fail("tensor '\(name)' has no dtype") }
            guard knownTypes.contains(dtype) else { throw fail("tensor '\(name)' has unknown dtype '\(dtype)'") }
            guard let size = readableTypes[dtype] else {
                throw fail("tensor '\(name)' has dtype \(dtype); only F32, F16, BF16 and F64 can be loaded")
            }
            guard let shapeValues = field("shape")?.array, let shape = integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw fail("tensor '\(name)' has a shape that is not a list of non-negative integers")
            }
            guard let offsetValues = field("data_offsets")?.array, let offsets = integers(offsetValues), offsets.count == 2 else {
                throw fail("tensor '\(name)' has data_offsets that are not two integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard 0 <= begin, begin <= end else { throw fail("tensor '\(name)' has data_offsets [\(begin), \(end)] out of order") }
            guard end <= dataSize else {
                throw fail("tensor '\(name)' has data_offsets [\(begin), \(end)] past the end of the data (\(dataSize) bytes)")
            }
            // The product of the sizes is formed without trapping: each partial product is at
            // most the file's size.
            var elements = 1
            for s in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: s)
                guard !overflow, p <= dataSize else { throw fail("tensor '\(name)' has shape \(shape), larger than the file") }
                elements = p
            }
            guard elements * size == end - begin else {
                throw fail("tensor '\(name)' has shape \(shape) (\(elements * size) bytes of \(dtype)) but data_offsets span \(end - begin) bytes")
            }
            entries.append(TensorEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        for e in entries {
            if e.begin < covered { throw fail("tensor '\(e.name)' overlaps the tensor before it (bytes \(e.begin)..<\(covered))") }
            if e.begin > covered { throw fail("bytes \(covered)..<\(e.begin) of the data belong to no tensor") }
            covered = e.end
        }
        guard covered == dataSize else { throw fail("the last \(dataSize - covered) bytes of the data belong to no tensor") }

        if let written = metadata.removeValue(forKey: checksumKey) {
            let actual = bytes.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[headerEnd...])) }
            guard written == hex(actual) else {
                throw fail("its data does not match its checksum (CRC-32 \(hex(actual)), recorded \(written)): the file is damaged")
            }
        } else if requireChecksum {
            throw fail("it carries no checksum of its data (written by other code, or damaged)")
        }
        if let written = metadata.removeValue(forKey: headerChecksumKey) {
            let actual = hex(headerCRC(metadata, entries))
            guard written == actual else {
                throw fail("its header (metadata or tensor entries) does not match its checksum (CRC-32 \(actual), recorded \(written)): the file is damaged")
            }
        } else if requireChecksum {
            throw fail("it carries no checksum of its header (written by other or older code, or damaged)")
        }

        let tensors: [(name: String, tensor: Tensor)] = bytes.withUnsafeBytes { raw in
            entries.map { e in
                let t = Tensor(uninitialized: e.shape)
                decode(raw.baseAddress! + headerEnd + e.begin, dtype: e.dtype, count: t.count, into: t.data)
                return (e.name, t)
            }
        }
        return (tensors, metadata)
    }

    /// The longest header a file with `dataBytes` of data may have: 1 MB for names and metadata
    /// plus 4 bytes per data byte, at most 16 MB (the reference library allows 100 MB, which
    /// costs gigabytes to parse). The project's largest, a long DINO run's checkpoint with every
    /// step's diagnostics, is a few MB.
    static func headerLimit(dataBytes: Int) -> Int { min(16 << 20, (1 << 20) + 4 * min(dataBytes, 16 << 20)) }

    /// JSON integers (1.5, 1e3, "1" and true are rejected).
    private static func integers(_ values: [JSONValue]) -> [Int]? {
        var result: [Int] = []
        for v in values {
            guard let i = v.integer else { return nil }
            result.append(i)
        }
        return result
    }

    static func hex(_ crc: UInt32) -> String { String(format: "%08x", crc) }

    /// Little-endian raw elements to Float32.
    private static func decode(_ src: UnsafeRawPointer, dtype: String, count: Int, into dst: UnsafeMutablePointer<Float>) {
        switch dtype {
        case "F32":
            for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case "F64":
            for i in 0..<count { dst[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
        case "BF16":  // the top 16 bits of a Float32
            for i in 0..<count { dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        case "F16":
            for i in 0..<count { dst[i] = Float(Float16(bitPattern: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
        default:
            preconditionFailure("decode: dtype \(dtype) was not validated")
        }
    }
}
