// The IDX format of (Fashion-)MNIST: a big-endian header — two zero bytes, a type code (0x08 =
// unsigned byte), the number of dimensions — then one 32-bit size per dimension, then the data.
// Files may be gzipped; zlib's gzread reads plain files through the same calls.
import CZlib
import Foundation

public struct DataError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The raw bytes of a file, gunzipped if it is gzip (zlib passes other files through unchanged).
func readMaybeGzipped(_ path: String) throws -> [UInt8] {
    guard let file = gzopen(path, "rb") else {
        throw DataError("\(path): cannot be opened (\(String(cString: strerror(errno))))")
    }
    defer { gzclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
        guard n > 0 else { break }  // 0 at the end, −1 on an error (reported below)
        bytes.append(contentsOf: chunk[0..<Int(n)])
    }
    var code: Int32 = 0
    let message = String(cString: gzerror(file, &code))
    // A truncated gzip stream ends in Z_BUF_ERROR ("unexpected end of file").
    if code != Z_OK && code != Z_STREAM_END {
        throw DataError("\(path): the gzip data is corrupt or truncated (\(message))")
    }
    return bytes
}

/// An IDX array of unsigned bytes with its sizes.
struct IDXArray {
    let sizes: [Int]
    let values: [UInt8]

    /// Parses and checks an IDX file: magic number, type, dimension count, and that the sizes in
    /// the header account for every byte that follows.
    init(path: String, dimensions: Int) throws {
        let bytes = try readMaybeGzipped(path)
        guard bytes.count >= 4 else { throw DataError("\(path): \(bytes.count) bytes, too short for an IDX header") }
        let magic = bytes[0..<4].reduce(0) { $0 << 8 | UInt32($1) }
        let expected = UInt32(0x0800 + dimensions)
        guard magic == expected else {
            throw DataError("\(path): magic number 0x\(String(magic, radix: 16, uppercase: true)) is not that of an IDX file of \(dimensions)-D unsigned bytes (0x\(String(expected, radix: 16, uppercase: true)))")
        }
        let headerBytes = 4 + 4 * dimensions
        guard bytes.count >= headerBytes else { throw DataError("\(path): the header is truncated") }
        sizes = (0..<dimensions).map { d in bytes[4 + 4 * d..<8 + 4 * d].reduce(0) { $0 << 8 | Int($1) } }
        let count = sizes.reduce(1, *)
        guard bytes.count - headerBytes == count else {
            throw DataError("\(path): the header promises \(sizes.map(String.init).joined(separator: "×")) = \(count) values but the file holds \(bytes.count - headerBytes)")
        }
        values = Array(bytes[headerBytes...])
    }
}
