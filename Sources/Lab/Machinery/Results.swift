// Results files: TSV tables gnuplot reads, and a JSON summary tests and the claims tables read.
// Both are written under a temporary name and renamed, so a crash never leaves half a file.
//
// The JSON summary holds what the seed and scale determine (config, seed, provenance, results),
// so two runs of the same seed write identical summaries — except under the one key "timings",
// where an experiment whose result is a speed puts its measurements (machine- and run-dependent),
// and every experiment its time breakdown (TimeBreakdown). Training times go in the TSV files.
import Data
import Foundation
import Tensor

/// A table of numbers (or strings) with named, unit-carrying columns.
public struct Table {
    public struct Column { public let name: String, unit: String
        public init(_ name: String, _ unit: String = "") { (self.name, self.unit) = (name, unit) }
    }
    public let columns: [Column]
    public private(set) var rows: [[String]] = []

    public init(_ columns: [Column]) { self.columns = columns }

    /// Appends a row; numbers are written with enough digits to round-trip a Float.
    public mutating func append(_ values: [Any]) {
        precondition(values.count == columns.count, "Table.append: \(values.count) values for \(columns.count) columns")
        rows.append(values.map(Table.format))
    }

    static func format(_ value: Any) -> String {
        switch value {
        case let f as Float: return f.isFinite ? String(format: "%.7g", f) : "nan"
        case let d as Double: return d.isFinite ? String(format: "%.7g", d) : "nan"
        default: return "\(value)"
        }
    }

    /// `#`-comment lines first (config, seed, provenance), then `# name [unit]` headers, then
    /// the rows, tab-separated.
    public func tsv(comments: [String]) -> String {
        let header = "# " + columns.map { $0.unit.isEmpty ? $0.name : "\($0.name) [\($0.unit)]" }.joined(separator: "\t")
        return (comments.map { "# \($0)" } + [header] + rows.map { $0.joined(separator: "\t") })
            .joined(separator: "\n") + "\n"
    }
}

/// Where a result came from: the code's revision and the machine that ran it.
public struct Provenance: Codable, Sendable {
    public let gitRevision: String
    public let cpu: String
    public let blasKernel: String
    public let convolutionKernel: String  // oneDNN's version and instruction set (ConvolutionEngine)
    public let threads: Int

    /// Read once, when the process first asks: a commit made while an hour-long run trains must
    /// not change the revision its data records.
    public static let current = Provenance(gitRevision: gitRevision(), cpu: Machine.cpuModel, blasKernel: BLAS.coreName,
                                                convolutionKernel: "oneDNN \(OneDNNInfo.version)", threads: BLAS.threads)

    /// The checkout this binary was compiled from (this file's path at build time), whatever the
    /// current directory: a run from inside another repository must not record that one's commit.
    static let sourceRoot: URL = {
        var folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while folder.path != "/" && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
            folder.deleteLastPathComponent()
        }
        return folder
    }()

    /// `git rev-parse --short HEAD` of `sourceRoot`, with "-dirty" if its sources differ from it;
    /// "unknown" when that checkout is gone (a binary copied to another machine).
    static func gitRevision() -> String {
        func git(_ args: [String]) -> String? {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-C", sourceRoot.path] + args
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return nil }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : nil
        }
        guard let head = git(["rev-parse", "--short=12", "HEAD"]) else { return "unknown" }
        let dirty = git(["status", "--porcelain", "--", "Sources", "Package.swift"]).map { !$0.isEmpty } ?? false
        return dirty ? head + "-dirty" : head
    }
}

public enum Results {
    /// Writes `contents` to `url` through a temporary file in the same folder, then renames it.
    public static func writeAtomically(_ contents: String, to url: URL) throws {
        try RegularFile.createFolders(url.deletingLastPathComponent().path)
        try Array(contents.utf8).withUnsafeBytes { try RegularFile.writeAtomically($0, to: url.path) }
    }

    /// Pretty-printed JSON with sorted keys, so identical results give identical files.
    public static func writeJSON(_ object: [String: Any], to url: URL) throws {
        try writeAtomically(jsonFileText(object), to: url)
    }

