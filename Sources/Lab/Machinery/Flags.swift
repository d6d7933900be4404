// Reading command-line values in one voice for every experiment: a list flag refuses empty and
// repeated entries and names what it accepts; a number must be finite and in its range. What a
// value means for a run (an epoch count, a temperature) is checked by the recipe that uses it
// (DINORecipe.validate, SupervisedRecipe.validate, DistillationConfig.validate); a count flag is
// also checked against the recipe's own bounds first, so its error names the flag.
import ArgumentParser

public enum Flags {
    /// The comma-separated entries of `text`, each parsed; an empty, unknown or repeated entry is
    /// a ValidationError that names the flag, the entry and what the flag takes.
    public static func list<T: Hashable>(_ flag: String, _ text: String, takes choices: String,
                                         _ parse: (String) -> T?) throws -> [T] {
        let entries = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var seen = Set<T>()
        return try entries.map { entry in
            guard !entry.isEmpty else { throw ValidationError("--\(flag) has an empty entry in '\(text)'; it takes \(choices)") }
            guard let value = parse(entry) else { throw ValidationError("--\(flag): '\(entry)' is not valid; it takes \(choices)") }
            guard seen.insert(value).inserted else { throw ValidationError("--\(flag) names '\(entry)' twice") }
            return value
        }
    }

    /// One of an enumeration's raw values; anything else is a ValidationError naming them all.
    public static func choice<T: RawRepresentable & CaseIterable>(_ flag: String, _ text: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: text) else {
            throw ValidationError("--\(flag) takes \(T.allCases.map(\.rawValue).joined(separator: " or ")), got '\(text)'")
        }
        return value
    }

    /// A 'low,high' flag: two numbers (each checked as `list` checks an entry) that satisfy
    /// `valid`, whose condition `rule` names in the message.
    public static func range(_ flag: String, _ text: String, rule: String, valid: (Float, Float) -> Bool) throws -> ClosedRange<Float> {
        // Not `list`: low = high is a range, not a repeated entry.
        let v = try text.split(separator: ",", omittingEmptySubsequences: false).map { entry in
            guard !entry.isEmpty else { throw ValidationError("--\(flag) has an empty entry in '\(text)'; it takes 'low,high' with \(rule)") }
            guard let value = Float(entry), value.isFinite else { throw ValidationError("--\(flag): '\(entry)' is not valid; it takes 'low,high' with \(rule)") }
            return value
        }
        guard v.count == 2, valid(v[0], v[1]) else { throw ValidationError("--\(flag) takes 'low,high' with \(rule), got '\(text)'") }
        return v[0]...v[1]
    }

    /// A whole-number flag within `range`.
    public static func count(_ flag: String, _ value: Int?, _ range: ClosedRange<Int>, note: String = "") throws {
        guard let value, !range.contains(value) else { return }
        throw ValidationError("--\(flag) must be from \(range.lowerBound) to \(range.upperBound), got \(value)\(note.isEmpty ? "" : " (\(note))")")
    }

    /// Wraps a recipe's own check of the values flags set, so ArgumentParser reports it with the usage line.
    public static func validating(_ check: () throws -> Void) throws {
        do { try check() } catch let error as ValidationError { throw error } catch { throw ValidationError("\(error)") }
    }
}

/// The config of an experiment whose runs train side by side (SideBySide), each on its own
/// thread: how many at once, which the results do not depend on.
public protocol SideBySideConfig: ExperimentConfig {
    var lanes: Int { get set }
    /// Bytes one run needs at its peak (0: small enough not to count): `lanes` of them must fit
    /// the memory budget together.
    var runBytes: Double { get }
}

extension SideBySideConfig {
    public var runBytes: Double { 0 }

    /// Lanes runs at their peak at once, against the memory budget.
    func checkMemory() throws {
        try Memory.check(Double(lanes) * runBytes, "\(lanes) runs side by side would", fix: "use fewer --lanes, or a smaller --batch-size")
    }
}

/// The runner's `--lanes`, for every experiment whose config is a SideBySideConfig.
struct LanesFlag: ParsableArguments {
    @Option(help: "Runs trained at once, each on its own thread (default: the core count); the results do not depend on it. For the experiments that train several models.")
    var lanes: Int?

    /// Sets the config's lane count, held to 1...8 like the preset's (`Parallel.threads`).
    func apply<Config>(to config: inout Config, experiment: String) throws {
        guard let lanes else { return }
        try Flags.count("lanes", lanes, 1...8)
        guard var sideBySide = config as? any SideBySideConfig else {
            throw ValidationError("--lanes: \(experiment) trains one model at a time; leave it out")
        }
        sideBySide.lanes = lanes
        config = sideBySide as! Config
    }
}
