// Fashion-MNIST (Xiao et al., 2017): 28×28 grayscale, 60 000 training and 10 000 test images of
// 10 kinds of clothing. Read from Debian's `dataset-fashion-mnist` or from a folder named by
// FASHION_MNIST_DIR.
import Foundation
import Tensor

/// Images and labels of one split. Pixels stay as bytes; batches are made on demand.
public struct ImageSet: Sendable {
    public let pixels: [UInt8]  // count × height × width
    public let labels: [Int]
    public let count: Int, height: Int, width: Int

    public init(pixels: [UInt8], labels: [Int], height: Int, width: Int) {
        precondition(pixels.count == labels.count * height * width, "ImageSet: pixel count does not match labels")
        (self.pixels, self.labels, self.count, self.height, self.width) = (pixels, labels, labels.count, height, width)
    }

    /// The images at `indices` as (B, 1, H, W) floats in [0, 1].
    public func images(_ indices: [Int]) -> Tensor {
        let plane = height * width
        let t = Tensor(uninitialized: [indices.count, 1, height, width])
        for (b, i) in indices.enumerated() {
            precondition(i >= 0 && i < count, "images: index \(i) outside the set's \(count) images")
            let dst = t.data + b * plane
            pixels.withUnsafeBufferPointer { src in
                for p in 0..<plane { dst[p] = Float(src[i * plane + p]) * (1 / 255) }
            }
        }
        return t
    }

    public func labels(_ indices: [Int]) -> [Int] { indices.map { labels[$0] } }

    /// The first `n` examples (smaller runs and tests).
    public func prefix(_ n: Int) -> ImageSet {
        let n = min(n, count)
        return ImageSet(pixels: Array(pixels[0..<n * height * width]), labels: Array(labels[0..<n]), height: height, width: width)
    }
}

public struct FashionMNIST: Sendable {
    public let train: ImageSet
    public let test: ImageSet
    /// Mean and standard deviation of the training pixels in [0, 1] (0.2860 and 0.3530).
    public let mean: Float, std: Float

    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    public static let systemDirectory = "/usr/share/datasets/fashion-mnist"
    public static let directoryVariable = "FASHION_MNIST_DIR"

    /// The folder to read: FASHION_MNIST_DIR if set and not empty, else Debian's.
    public static var defaultDirectory: String {
        ProcessInfo.processInfo.environment[directoryVariable].flatMap { $0.isEmpty ? nil : $0 } ?? systemDirectory
    }

    /// The CRC-32 of each file's decompressed bytes, by file name (without ".gz").
    public let checksums: [String: UInt32]
    /// The files' CRC-32s in one line (`name crc, …`): what a checkpoint or a cached model records
    /// of the data it learned from, and compares before it is used.
    public var fingerprint: String {
        checksums.keys.sorted().map { "\($0) \(String(format: "%08x", checksums[$0]!))" }.joined(separator: ", ")
    }

    public init(train: ImageSet, test: ImageSet, checksums: [String: UInt32] = [:]) {
        (self.train, self.test, self.checksums) = (train, test, checksums)
        var sum: Double = 0, sumSquares: Double = 0
        for p in train.pixels { let v = Double(p) / 255; sum += v; sumSquares += v * v }
        let n = Double(max(train.pixels.count, 1))
        mean = Float(sum / n)
        std = Float(max(sumSquares / n - (sum / n) * (sum / n), 1e-12).squareRoot())
    }

    /// The CRC-32 of each decompressed file of Debian's dataset-fashion-mnist (0.0~git20200523):
    /// the data every committed number was measured on.
    public static let debianChecksums: [String: UInt32] = [
        "train-images-idx3-ubyte": 0xb4f2_9f28, "train-labels-idx1-ubyte": 0x741a_4657,
        "t10k-images-idx3-ubyte": 0x678f_e0b1, "t10k-labels-idx1-ubyte": 0x8014_2c1f,
    ]
    public static let imageSize = 28
    /// A bound on the images of a split, far above Fashion-MNIST's 60 000 (and MNIST's).
    public static let maxImages = 100_000

