// The IDX loader on small hand-written files: good (gzipped and plain), truncated, wrong magic,
// counts that disagree, a missing file — each refused with a message naming the file and the fix.
import CZlib
import Foundation
import Testing
import Data
import Tensor

/// A folder of four hand-made IDX files: `n` images of h×w with pixel (i, p) = (i·7 + p) % 256.
struct IDXFolder {
    let url: URL

    init(train: Int = 6, test: Int = 4, h: Int = 28, w: Int = 28, gzip: Bool = true) {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("idx-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (prefix, n) in [("train", train), ("t10k", test)] {
            write("\(prefix)-images-idx3-ubyte", IDXFolder.header(0x0803, [n, h, w]) + (0..<n * h * w).map { UInt8($0 * 7 % 256) }, gzip: gzip)
            write("\(prefix)-labels-idx1-ubyte", IDXFolder.header(0x0801, [n]) + (0..<n).map { UInt8($0 % 10) }, gzip: gzip)
        }
    }

    static func header(_ magic: UInt32, _ sizes: [Int]) -> [UInt8] {
        ([magic] + sizes.map(UInt32.init)).flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
    }

    /// Writes a file, gzipped through zlib or plain; removes any other variant of the name.
    func write(_ name: String, _ bytes: [UInt8], gzip: Bool) {
        try? FileManager.default.removeItem(at: url.appendingPathComponent(name))
        try? FileManager.default.removeItem(at: url.appendingPathComponent(name + ".gz"))
        if gzip {
            let file = gzopen(url.appendingPathComponent(name + ".gz").path, "wb")!
            _ = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
            gzclose(file)
        } else {
            try! Data(bytes).write(to: url.appendingPathComponent(name))
        }
    }

    func loadError() -> String? {
        do { _ = try FashionMNIST.load(from: url.path); return nil } catch { return "\(error)" }
    }
}

@Suite("Fashion-MNIST loader") struct LoaderTests {
    @Test(arguments: [true, false])
    func readsGoodFiles(_ gzip: Bool) throws {
        let folder = IDXFolder(gzip: gzip)
        let data = try FashionMNIST.load(from: folder.url.path)
        #expect(data.train.count == 6 && data.test.count == 4)
        #expect(data.train.height == 28 && data.train.width == 28)
        #expect(data.train.labels == [0, 1, 2, 3, 4, 5])
        #expect(Array(data.train.pixels.prefix(3)) == [0, 7, 14])
        let batch = data.train.images([1])  // pixels 784·7 … 1567·7 (mod 256), scaled to [0, 1]
        #expect(batch.shape == [1, 1, 28, 28])
        let expected: [Float] = (784..<1568).map { Float($0 * 7 % 256) / 255 }
        #expect(zip(batch.scalars, expected).allSatisfy { abs($0 - $1) < 1e-7 })
        // Normalization statistics are those of the training pixels.
        let pixels = (0..<6 * 784).map { Double($0 * 7 % 256) / 255 }
        let mean = pixels.reduce(0, +) / Double(pixels.count)
        #expect(abs(Double(data.mean) - mean) < 1e-6)
        #expect(abs(data.normalize(Tensor([Float(mean)], shape: [1])).item) < 1e-5)
    }

