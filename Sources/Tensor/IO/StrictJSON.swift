// A strict JSON parser for untrusted headers (RFC 8259 and nothing more): one pass over the
// bytes, nesting at most 64 deep, object keys unique, numbers finite, strings valid UTF-8. Its
// cost is linear in the header, and every problem is a thrown error, never a trap.
import Foundation

public indirect enum JSONValue: Equatable, Sendable {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    /// The number's text as written, and its value: integers keep their exact digits.
    case number(text: String, value: Double)
    case bool(Bool)
    case null

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)): return x.map(\.key) == y.map(\.key) && x.map(\.value) == y.map(\.value)
        case let (.array(x), .array(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.number(x, _), .number(y, _)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        default: return false
        }
    }

    /// A whole number written without a fraction or exponent, that fits an Int.
    public var integer: Int? {
        guard case let .number(text, _) = self, !text.contains(where: { ".eE".contains($0) }) else { return nil }
        return Int(text)
    }

    public var string: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var array: [JSONValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    public var object: [(key: String, value: JSONValue)]? {
        if case let .object(o) = self { return o }
        return nil
    }
}

public struct JSONError: Error, CustomStringConvertible {
    public let offset: Int
    public let problem: String
    public var description: String { "\(problem) at byte \(offset)" }
}

public enum StrictJSON {
    public static let maxDepth = 64

    /// Parses one JSON value that spans all of `bytes` (surrounding white space allowed).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var parser = Parser(bytes: bytes)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.at == bytes.count else { throw parser.fail("text after the JSON value") }
        return value
    }

    public static func parse(_ text: String) throws -> JSONValue {
        var text = text
        return try text.withUTF8 { try parse(UnsafeRawBufferPointer($0)) }
    }
}

private struct Parser {
    let bytes: UnsafeRawBufferPointer
    var at = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func fail(_ problem: String) -> JSONError { JSONError(offset: at, problem: problem) }

    var next: UInt8? { at < bytes.count ? bytes[at] : nil }

    mutating func skipSpace() {
        while let c = next, c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { at += 1 }
    }

    mutating func expect(_ c: UInt8, _ what: String) throws {
        guard next == c else { throw fail("expected \(what)") }
        at += 1
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < StrictJSON.maxDepth else { throw fail("nesting deeper than \(StrictJSON.maxDepth)") }
        switch next {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case let c? where c == UInt8(ascii: "-") || (0x30...0x39).contains(c): return try number()
        case nil: throw fail("unexpected end")
        default: throw fail("unexpected character")
        }
    }

    mutating func literal(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        guard at + n <= bytes.count, (0..<n).allSatisfy({ bytes[at + $0] == word.utf8Start[$0] }) else {
            throw fail("unknown literal")
        }
        at += n
    }

    mutating func object(depth: Int) throws -> JSONValue {
        at += 1
        var members: [(key: String, value: JSONValue)] = []
        var keys = Set<String>()
        skipSpace()
        if next == UInt8(ascii: "}") { at += 1; return .object(members) }
        while true {
            skipSpace()
            guard next == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let keyStart = at
            let key = try string()
            guard keys.insert(key).inserted else { throw JSONError(offset: keyStart, problem: "duplicate key '\(key)'") }
            skipSpace()
            try expect(UInt8(ascii: ":"), "':'")
            skipSpace()
            members.append((key, try value(depth: depth + 1)))
            skipSpace()
            if next == UInt8(ascii: ",") { at += 1; continue }
            try expect(UInt8(ascii: "}"), "',' or '}'")
            return .object(members)
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        at += 1
        var elements: [JSONValue] = []
        skipSpace()
        if next == UInt8(ascii: "]") { at += 1; return .array(elements) }
        while true {
            skipSpace()
            elements.append(try value(depth: depth + 1))
            skipSpace()
            if next == UInt8(ascii: ",") { at += 1; continue }
            try expect(UInt8(ascii: "]"), "',' or ']'")
            return .array(elements)
        }
    }

    /// A string: its bytes up to the closing quote, escapes decoded, checked as UTF-8.
    mutating func string() throws -> String {
        at += 1
        var out: [UInt8] = []
        while true {
            guard let c = next else { throw fail("unterminated string") }
            at += 1
            switch c {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw fail("a string that is not UTF-8") }
                return s
            case UInt8(ascii: "\\"):
                guard let e = next else { throw fail("unterminated escape") }
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {  // a surrogate pair
                        guard next == UInt8(ascii: "\\") else { throw fail("an unpaired surrogate") }
                        at += 1
                        guard next == UInt8(ascii: "u") else { throw fail("an unpaired surrogate") }
                        at += 1
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw fail("an unpaired surrogate") }
                        scalar = 0x10000 + (scalar - 0xD800) << 10 + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("an unpaired surrogate") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw fail("an unknown escape")
                }
            case 0x00..<0x20: throw fail("a control character in a string")
            default: out.append(c)
            }
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard at + 4 <= bytes.count else { throw fail("a short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[at]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: throw fail("a bad \\u escape")
            }
            v = v << 4 | UInt32(d)
            at += 1
        }
        return v
    }

    /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, finite as a Double.
    mutating func number() throws -> JSONValue {
        let start = at
        func digits() -> Int {
            let from = at
            while let c = next, (0x30...0x39).contains(c) { at += 1 }
            return at - from
        }
        if next == UInt8(ascii: "-") { at += 1 }
        if next == UInt8(ascii: "0") { at += 1 } else if digits() == 0 { throw fail("a malformed number") }
        if next == UInt8(ascii: ".") {
            at += 1
            guard digits() > 0 else { throw fail("a malformed number") }
        }
        if next == UInt8(ascii: "e") || next == UInt8(ascii: "E") {
            at += 1
            if next == UInt8(ascii: "+") || next == UInt8(ascii: "-") { at += 1 }
            guard digits() > 0 else { throw fail("a malformed number") }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
        guard let value = Double(text), value.isFinite else { throw JSONError(offset: start, problem: "a number out of range (\(text))") }
        return .number(text: text, value: value)
    }
}
