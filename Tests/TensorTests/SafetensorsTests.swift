// Checkpoints: round trip, a file written by the reference library, and every way a file can be
// broken — each rejected with its own message, none trusted before it is checked.
import Foundation
import Testing
import Tensor

@Suite("safetensors") struct SafetensorsTests {
    let directory: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("vitdistill-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    @Test func roundTrip() throws {
        var rng = RNG(seed: 31)
        let tensors: [(name: String, tensor: Tensor)] = [
            ("cls_token", Tensor.randn([1, 1, 8], rng: &rng)), ("blocks.0.attn.qkv.weight", Tensor.randn([24, 8], rng: &rng)),
            ("scalar", Tensor(scalar: -3.5)), ("empty", Tensor(zeros: [0, 4])),
        ]
        let url = directory.appendingPathComponent("model.safetensors")
        try Safetensors.write(tensors, metadata: ["seed": "31", "quote\"d": "ü"], to: url)
        let (loaded, metadata) = try Safetensors.read(url)
        #expect(loaded.map(\.name) == tensors.map(\.name))
        for ((_, a), (_, b)) in zip(loaded, tensors) {
            #expect(a.shape == b.shape)
            #expect(a.scalars == b.scalars)
        }
        #expect(metadata == ["seed": "31", "quote\"d": "ü"])
        // The data section starts 8-byte aligned, as the reference writer lays it out.
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect((8 + headerLength) % 8 == 0)
    }