    @Test func missingFileNamesItAndTheFix() {
        let folder = IDXFolder()
        try! FileManager.default.removeItem(at: folder.url.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        let message = folder.loadError() ?? ""
        #expect(message.contains("t10k-labels-idx1-ubyte.gz not found"))
        #expect(message.contains("make setup") && message.contains("apt-get install dataset-fashion-mnist"))
        #expect(message.contains("FASHION_MNIST_DIR"))
    }

    @Test func truncatedData() {
        let folder = IDXFolder()
        folder.write("train-images-idx3-ubyte", IDXFolder.header(0x0803, [6, 28, 28]) + [UInt8](repeating: 1, count: 30), gzip: true)
        #expect(folder.loadError()?.contains("truncated: 6×28×28 = 4704 values needs 4704 bytes, the file has 30") == true)
    }

    @Test func truncatedGzipStream() throws {
        let folder = IDXFolder()
        let path = folder.url.appendingPathComponent("train-images-idx3-ubyte.gz")
        let bytes = try Data(contentsOf: path)
        try bytes.prefix(bytes.count - 12).write(to: path)  // cut into the deflate stream and trailer
        let message = folder.loadError() ?? ""
        #expect(message.contains("train-images-idx3-ubyte.gz") && message.contains("corrupt or truncated"), "\(message)")
    }

    @Test func wrongMagic() {
        let folder = IDXFolder()
        folder.write("train-labels-idx1-ubyte", IDXFolder.header(0x0803, [6]) + [UInt8](repeating: 1, count: 6), gzip: false)
        let message = folder.loadError() ?? ""
        #expect(message.contains("train-labels-idx1-ubyte") && message.contains("magic number 0x803"), "\(message)")
    }

    @Test func countsThatDisagree() {
        let folder = IDXFolder()
        folder.write("train-labels-idx1-ubyte", IDXFolder.header(0x0801, [5]) + [UInt8](repeating: 1, count: 5), gzip: true)
        #expect(folder.loadError()?.contains("holds 6 images but") == true)
    }

    @Test func labelsOutsideTheClasses() {
        let folder = IDXFolder()
        folder.write("t10k-labels-idx1-ubyte", IDXFolder.header(0x0801, [4]) + [1, 2, 12, 3], gzip: true)
        #expect(folder.loadError()?.contains("label 12 (item 2) is not one of the 10 classes") == true)
    }

    /// Headers a damaged download could carry: each refused by name, before any allocation.
    @Test(arguments: [
        ([0xffff_ffff, 0xffff_ffff, 0xffff_ffff], "the header gives sizes 4294967295×4294967295×4294967295; Fashion-MNIST's are N×28×28"),
        ([60_000, 0, 0], "the header gives sizes 60000×0×0; Fashion-MNIST's are N×28×28"),
        ([6, 14, 56], "the header gives sizes 6×14×56; Fashion-MNIST's are N×28×28"),
        ([0, 28, 28], "the header gives 0 items; expected 1 to 100000"),
        ([1 << 20, 28, 28], "the header gives 1048576 items; expected 1 to 100000"),
    ])
    func impossibleImageHeaders(_ sizes: [Int], _ expected: String) {
        let folder = IDXFolder()
        folder.write("train-images-idx3-ubyte", IDXFolder.header(0x0803, sizes) + [UInt8](repeating: 0, count: 64), gzip: true)
        let message = folder.loadError() ?? ""
        #expect(message.contains("train-images-idx3-ubyte.gz: \(expected)") && message.contains("FASHION_MNIST_DIR"), "\(message)")
    }

    @Test func emptyLabelFile() {
        let folder = IDXFolder()
        folder.write("t10k-labels-idx1-ubyte", IDXFolder.header(0x0801, [0]), gzip: false)
        #expect(folder.loadError()?.contains("t10k-labels-idx1-ubyte: the header gives 0 items") == true)
    }

    /// More data than the header promises is refused after reading one byte past it: a gzip that
    /// inflates to 256 MB costs the 4 704 bytes the header asked for.
    @Test func dataBeyondTheHeaderIsRefusedWithoutInflatingIt() {
        let folder = IDXFolder()
        let path = folder.url.appendingPathComponent("train-images-idx3-ubyte.gz").path
        let file = gzopen(path, "wb9")!
        let header = IDXFolder.header(0x0803, [6, 28, 28])
        _ = header.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<256 { _ = zeros.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) } }
        gzclose(file)
        let start = Date()
        let message = folder.loadError() ?? ""
        #expect(message.contains("holds more than the 6×28×28 = 4704 values its header promises"), "\(message)")
        #expect(Date().timeIntervalSince(start) < 30)  // a hang guard, not a timing claim
    }

    /// A FIFO would block a reader forever and /dev/zero never end: both are refused by kind.
    @Test func nonRegularFilesAreRefusedByName() throws {
        let folder = IDXFolder()
        let images = folder.url.appendingPathComponent("train-images-idx3-ubyte.gz")
        try FileManager.default.removeItem(at: images)
        try FileManager.default.createSymbolicLink(atPath: images.path, withDestinationPath: "/dev/zero")
        #expect(folder.loadError()?.contains("train-images-idx3-ubyte.gz: is a device, not a regular file") == true)
        try FileManager.default.removeItem(at: images)
        #expect(mkfifo(images.path, 0o600) == 0)
        #expect(folder.loadError()?.contains("train-images-idx3-ubyte.gz: is a FIFO, not a regular file") == true)
        try FileManager.default.removeItem(at: images)
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: false)
        #expect(folder.loadError()?.contains("train-images-idx3-ubyte.gz: is a folder, not a regular file") == true)
    }

    /// Data other than Debian's loads, and says that it differs; Debian's own matches.
    @Test func checksumsTellDebiansDataFromOther() throws {
        let data = try FashionMNIST.load(from: IDXFolder().url.path)
        #expect(data.checksums.count == 4)
        #expect(data.differenceFromDebian?.contains("train-images-idx3-ubyte") == true)
        if let real = try? FashionMNIST.load() { #expect(real.differenceFromDebian == nil) }
    }

    @Test func epochBatchesCoverEachIndexOnce() {
        var rng = RNG(seed: 3)
        let batches = epochBatches(count: 10, batchSize: 3, rng: &rng)
        #expect(batches.count == 3 && batches.allSatisfy { $0.count == 3 })  // the partial batch is dropped
        #expect(Set(batches.joined()).count == 9)
        let all = epochBatches(count: 10, batchSize: 3, dropLast: false, rng: &rng)
        #expect(all.joined().sorted() == Array(0..<10))
    }

    /// The real dataset, when installed: the published sizes and statistics.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: FashionMNIST.defaultDirectory)))
    func theRealDataset() throws {
        let data = try FashionMNIST.load()
        #expect(data.train.count == 60_000 && data.test.count == 10_000)
        #expect(abs(data.mean - 0.2860) < 1e-3 && abs(data.std - 0.3530) < 1e-3)
    }
}