    /// Reads the four IDX files (gzipped or not) and checks them against each other: 28×28 images,
    /// 1 to 100 000 of them, as many labels as images, each label a class.
    /// `flag` names the option that chose `directory` (--data), so the fix points at it; without
    /// a directory, FASHION_MNIST_DIR's or Debian's, and the fix points at the one read.
    public static func load(from directory: String? = nil, flag: String? = nil) throws -> FashionMNIST {
        let fromVariable = directory == nil && defaultDirectory != systemDirectory
        let directory = directory ?? defaultDirectory
        let fix = flag.map { "give \($0) a folder holding the four IDX files (train- and t10k-, images-idx3-ubyte and labels-idx1-ubyte, gzipped or not)" }
            ?? (fromVariable ? "set \(directoryVariable) (now '\(directory)') to a folder holding the four IDX files, or unset it to read Debian's"
                : "install Debian's dataset-fashion-mnist (`make setup`, or `sudo apt-get install dataset-fashion-mnist`) "
                  + "or set \(directoryVariable) to a folder holding the four IDX files")
        func find(_ name: String) throws -> String {
            for candidate in ["\(directory)/\(name).gz", "\(directory)/\(name)"] where FileManager.default.fileExists(atPath: candidate) {
                return candidate
            }
            throw DataError("Fashion-MNIST: \(directory)/\(name).gz not found; \(fix)")
        }
        var checksums: [String: UInt32] = [:]
        func split(_ prefix: String) throws -> ImageSet {
            let imagesName = "\(prefix)-images-idx3-ubyte", labelsName = "\(prefix)-labels-idx1-ubyte"
            let imagesPath = try find(imagesName), labelsPath = try find(labelsName)
            do {
                let images = try IDXArray(path: imagesPath, shape: IDXShape(itemSizes: [imageSize, imageSize], maxItems: maxImages))
                let labels = try IDXArray(path: labelsPath, shape: IDXShape(itemSizes: [], maxItems: maxImages))
                (checksums[imagesName], checksums[labelsName]) = (images.crc32, labels.crc32)
                guard images.sizes[0] == labels.sizes[0] else {
                    throw DataError("\(imagesPath) holds \(images.sizes[0]) images but \(labelsPath) holds \(labels.sizes[0]) labels")
                }
                if let bad = labels.values.firstIndex(where: { $0 >= 10 }) {
                    throw DataError("\(labelsPath): label \(labels.values[bad]) (item \(bad)) is not one of the 10 classes")
                }
                return ImageSet(pixels: images.values, labels: labels.values.map(Int.init), height: imageSize, width: imageSize)
            } catch let error as DataError {
                throw DataError("Fashion-MNIST: \(error.description); \(fix)")
            }
        }
        let train = try split("train"), test = try split("t10k")
        return FashionMNIST(train: train, test: test, checksums: checksums)
    }

    /// The files whose content is not Debian's, with a sentence saying so; nil when all match.
    public var differenceFromDebian: String? {
        let differing = checksums.keys.sorted().filter { checksums[$0] != FashionMNIST.debianChecksums[$0] }
        guard !differing.isEmpty else { return nil }
        return "the Fashion-MNIST files \(differing.joined(separator: ", ")) differ from Debian's dataset-fashion-mnist "
            + "(CRC-32 \(differing.map { String(format: "%08x", checksums[$0]!) }.joined(separator: ", "))); "
            + "the committed numbers are reproducible only on Debian's data"
    }

    /// (x − mean)/std with the training set's statistics.
    public func normalize(_ pixels: Tensor) -> Tensor {
        let y = Tensor(uninitialized: pixels.shape)
        let (scale, shift) = (1 / std, -mean / std)
        for i in 0..<pixels.count { y.data[i] = pixels.data[i] * scale + shift }
        return y
    }
}

/// Shuffled mini-batches of indices for one epoch. With `dropLast`, a final partial batch is left
/// out (every step then sees the same batch size, as DINO and DeiT's loaders do).
public func epochBatches(count: Int, batchSize: Int, dropLast: Bool = true, rng: inout RNG) -> [[Int]] {
    let order = rng.permutation(count)
    var batches: [[Int]] = []
    var start = 0
    while start < count {
        let end = min(start + batchSize, count)
        if end - start < batchSize && dropLast && !batches.isEmpty { break }
        batches.append(Array(order[start..<end]))
        start = end
    }
    return batches
}
