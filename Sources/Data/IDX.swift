// The IDX format of (Fashion-)MNIST: a big-endian header — two zero bytes, a type code (0x08 =
// unsigned byte), the number of dimensions — then one 32-bit size per dimension, then the data.
// Files may be gzipped; zlib's gzread reads plain files through the same calls.
//
// The files are untrusted: the header is read and checked first, and then exactly the bytes it
// promises are read into one buffer of that size, so a damaged header or a gzip bomb costs
// nothing before it is refused.
import CZlib
import Foundation
import Tensor

public struct DataError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What an IDX file must hold: its magic number's dimension count, the sizes of every dimension
/// after the first (28×28 for images, none for labels), and at most how many items.
struct IDXShape {
    let itemSizes: [Int]
    let maxItems: Int
    var dimensions: Int { 1 + itemSizes.count }
}

/// An IDX array of unsigned bytes with its sizes, and the CRC-32 of the file's decompressed bytes.
struct IDXArray {
    let sizes: [Int]
    let values: [UInt8]
    let crc32: UInt32

    init(path: String, shape: IDXShape) throws {
        let file = try GzipReader(path: path)
        var crc = crc32_z(0, nil, 0)
        // In pieces of at most 1 MB, so memory grows with the data actually there, not with what a
        // header claims.
        func readExactly(_ count: Int, _ what: String) throws -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(min(count, 1 << 20))
            var piece = [UInt8](repeating: 0, count: min(count, 1 << 20))
            while bytes.count < count {
                let want = min(count - bytes.count, piece.count)
                let got = try piece.withUnsafeMutableBytes { try file.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want])) }
                bytes.append(contentsOf: piece[0..<got])
                if got < want { break }
            }
            guard bytes.count == count else {
                throw DataError("\(path): truncated: \(what) needs \(count) bytes, the file has \(bytes.count)")
            }
            crc = bytes.withUnsafeBufferPointer { crc32_z(crc, $0.baseAddress, $0.count) }
            return bytes
        }
        func bigEndian(_ bytes: ArraySlice<UInt8>) -> UInt32 { bytes.reduce(0) { $0 << 8 | UInt32($1) } }

        let expected = UInt32(0x0800 + shape.dimensions)
        let magic = bigEndian(try readExactly(4, "the magic number")[...])
        guard magic == expected else {
            throw DataError("\(path): magic number 0x\(String(magic, radix: 16, uppercase: true)) is not that of an IDX file of "
                            + "\(shape.dimensions)-D unsigned bytes (0x\(String(expected, radix: 16, uppercase: true)))")
        }
        let header = try readExactly(4 * shape.dimensions, "the header")
        sizes = (0..<shape.dimensions).map { Int(bigEndian(header[4 * $0..<4 * $0 + 4])) }
        let sizesText = sizes.map(String.init).joined(separator: "×")
        guard Array(sizes.dropFirst()) == shape.itemSizes else {
            throw DataError("\(path): the header gives sizes \(sizesText); Fashion-MNIST's are N"
                            + shape.itemSizes.map { "×\($0)" }.joined())
        }
        guard (1...shape.maxItems).contains(sizes[0]) else {
            throw DataError("\(path): the header gives \(sizes[0]) items; expected 1 to \(shape.maxItems)")
        }
        // Both factors are bounded above, so the product fits.
        let count = sizes[0] * shape.itemSizes.reduce(1, *)
        values = try readExactly(count, "\(sizesText) = \(count) values")
        var extra: UInt8 = 0
        guard try withUnsafeMutableBytes(of: &extra, { try file.read(into: $0) }) == 0 else {
            throw DataError("\(path): the file holds more than the \(sizesText) = \(count) values its header promises")
        }
        crc32 = UInt32(crc)
    }
}

/// Reads a regular file through zlib, gunzipping it if it is gzip (RegularFile refuses the rest).
final class GzipReader {
    private let path: String
    private let file: gzFile

    init(path: String) throws {
        self.path = path
        let descriptor: Int32
        do { descriptor = try RegularFile.open(path).descriptor } catch let error as FileError {
            throw DataError(error.description)
        }
        guard let file = gzdopen(descriptor, "rb") else {
            close(descriptor)
            throw DataError("\(path): cannot be opened (\(String(cString: strerror(errno))))")
        }
        self.file = file
    }

    deinit { gzclose(file) }

    /// Fills `buffer` from the file; returns how many bytes it got (fewer only at the end).
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = gzread(file, buffer.baseAddress! + done, UInt32(min(buffer.count - done, 1 << 30)))
            if n < 0 { throw corrupt() }
            if n == 0 { break }
            done += Int(n)
        }
        // At the end, zlib has checked the gzip trailer; a truncated stream ends in Z_BUF_ERROR.
        if done < buffer.count {
            var code: Int32 = 0
            _ = gzerror(file, &code)
            if code != Z_OK && code != Z_STREAM_END { throw corrupt() }
        }
        return done
    }

    private func corrupt() -> DataError {
        var code: Int32 = 0
        let message = String(cString: gzerror(file, &code))
        return DataError("\(path): the gzip data is corrupt or truncated (\(message))")
    }
}
