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

    /// The folder to read: FASHION_MNIST_DIR if set, else Debian's.
    public static var defaultDirectory: String {
        ProcessInfo.processInfo.environment[directoryVariable] ?? systemDirectory
    }

    public init(train: ImageSet, test: ImageSet) {
        (self.train, self.test) = (train, test)
        var sum: Double = 0, sumSquares: Double = 0
        for p in train.pixels { let v = Double(p) / 255; sum += v; sumSquares += v * v }
        let n = Double(max(train.pixels.count, 1))
        mean = Float(sum / n)
        std = Float(max(sumSquares / n - (sum / n) * (sum / n), 1e-12).squareRoot())
    }

    /// Reads the four IDX files (gzipped or not) and checks them against each other.
    public static func load(from directory: String = defaultDirectory) throws -> FashionMNIST {
        let fix = "install Debian's dataset-fashion-mnist (`make setup`, or `sudo apt-get install dataset-fashion-mnist`) "
            + "or set \(directoryVariable) to a folder holding the four IDX files"
        func find(_ name: String) throws -> String {
            for candidate in ["\(directory)/\(name).gz", "\(directory)/\(name)"] where FileManager.default.fileExists(atPath: candidate) {
                return candidate
            }
            throw DataError("Fashion-MNIST: \(directory)/\(name).gz not found; \(fix)")
        }
        func split(_ prefix: String) throws -> ImageSet {
            let imagesPath = try find("\(prefix)-images-idx3-ubyte"), labelsPath = try find("\(prefix)-labels-idx1-ubyte")
            do {
                let images = try IDXArray(path: imagesPath, dimensions: 3)
                let labels = try IDXArray(path: labelsPath, dimensions: 1)
                guard images.sizes[0] == labels.sizes[0] else {
                    throw DataError("\(imagesPath) holds \(images.sizes[0]) images but \(labelsPath) holds \(labels.sizes[0]) labels")
                }
                if let bad = labels.values.first(where: { $0 >= 10 }) {
                    throw DataError("\(labelsPath): label \(bad) is not one of the 10 classes")
                }
                return ImageSet(pixels: images.values, labels: labels.values.map(Int.init), height: images.sizes[1], width: images.sizes[2])
            } catch let error as DataError {
                throw DataError("Fashion-MNIST: \(error.description); \(fix)")
            }
        }
        let train = try split("train"), test = try split("t10k")
        guard train.height == test.height, train.width == test.width else {
            throw DataError("Fashion-MNIST: training images are \(train.height)×\(train.width) but test images \(test.height)×\(test.width)")
        }
        return FashionMNIST(train: train, test: test)
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