    /// Written by huggingface/safetensors (Fixtures/make_fixtures.py): F32, F16, BF16 and a scalar.
    @Test func readsTheReferenceLibrarysFile() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/reference.safetensors")
        let (tensors, metadata) = try Safetensors.read(url)
        let byName = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) })
        #expect(byName["blocks.0.attn.qkv.weight"]?.shape == [3, 4])
        #expect(byName["blocks.0.attn.qkv.weight"]?.scalars == (0..<12).map { Float($0) / 8 })
        #expect(byName["half"]?.scalars == [1.5, -2.25, 65504])
        #expect(byName["brain"]?.shape == [1, 2])
        #expect(byName["brain"]?.scalars == [1, -3.5])
        #expect(byName["scalar"]?.shape == [])
        #expect(byName["scalar"]?.item == 7)
        #expect(metadata == ["format": "pt", "note": "fixture"])
    }

    /// A file from a header string and a data section.
    func file(header: String, data: [UInt8] = [], claimedLength: UInt64? = nil) -> URL {
        let h = Array(header.utf8)
        var bytes = Data()
        withUnsafeBytes(of: (claimedLength ?? UInt64(h.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: h)
        bytes.append(contentsOf: data)
        let url = directory.appendingPathComponent("\(UUID().uuidString).safetensors")
        try! bytes.write(to: url)
        return url
    }

    func expectRejected(_ url: URL, _ phrase: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try Safetensors.read(url)
            Issue.record("accepted a broken file; expected '\(phrase)'", sourceLocation: sourceLocation)
        } catch let error as SafetensorsError {
            #expect(error.description.contains(phrase), "message was: \(error.description)", sourceLocation: sourceLocation)
            #expect(error.description.contains(url.lastPathComponent), sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    /// A write that fails (a missing folder here; a full disk alike) says what the disk said,
    /// never that the file is not valid safetensors.
    @Test func aFailedWriteNamesTheWriteNotTheFormat() throws {
        let url = directory.appendingPathComponent("missing-\(UUID().uuidString)/model.safetensors")
        do {
            try Safetensors.write([("w", Tensor([1, 2], shape: [2]))], to: url)
            Issue.record("wrote into a missing folder")
        } catch {
            let text = "\(error)"
            #expect(error is FileError && text.contains("cannot be written") && !text.contains("not a valid"), "\(text)")
            #expect(text.contains(url.path), "\(text)")
        }
    }

    @Test func rejectsBrokenFiles() throws {
        let eight = [UInt8](repeating: 0, count: 8)
        let truncated = directory.appendingPathComponent("short.safetensors")
        try Data([1, 0, 0]).write(to: truncated)
        expectRejected(truncated, "truncated")
        expectRejected(file(header: "{}", claimedLength: 1 << 62), "runs past the end of the file")
        expectRejected(file(header: "{\"a\": {", data: eight), "not valid JSON")
        expectRejected(file(header: "[1, 2]"), "not a JSON object")
        expectRejected(file(header: #"{"a":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}}"#, data: eight), "unknown dtype 'Q7'")
        expectRejected(file(header: #"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: eight), "only F32, F16, BF16 and F64")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: eight), "past the end of the data")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), "overlaps")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), "belong to no tensor")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: eight), "belong to no tensor")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight), "span 8 bytes")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, data: eight), "larger than the file")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: eight), "non-negative integers")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: eight), "out of order")
        expectRejected(file(header: #"{"__metadata__":{"k":1}}"#), "not a string")
        expectRejected(directory.appendingPathComponent("missing.safetensors"), "cannot be opened (No such file or directory)")
        // Found by fuzzing: duplicate names, sizes that are not whole numbers, numbers past a
        // Double, a header far larger than its data, and files that are not files.
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), "duplicate key 'a'")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}"#, data: eight), "non-negative integers")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[true],"data_offsets":[0,8]}}"#, data: eight), "non-negative integers")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,1e400]}}"#, data: eight), "out of range")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}"#, data: eight), "non-negative integers")
        expectRejected(file(header: #"{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,8]}}"#, data: eight), "not valid JSON")
        expectRejected(file(header: "{" + String(repeating: " ", count: 2 << 20) + "}"), "header for 0 bytes of data")
        expectRejected(file(header: String(repeating: "[", count: 100) + String(repeating: "]", count: 100)), "nesting deeper than 64")
        expectRejected(URL(fileURLWithPath: "/dev/zero"), "is a device, not a regular file")
        let fifo = directory.appendingPathComponent("fifo.safetensors")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        expectRejected(fifo, "is a FIFO, not a regular file")
        expectRejected(directory, "is a folder, not a regular file")
    }

    /// Every file the project writes carries the CRC-32 of its data: a flipped byte is found, a
    /// file without the checksum is refused where one is required, and the checksum never shows
    /// in the metadata a reader gets.
    @Test func damagedDataIsFoundByItsChecksum() throws {
        let url = directory.appendingPathComponent("model.safetensors")
        try Safetensors.write([("w", Tensor([1, 2, 3, 4], shape: [4]))], metadata: ["k": "v"], to: url)
        #expect(try Safetensors.read(url, requireChecksum: true).metadata == ["k": "v"])
        var bytes = try Data(contentsOf: url)
        bytes[bytes.count - 3] ^= 0x40
        try bytes.write(to: url)
        expectRejected(url, "does not match its checksum")
        // A flipped byte in the metadata is found by its own checksum.
        try Safetensors.write([("w", Tensor([1, 2, 3, 4], shape: [4]))], metadata: ["k": "v"], to: url)
        var text = try Data(contentsOf: url)
        let at = text.firstRange(of: Data(#""k":"v""#.utf8))!.upperBound - 2
        text[at] = UInt8(ascii: "w")
        try text.write(to: url)
        expectRejected(url, "its header (metadata or tensor entries) does not match its checksum")
        // Two tensors of one shape with their names swapped in the header: data and metadata
        // intact, the entries not.
        try Safetensors.write([("a", Tensor([1, 2], shape: [2])), ("b", Tensor([3, 4], shape: [2]))], to: url)
        var swapped = try Data(contentsOf: url)
        let a = swapped.firstRange(of: Data(#""a":{"#.utf8))!.lowerBound + 1, b = swapped.firstRange(of: Data(#""b":{"#.utf8))!.lowerBound + 1
        (swapped[a], swapped[b]) = (UInt8(ascii: "b"), UInt8(ascii: "a"))
        try swapped.write(to: url)
        expectRejected(url, "its header (metadata or tensor entries) does not match its checksum")
        let unchecked = file(header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 128, 63])
        #expect(try Safetensors.read(unchecked).tensors.first?.tensor.item == 1)
        #expect(throws: SafetensorsError.self) { try Safetensors.read(unchecked, requireChecksum: true) }
    }

    @Test func strictJSONParsesWhatItShould() throws {
        let v = try StrictJSON.parse(#" {"a": [1, -2.5e3, "x\u00e9\ud83d\ude00\n"], "b": {"c": null, "d": true}} "#)
        #expect(v == .object([("a", .array([.number(text: "1", value: 1), .number(text: "-2.5e3", value: -2500),
                                               .string("xé😀\n")])),
                              ("b", .object([("c", .null), ("d", .bool(true))]))]))
        for bad in ["", "01", "[1,]", "{\"a\":1,}", "\"\\ud800\"", "tru", "[1] 2", "\"\u{01}\"", "-", "1.", "1e"] {
            #expect(throws: JSONError.self, "\(bad)") { try StrictJSON.parse(bad) }
        }
    }

    /// A write that cannot complete leaves nothing behind under the final name.
    @Test func failedWriteLeavesNoFile() {
        let url = directory.appendingPathComponent("no-such-folder/model.safetensors")
        #expect(throws: (any Error).self) { try Safetensors.write([("a", Tensor(scalar: 1))], to: url) }
        #expect(!FileManager.default.fileExists(atPath: url.path))
    }
}
