// The inputs mutations start from: small valid files of each format, and every damaged file a
// user's report or an earlier fuzzing run found (each also a unit test), run first unmutated.
import CZlib
import Foundation
import Tensor

enum Corpus {
    /// A big-endian IDX header: magic, then one 32-bit size per dimension.
    static func idxHeader(_ magic: UInt32, _ sizes: [UInt32]) -> [UInt8] {
        ([magic] + sizes).flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
    }

    static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        var bound = compressBound(uLong(bytes.count)) + 32
        var out = [UInt8](repeating: 0, count: Int(bound))
        var stream = z_stream()
        deflateInit2_(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress)
                stream.avail_in = uInt(input.count)
                stream.next_out = output.baseAddress
                stream.avail_out = uInt(output.count)
                deflate(&stream, Z_FINISH)
                bound = uLong(output.count) - uLong(stream.avail_out)
            }
        }
        deflateEnd(&stream)
        return Array(out[0..<Int(bound)])
    }

    /// Images files (the one of the four the fuzzer replaces): two 28×28 images, plain and
    /// gzipped, then the headers that crashed, hung or misled the old reader.
    static let idxImages: [[UInt8]] = {
        let pixels = (0..<2 * 784).map { UInt8($0 * 7 % 256) }
        let good = idxHeader(0x0803, [2, 28, 28]) + pixels
        return [good, gzip(good),
                idxHeader(0x0803, [0xffff_ffff, 0xffff_ffff, 0xffff_ffff]),   // sizes whose product overflows
                idxHeader(0x0803, [60_000, 0, 0]),                             // 0×0 images
                idxHeader(0x0803, [2, 14, 56]) + pixels,                       // another shape
                idxHeader(0x0803, [0, 28, 28]),                                // no images
                gzip(idxHeader(0x0803, [2, 28, 28]) + [UInt8](repeating: 0, count: 1 << 20)),  // inflates past its header
                idxHeader(0x0803, [2, 28, 28]) + pixels.prefix(100)]           // truncated
    }()

    /// Label files: two labels, plain and gzipped, then no labels and a class out of range.
    static let idxLabels: [[UInt8]] = {
        let good = idxHeader(0x0801, [2]) + [3, 7]
        return [good, gzip(good), idxHeader(0x0801, [0]), idxHeader(0x0801, [2]) + [3, 12]]
    }()

    /// safetensors files: written by the project (with a checksum), with metadata, and the
    /// broken headers the unit tests name.
    static let safetensors: [[UInt8]] = {
        var rng = RNG(seed: 1)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-corpus-\(getpid())")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func written(_ tensors: [(name: String, tensor: Tensor)], _ metadata: [String: String]) -> [UInt8] {
            let url = folder.appendingPathComponent("\(tensors.count)-\(metadata.count).safetensors")
            try! Safetensors.write(tensors, metadata: metadata, to: url)
            return Array(try! Data(contentsOf: url))
        }
        func raw(_ header: String, _ data: [UInt8] = []) -> [UInt8] {
            withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { Array($0) } + Array(header.utf8) + data
        }
        let eight = [UInt8](repeating: 0, count: 8)
        return [
            written([("cls_token", Tensor.randn([1, 1, 8], rng: &rng)), ("blocks.0.attn.qkv.weight", Tensor.randn([24, 8], rng: &rng)),
                     ("scalar", Tensor(scalar: -3.5)), ("empty", Tensor(zeros: [0, 4]))], [:]),
            written([("w", Tensor.randn([4, 4], rng: &rng))], ["format": "vitdistill training checkpoint 1",
                                                               "loop": #"{"epoch":1,"step":3,"rng":[1,2,3,4],"sums":[0.5]}"#]),
            raw(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, eight),
            raw(#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, eight),
            raw(#"{"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}"#, eight),
            raw("{" + String(repeating: " ", count: 4096) + "}"),
            raw(String(repeating: "[", count: 100)),
        ]
    }()
}
