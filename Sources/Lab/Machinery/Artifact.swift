// A trained model as a value. An artifact names what the model is — its name, scale, seed, and
// the identity its file name hashes (architecture, recipe, and the artifacts it learned from) —
// and how to make it: build its weights, then train them. `trained` is the one call that loads
// it from the model cache or trains and stores it, under the file's lock, so a model two
// experiments share is trained once.
import Foundation
import NN
import Tensor

public struct Artifact<Model, History: Codable> {
    /// Where in the cache it is kept: the supervised teachers, or every other trained model.
    public enum Shelf: String, Sendable { case teachers, students }

    public let name: String
    public let scale: Scale
    public let seed: UInt64
    public let shelf: Shelf
    let identity: AnyHashableCodable
    /// Builds the model and returns it with the training that, run, fills its weights.
    let make: () throws -> (model: Model, train: (RunCheckpoint?) throws -> History)
    let module: (Model) -> any Module

    /// `make` builds the model (drawing its weights from the artifact's own generator) and
    /// returns the training to run when no sound file is cached; `identity` is everything that
    /// decides the trained weights besides name, scale and seed.
    public init(_ name: String, scale: Scale, seed: UInt64, shelf: Shelf = .students, identity: some Encodable,
                module: @escaping (Model) -> any Module,
                make: @escaping () throws -> (model: Model, train: (RunCheckpoint?) throws -> History)) {
        (self.name, self.scale, self.seed, self.shelf, self.identity) = (name, scale, seed, shelf, AnyHashableCodable(identity))
        (self.module, self.make) = (module, make)
    }

    /// The file's name: `<name>-<scale>-seed<seed>-<hash of the identity>.safetensors`.
    public var fileName: String { ModelCache.fileName(name: name, scale: scale, seed: seed, recipe: identity) }

    public func file(in cache: URL) -> URL {
        ModelCache(root: cache, folder: shelf.rawValue).directory.appendingPathComponent(fileName)
    }

    /// The trained model and the history of its training: loaded from `cache` if a sound file is
    /// there and was trained on the run's data (the checkpoint's), otherwise trained (resumable
    /// through `checkpoint`) and stored.
    public func trained(cache: URL, checkpoint: RunCheckpoint? = nil) throws -> (model: Model, history: History) {
        let (model, train) = try make()
        let (history, _) = try ModelCache(root: cache, folder: shelf.rawValue).loadOrTrain(module(model), at: file(in: cache),
                                                                                                 recipe: Results.jsonText(Results.jsonObject(identity)),
                                                                                                 data: checkpoint?.data) {
            try train(checkpoint)
        }
        return (model, history)
    }
}

extension Artifact where Model: Module {
    public init(_ name: String, scale: Scale, seed: UInt64, shelf: Shelf = .students, identity: some Encodable,
                make: @escaping () throws -> (model: Model, train: (RunCheckpoint?) throws -> History)) {
        self.init(name, scale: scale, seed: seed, shelf: shelf, identity: identity, module: { $0 }, make: make)
    }
}
