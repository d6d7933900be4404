// Trained models kept between runs, so an experiment reuses what another one trained.
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
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Recipes are validated to be finite; the strategy only keeps a stray NaN from trapping.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let fingerprint = fnv1a(String(decoding: (try? encoder.encode(recipe)) ?? Data(), as: UTF8.self))
        return directory.appendingPathComponent("\(name)-\(scale.rawValue)-seed\(seed)-\(String(fingerprint, radix: 16)).safetensors")
    }

    /// Loads `model` from `file` if a sound checkpoint is there (its checksum matches, its values
    /// are finite, it fits the model); otherwise runs `train` (saying why) and stores the result
    /// there. Returns whether it trained. Holds `file`'s lock throughout, so a second process
    /// asking for the same model waits for the first, then loads it.
    @discardableResult
    public func loadOrTrain(_ model: any Module, at file: URL, train: () throws -> Void) throws -> Bool {
        let name = file.lastPathComponent
        try RegularFile.createFolders(directory.path)
        let lock = try FileLock(file.path + ".lock", waitingFor: name)
        defer { withExtendedLifetime(lock) {} }
        if FileManager.default.fileExists(atPath: file.path) {
            do {
                try model.load(from: file, requireChecksum: true)
                print("model cache: loaded \(file.path)")
                return false
            } catch {
                print("model cache: \(name) is unreadable (\(error)); retraining it")
            }
        } else {
            print("model cache: no \(name) in \(directory.path); training it")
        }
        try train()
        try store(model, at: file)
        return true
    }

    /// Saves a trained model under its cache key (atomically).
    public func store(_ model: any Module, at file: URL) throws {
        try RegularFile.createFolders(directory.path)
        try model.save(to: file)
    }
}
