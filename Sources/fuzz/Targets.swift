// What one fuzz case runs: a reader on a mutated file, ending in a value or a thrown error.
import Data
import Foundation
import Tensor

enum Target: String, CaseIterable {
    case safetensors, idx

    var corpus: [[UInt8]] {
        switch self {
        case .safetensors: Corpus.safetensors
        case .idx: Corpus.idxImages + Corpus.idxLabels
        }
    }

    /// Runs the reader on `bytes`; returns "value" or the kind of error it threw.
    func run(_ bytes: [UInt8], corpusIndex: Int, in folder: URL) -> String {
        do {
            switch self {
            case .safetensors:
                let url = folder.appendingPathComponent("case.safetensors")
                try Data(bytes).write(to: url)
                _ = try Safetensors.read(url, requireChecksum: corpusIndex % 2 == 0)
            case .idx:
                // The mutated file takes the place of the images (or labels) of the test split;
                // the training split stays valid, so the whole loader runs.
                let labels = corpusIndex >= Corpus.idxImages.count
                let name = labels ? "t10k-labels-idx1-ubyte" : "t10k-images-idx3-ubyte"
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
                try? FileManager.default.removeItem(at: folder.appendingPathComponent(name + ".gz"))
                let gzipped = bytes.starts(with: [0x1f, 0x8b])
                try Data(bytes).write(to: folder.appendingPathComponent(gzipped ? name + ".gz" : name))
                _ = try FashionMNIST.load(from: folder.path)
            }
            return "value"
        } catch {
            return "error: " + Target.kind(of: "\(error)")
        }
    }

    /// Lays out the three valid files the IDX cases keep.
    static func prepare(_ folder: URL) throws {
        try Data(Corpus.idxImages[0]).write(to: folder.appendingPathComponent("train-images-idx3-ubyte"))
        try Data(Corpus.idxLabels[0]).write(to: folder.appendingPathComponent("train-labels-idx1-ubyte"))
        try Data(Corpus.idxImages[0]).write(to: folder.appendingPathComponent("t10k-images-idx3-ubyte"))
        try Data(Corpus.idxLabels[0]).write(to: folder.appendingPathComponent("t10k-labels-idx1-ubyte"))
    }

    /// An error message's kind: what it says after the file's path, numbers and quotes dropped,
    /// its first five words.
    static func kind(of message: String) -> String {
        var text = message
        if let r = text.range(of: ".safetensors: ") ?? text.range(of: "-ubyte: ") ?? text.range(of: "-ubyte.gz: ") {
            text = String(text[r.upperBound...])
        }
        text = text.replacingOccurrences(of: "not a valid safetensors file: ", with: "")
        let words = text.split(separator: " ").filter { w in !w.contains(where: \.isNumber) && !w.contains("'") && !w.contains("\"") }
        return words.prefix(5).joined(separator: " ")
    }
}
