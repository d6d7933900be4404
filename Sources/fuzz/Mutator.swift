// Seeded mutations of a file's bytes, the kinds that find parser bugs: flipped bits, bytes and
// words set to boundary values, ranges deleted, repeated, inserted or cut off, and — for text
// headers — numbers and names swapped for hostile ones.
import Tensor

struct Mutator {
    var rng: RNG

    /// Integers at the edges of every width a header may hold.
    static let boundaryWords: [UInt64] = [0, 1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff,
                                          1 << 32, 1 << 53, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, .max]
    /// Replacements for a number or a name inside a JSON header.
    static let hostileTokens = ["-1", "0", "1.5", "1e400", "-0", "18446744073709551616", "9223372036854775807", "4611686018427387904",
                                "true", "null", "\"7\"", "[]", "{}", "NaN", "\"F32\"", "\"I64\"", "\"__metadata__\"", "\"a\"", ""]

    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }

    /// One to four mutations of `input`.
    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0...below(4) { mutateOnce(&bytes) }
        return bytes
    }

    mutating func mutateOnce(_ bytes: inout [UInt8]) {
        if bytes.isEmpty { bytes = [UInt8(truncatingIfNeeded: rng.next())]; return }
        let at = below(bytes.count)
        switch below(9) {
        case 0: bytes[at] ^= UInt8(1) << UInt8(below(8))
        case 1: bytes[at] = [0, 0xff, 0x7f, 0x80, 0x20, 0x22, 0x7b, 0x5b][below(8)]
        case 2:  // a big- or little-endian word of 2, 4 or 8 bytes set to a boundary value
            let width = [2, 4, 8][below(3)], word = Mutator.boundaryWords[below(Mutator.boundaryWords.count)]
            let bigEndian = below(2) == 0
            for i in 0..<width where at + i < bytes.count {
                let shift = bigEndian ? 8 * (width - 1 - i) : 8 * i
                bytes[at + i] = UInt8(truncatingIfNeeded: word >> UInt64(shift))
            }
        case 3: bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(64)))
        case 4: bytes.insert(contentsOf: (0..<1 + below(16)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
        case 5: bytes.insert(contentsOf: bytes[at..<min(bytes.count, at + 1 + below(256))], at: below(bytes.count))  // a repeat
        case 6: bytes.removeSubrange(at...)  // truncation
        case 7: bytes.append(contentsOf: [UInt8](repeating: UInt8(truncatingIfNeeded: rng.next()), count: 1 + below(4096)))
        default: replaceToken(&bytes, near: at)
        }
    }

    /// Swaps the JSON number or string at or after `at` (if any) for a hostile token.
    mutating func replaceToken(_ bytes: inout [UInt8], near at: Int) {
        func isNumber(_ c: UInt8) -> Bool { (0x30...0x39).contains(c) || c == 0x2d || c == 0x2e || c == 0x65 }
        guard let start = bytes[at...].firstIndex(where: { isNumber($0) || $0 == 0x22 }) else { return }
        var end = start + 1
        if bytes[start] == 0x22 {
            while end < bytes.count, bytes[end] != 0x22 { end += 1 }
            end = min(end + 1, bytes.count)
        } else {
            while end < bytes.count, isNumber(bytes[end]) { end += 1 }
        }
        bytes.replaceSubrange(start..<end, with: Array(Mutator.hostileTokens[below(Mutator.hostileTokens.count)].utf8))
    }
}
