// Trained models kept between runs, so an experiment reuses what another one trained.
import Data
import Foundation
import NN
import Tensor

/// Checkpoints of trained models in `<cache>/<folder>/` (teachers, and the students one experiment
/// trains and another inspects), keyed by name, scale, seed and a hash of the architecture and
/// recipe, so changing a hyperparameter never reuses a stale model.
public struct ModelCache {
    public let directory: URL

    public init(root: URL, folder: String = "teachers") { directory = root.appendingPathComponent(folder, isDirectory: true) }

    public func url(name: String, scale: Scale, seed: UInt64, recipe: some Encodable) -> URL {
        directory.appendingPathComponent(Self.fileName(name: name, scale: scale, seed: seed, recipe: recipe))
    }

    /// `<name>-<scale>-seed<seed>-<FNV-1a of the recipe's sorted-key JSON, hex>.safetensors`.
    public static func fileName(name: String, scale: Scale, seed: UInt64, recipe: some Encodable) -> String {
        let fingerprint = fnv1a(identityJSON(recipe))
        return "\(name)-\(scale.rawValue)-seed\(seed)-\(String(fingerprint, radix: 16)).safetensors"
    }

    /// `recipe` as sorted-key JSON: what a file name hashes, and what a cached model records.
    static func identityJSON(_ recipe: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Recipes are validated to be finite; the strategy only keeps a stray NaN from trapping.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: (try? encoder.encode(recipe)) ?? Data(), as: UTF8.self)
    }

    /// A trained model's artifact: loads `model` and the history of its training from `file` if
    /// a sound one is there (its checksum matches, its values are finite, it fits the model, its
    /// history reads back); otherwise runs `train` (saying why), which returns that history, and
    /// stores both. Holds `file`'s lock throughout, so a second run (a process, or another lane of
    /// this one) asking for the same model waits for the first, then loads it.
    /// With `data` (the dataset's fingerprint), a file trained on other data is retrained too.
    public func loadOrTrain<History: Codable>(_ model: any Module, at file: URL, recipe: String? = nil, data: String? = nil,
                                              train: () throws -> History) throws -> (history: History, trained: Bool) {
        let name = file.lastPathComponent
        try RegularFile.createFolders(directory.path)
        let lock = try FileLock(file.path + ".lock", waitingFor: name)
        defer { withExtendedLifetime(lock) {} }
        if FileManager.default.fileExists(atPath: file.path) {
            do {
                let metadata = try model.load(from: file, requireChecksum: true)
                guard metadata["artifact"] == name else {
                    throw CheckpointError("it was saved as '\(metadata["artifact"] ?? "an unnamed model")', not as \(name)")
                }
                if let data, metadata["data_crc32"] != data {
                    throw CheckpointError("it was trained on other data (\(metadata["data_crc32"] ?? "unrecorded")), not on this --data (\(data))")
                }
                guard let text = metadata["history"], let history = try? JSONDecoder().decode(History.self, from: Data(text.utf8)) else {
                    throw CheckpointError("it holds no history of its training")
                }
                print("model cache: loaded \(file.path)")
                return (history, false)
            } catch {
                print("model cache: \(name) is unusable (\(error)); retraining it")
            }
        } else {
            print("model cache: no \(name) in \(directory.path); training it")
        }
        // A run that waited here while a stop signal ended the lane training this model stops
        // too, rather than start it afresh and overwrite the checkpoint that lane just saved.
        Interruption.stopIfRequested(during: "the wait for \(name)")
        let history = try train()
        var metadata = model.architectureMetadata(prefix: "")
        metadata["history"] = String(decoding: try JSONEncoder().encode(history), as: UTF8.self)
        metadata["artifact"] = name
        if let recipe { metadata["recipe"] = recipe }
        if let data { metadata["data_crc32"] = data }
        try model.save(to: file, metadata: metadata)
        return (history, true)
    }
}