    public static func jsonFileText(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self) + "\n"
    }

    /// A run's files as one set: every one written to a temporary name first, and only when all
    /// are written, renamed into place in order (the summary last, which make waits for). A
    /// failure while writing (a full disk) removes the temporaries and leaves the previous set
    /// whole; a kill between two renames is finished by the next writer in the folder (its
    /// journal, `RegularFile.putAllInPlace`), so the set ends whole and new.
    public static func writeSet(_ files: [(name: String, contents: String)], in folder: URL) throws {
        try RegularFile.createFolders(folder.path)
        var written: [(temporary: String, path: String)] = []
        do {
            for file in files {
                let path = folder.appendingPathComponent(file.name).path
                written.append((try Array(file.contents.utf8).withUnsafeBytes { try RegularFile.writeTemporary($0, for: path) }, path))
            }
        } catch {
            for w in written { unlink(w.temporary) }
            throw error
        }
        try RegularFile.putAllInPlace(written, folder: folder.path)
    }

    /// A Codable value as a JSON object, its fields' names in snake_case (`batchSize` →
    /// `batch_size`, as DINO's `log_stats`): the one key style of every summary and TSV comment.
    /// A dictionary's own keys (run and model names, `ViT-S/16`, `soft-convnet`) stay as written,
    /// except in `Merged`, whose halves encode into one keyed container: keep names there lowercase.
    public static func jsonObject<T: Encodable>(_ value: T) -> Any {
        try! encodedObject(value)
    }

    /// `jsonObject`, for an experiment's results: a NaN or infinite number stops the run naming
    /// the field, before any file is written (a diverged run stops earlier, at its weights, so
    /// this is a measure undefined on the images it was given).
    public static func resultObject<T: Encodable>(_ value: T, of experiment: String) throws -> Any {
        do {
            return try encodedObject(value)
        } catch EncodingError.invalidValue(let bad, let context) {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + snakeCase($0.stringValue) }.joined(separator: "")
            throw TrainingError("\(experiment): its result \(path.drop { $0 == "." }) is \(bad), not a number; no data file was written")
        }
    }

    private static func encodedObject<T: Encodable>(_ value: T) throws -> Any {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try JSONSerialization.jsonObject(with: encoder.encode(value))
    }

    /// `perHead` → `per_head`, as `.convertToSnakeCase` writes a key.
    private static func snakeCase(_ key: String) -> String {
        key.reduce(into: "") { out, c in
            if c.isUppercase, !out.isEmpty { out.append("_") }
            out.append(contentsOf: c.lowercased())
        }
    }

    /// `object` as one line of JSON with sorted keys, for TSV comments.
    public static func jsonText(_ object: Any) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: .sortedKeys), as: UTF8.self)
    }

    /// The summary every experiment writes: what ran, from which seed, where, and its numbers.
    /// `data`'s CRC-32s go in with the provenance: the numbers are only reproducible on the same data.
    public static func summary(experiment: String, scale: Scale, data: FashionMNIST, seed: UInt64, config: Any, results: Any,
                               timings: [String: Any] = [:]) -> [String: Any] {
        var provenance = jsonObject(Provenance.current) as! [String: Any]
        provenance["data_crc32"] = data.checksums.mapValues { String(format: "%08x", $0) }
        var s: [String: Any] = ["experiment": experiment, "scale": scale.rawValue, "seed": seed, "config": config,
                                "provenance": provenance, "results": results]
        s["timings"] = timings.merging(["breakdown": TimeBreakdown.summary()]) { $1 }
        return s
    }
}

/// An optional a summary writes as `null` when it is nil, instead of leaving the key out: a
/// reader finds the key either way (a paper value the paper does not have, a k-NN not run).
@propertyWrapper
public struct NullWhenNil<Value: Codable & Sendable>: Codable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        wrappedValue = c.decodeNil() ? nil : try c.decode(Value.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}

/// Two objects' keys in one JSON object: a summary's named entries (runs, teachers, heads) beside
/// its fixed keys, `{"momentum": …, "student-copy": …, "raw_pixels_knn": …}`.
public struct Merged<A: Encodable, B: Encodable>: Encodable {
    public let first: A, second: B

    public init(_ first: A, _ second: B) { (self.first, self.second) = (first, second) }

    public func encode(to encoder: any Encoder) throws {
        try first.encode(to: encoder)
        try second.encode(to: encoder)
    }
}
