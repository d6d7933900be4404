// What every model part shares: its parameters under the names timm's state dicts use, its
// sub-modules, checkpoints, and the train/eval switch.
//
// A module lists its own tensors and its children explicitly, in a fixed order; a protocol
// extension builds the dotted names ("blocks.3.attn.qkv.weight"). The names drive weight-decay
// groups, freezing and the EMA teacher's pairing; the fixed order makes zip(student, teacher)
// safe. (A test walks each module with Mirror and fails if a stored tensor or module is missing
// from the lists.)
import Foundation
import Tensor

public protocol Module: AnyObject {
    /// This module's own trained tensors, named as in timm ("weight", "cls_token").
    var ownParameters: [(name: String, tensor: Tensor)] { get }
    /// This module's own state that is saved but not trained (BatchNorm's running statistics).
    var ownBuffers: [(name: String, tensor: Tensor)] { get }
    /// Sub-modules, named as in timm ("blocks.0", "attn").
    var children: [(name: String, module: any Module)] { get }
    /// The parameters a supervised recipe exempts from weight decay besides biases and 1-D
    /// tensors, by their full names (timm's `no_weight_decay()`).
    var noWeightDecay: Set<String> { get }
}

/// A module whose forward pass differs between training and evaluation (BatchNorm, drop path).
public protocol TrainingModeDependent: Module {
    var training: Bool { get set }
}

/// A whole model that can be rebuilt from its file: its architecture's name and config go into
/// the metadata of every model it saves (`architecture`, `config`), so a reader — the PyTorch
/// loader among them — builds the model from the file alone.
public protocol DescribedModel: Module {
    /// "vit" (its config's `prefix` says DeiT⚗ or two class tokens), "convnet", "dino-head".
    static var architecture: String { get }
    associatedtype Config: Encodable
    var config: Config { get }
}

extension DescribedModel {
    /// The metadata that names the architecture: its name and its config as sorted-key JSON.
    public var architectureMetadata: [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return ["architecture": Self.architecture, "config": String(decoding: (try? encoder.encode(config)) ?? Data(), as: UTF8.self)]
    }
}

extension Module {
    /// The architecture metadata of this module, or, if it is not a described model itself (a
    /// DINO network: backbone and head), of each described part below it, under its dotted name:
    /// `student.backbone.architecture`, `student.backbone.config`, ….
    public func architectureMetadata(prefix: String) -> [String: String] {
        if let described = self as? any DescribedModel {
            return Dictionary(uniqueKeysWithValues: described.architectureMetadata.map { (prefix + $0.key, $0.value) })
        }
        return children.reduce(into: [:]) { all, child in
            all.merge(child.module.architectureMetadata(prefix: prefix + child.name + ".")) { $1 }
        }
    }
}

/// A module that draws random numbers while it trains (drop path). Its generator moves on with
/// every training step, so a training checkpoint saves it with the weights.
public protocol RandomizedModule: Module {
    var generator: RNG { get set }
}

extension Module {
    /// Every module of the tree that owns a generator, in tree order.
    public var randomizedModules: [any RandomizedModule] { modules.compactMap { $0 as? any RandomizedModule } }

    public var ownParameters: [(name: String, tensor: Tensor)] { [] }
    public var ownBuffers: [(name: String, tensor: Tensor)] { [] }
    public var children: [(name: String, module: any Module)] { [] }
    public var noWeightDecay: Set<String> { [] }

    /// Every trained tensor, depth first, own tensors before children's — PyTorch's order.
    public func namedParameters(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        ownParameters.map { (prefix + $0.name, $0.tensor) }
            + children.flatMap { $0.module.namedParameters(prefix: prefix + $0.name + ".") }
    }

    public func namedBuffers(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        ownBuffers.map { (prefix + $0.name, $0.tensor) }
            + children.flatMap { $0.module.namedBuffers(prefix: prefix + $0.name + ".") }
    }

    public var parameters: [Tensor] { namedParameters().map(\.tensor) }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    /// Parameters and buffers, per module own parameters then own buffers then children, as
    /// PyTorch's `state_dict()` orders them.
    public func stateDict(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        ownParameters.map { (prefix + $0.name, $0.tensor) } + ownBuffers.map { (prefix + $0.name, $0.tensor) }
            + children.flatMap { $0.module.stateDict(prefix: prefix + $0.name + ".") }
    }

    /// Every module in the tree, this one first.
    public var modules: [any Module] { [self] + children.flatMap { $0.module.modules } }

    /// Whether any part of the tree is in training mode.
    public var isTraining: Bool { modules.contains { ($0 as? any TrainingModeDependent)?.training == true } }

    /// Switches BatchNorm and drop path between their training and evaluation behaviour.
    public func setTraining(_ training: Bool) {
        for case let m as any TrainingModeDependent in modules { m.training = training }
    }

    /// Saves the state dict as safetensors (written under a temporary name, then renamed).
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try Safetensors.write(stateDict(), metadata: metadata, to: url)
    }

    /// Loads a state dict saved by `save` (or by PyTorch for the same architecture): every name
    /// must be present with its shape. With `requireChecksum`, a file without the CRC-32 `save`
    /// records is refused. Returns the file's metadata.
    @discardableResult
    public func load(from url: URL, requireChecksum: Bool = false) throws -> [String: String] {
        let (tensors, metadata) = try Safetensors.read(url, requireChecksum: requireChecksum)
        try load(tensors, source: url.path)
        return metadata
    }

    /// Copies named tensors into this module's state; names and shapes must match exactly, and
    /// every value must be finite (a model with NaN or Inf in it trains and evaluates to nothing).
    public func load(_ tensors: [(name: String, tensor: Tensor)], source: String) throws {
        if let bad = tensors.first(where: { !$0.tensor.isFinite }) {
            throw CheckpointError("\(source): \(bad.name) holds NaN or infinite values")
        }
        let given = Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        let state = stateDict()
        let missing = state.map(\.name).filter { given[$0] == nil }
        let unexpected = Set(given.keys).subtracting(state.map(\.name)).sorted()
        guard missing.isEmpty && unexpected.isEmpty else {
            throw CheckpointError("\(source) does not fit this model: "
                + (missing.isEmpty ? "" : "missing \(missing.prefix(5).joined(separator: ", "))\(missing.count > 5 ? " and \(missing.count - 5) more" : ""); ")
                + (unexpected.isEmpty ? "" : "unexpected \(unexpected.prefix(5).joined(separator: ", "))"))
        }
        // Every shape is checked before anything is copied: a refused file leaves the model as it was.
        for (name, tensor) in state where given[name]!.shape != tensor.shape {
            throw CheckpointError("\(source) does not fit this model: \(name) has shape \(given[name]!.shape), expected \(tensor.shape)")
        }
        for (name, tensor) in state { tensor.assign(given[name]!) }
    }
}

public struct CheckpointError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
