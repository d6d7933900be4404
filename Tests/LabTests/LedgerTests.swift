// The claims ledger. papers/dino.md and papers/deit.md list each claim the project tests with our
// numbers at each scale (default, full) beside the paper's; papers/ledger.md names, for each claim,
// where each of those numbers lives in figures/data/*.json or figures/full/data/*.json
// (`file#results.key.key`, `full/file#…`) or how it derives from them (a difference, a ratio, a
// separation in pooled standard deviations). This test evaluates every entry and fails if the row
// does not show it, so the documents cannot drift from the data. It also reads the
// committed SVG figures: every number printed on one is in its experiment's data or is a paper's value.
import Foundation
import Testing

/// A claims table: its header and rows, cells trimmed.
struct ClaimsTable {
    let header: [String]
    let rows: [[String]]

    /// The first table after `heading` in `markdown`.
    init(markdown: String, heading: String = "## Claims") throws {
        let lines = markdown.components(separatedBy: "\n")
        guard let start = lines.firstIndex(of: heading) else { throw TestFailure("no '\(heading)' section") }
        let table = lines[(start + 1)...].drop { !$0.hasPrefix("|") }.prefix { $0.hasPrefix("|") }
        func cells(_ line: String) -> [String] {
            line.trimmingCharacters(in: .whitespaces).dropFirst().dropLast().components(separatedBy: "|")
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
        guard table.count >= 3 else { throw TestFailure("the claims table has no rows") }
        header = cells(table.first!)
        rows = table.dropFirst(2).map(cells)
    }
}

/// The numbers written in `text` (a − or - before digits makes them negative), each with its
/// number of decimals. Thin spaces and spaces inside digit groups ("1 872") are not joined.
func writtenNumbers(_ text: String) -> [(value: Double, decimals: Int)] {
    let normalized = text.replacingOccurrences(of: "−", with: "-")
    let pattern = try! NSRegularExpression(pattern: "-?[0-9]+(\\.[0-9]+)?")
    return pattern.matches(in: normalized, range: NSRange(normalized.startIndex..., in: normalized)).map { match in
        let token = String(normalized[Range(match.range, in: normalized)!])
        let decimals = token.split(separator: ".").dropFirst().first?.count ?? 0
        return (Double(token)!, decimals)
    }
}

/// Whether `shown` writes `value` rounded to its own number of decimals, as printf rounds the stored
/// double (79.54499999999999 is 79.54, never 79.55).
func shows(_ shown: (value: Double, decimals: Int), _ value: Double) -> Bool {
    String(format: "%.*f", shown.decimals, shown.value) == String(format: "%.*f", shown.decimals, value)
}

/// The values at `path` in a JSON object: "results.momentum.knn20_mean" names a number or a list of
/// numbers; a number as a key indexes a list ("blocks.0.mean"), and `*` maps over one ("per_seed.*.output").
func jsonValues(_ object: Any, path: String) -> [Double]? {
    func values(_ node: Any?, _ keys: ArraySlice<Substring>) -> [Double]? {
        guard let key = keys.first else {
            if let number = node as? NSNumber { return [number.doubleValue] }
            if let list = node as? [Any] { let numbers = list.compactMap { ($0 as? NSNumber)?.doubleValue }; return numbers.count == list.count ? numbers : nil }
            return nil
        }
        if let list = node as? [Any] {
            if key == "*" { let each = list.map { values($0, keys.dropFirst()) }; return each.contains { $0 == nil } ? nil : each.flatMap { $0! } }
            guard let index = Int(key), list.indices.contains(index) else { return nil }
            return values(list[index], keys.dropFirst())
        }
        return values((node as? [String: Any])?[String(key)], keys.dropFirst())
    }
    return values(object, path.split(separator: ".")[...])
}

/// papers/ledger.md: for each paper, each claim's entries (references or expressions), in order.
struct Ledger {
    var claims: [String: [(claim: String, entries: [String])]] = [:]

    init(markdown: String) throws {
        var paper: String?
        for line in markdown.components(separatedBy: "\n") {
            if line.hasPrefix("## ") { paper = String(line.dropFirst(3)).trimmingCharacters(in: .whitespaces); claims[paper!] = [] }
            else if let paper, line.hasPrefix("- ") { claims[paper]!.append((String(line.dropFirst(2)), [])) }
            else if let paper, line.hasPrefix("  - `") {
                // `expression` then an optional comment
                let rest = line.dropFirst(5)
                guard let end = rest.firstIndex(of: "`"), !claims[paper]!.isEmpty else { throw TestFailure("ledger: cannot read \(line)") }
                claims[paper]![claims[paper]!.count - 1].entries.append(String(rest[..<end]))
            }
        }
    }
}

/// Evaluates a ledger entry: a reference `file#key.key` (a number or a list), a literal number, or an
/// expression of them with `+ - * /` between spaces, parentheses, and `pooled(a, b)`.
struct LedgerExpression {
    let tokens: [String]
    var position = 0
    let data: (String) throws -> [Double]  // a reference's values

    init(_ text: String, data: @escaping (String) throws -> [Double]) {
        var tokens: [String] = [], current = ""
        for character in text {
            if character == " " || "(),".contains(character) {
                if !current.isEmpty { tokens.append(current); current = "" }
                if character != " " { tokens.append(String(character)) }
            } else { current.append(character) }
        }
        if !current.isEmpty { tokens.append(current) }
        self.tokens = tokens
        self.data = data
    }

    /// Whether the entry is a plain reference (its list values shown as they are, sign included).
    var isReference: Bool { tokens.count == 1 && tokens[0].contains("#") }

    mutating func values() throws -> [Double] {
        if isReference { return try data(tokens[0]) }
        let value = try sum()
        guard position == tokens.count else { throw TestFailure("ledger: unexpected '\(tokens[position])' in \(tokens.joined(separator: " "))") }
        return [value]
    }

    private mutating func next() throws -> String {
        guard position < tokens.count else { throw TestFailure("ledger: \(tokens.joined(separator: " ")) ends early") }
        defer { position += 1 }
        return tokens[position]
    }
    private var peek: String? { position < tokens.count ? tokens[position] : nil }

    private mutating func sum() throws -> Double {
        var value = try product()
        while let op = peek, op == "+" || op == "-" { position += 1; value = op == "+" ? value + (try product()) : value - (try product()) }
        return value
    }
    private mutating func product() throws -> Double {
        var value = try factor()
        while let op = peek, op == "*" || op == "/" { position += 1; value = op == "*" ? value * (try factor()) : value / (try factor()) }
        return value
    }
    private mutating func factor() throws -> Double {
        let token = try next()
        if token == "(" { let value = try sum(); guard try next() == ")" else { throw TestFailure("ledger: ')' expected") }; return value }
        if token == "pooled" {
            guard try next() == "(" else { throw TestFailure("ledger: pooled( expected") }
            let a = try next()
            guard try next() == "," else { throw TestFailure("ledger: pooled(a, b) expected") }
            let b = try next()
            guard try next() == ")" else { throw TestFailure("ledger: pooled(a, b) expected") }
            let (ma, sa, mb, sb) = (try scalar(a + "_mean"), try scalar(a + "_std"), try scalar(b + "_mean"), try scalar(b + "_std"))
            return (ma - mb) / ((sa * sa + sb * sb) / 2).squareRoot()
        }
        if let number = Double(token) { return number }
        return try scalar(token)
    }
    private func scalar(_ reference: String) throws -> Double {
        let values = try data(reference)
        guard values.count == 1 else { throw TestFailure("ledger: \(reference) is a list; an expression needs one number") }
        return values[0]
    }
}

@Suite("claims ledger") struct LedgerTests {
    /// A status cell opens with the outcome at each scale, "<default> / <full>", each one of
    /// `statuses` or "—" (not run at that scale: the full one until its experiment has run; the
    /// default one for a claim only the full scale tests), then optionally ": why".
    static let statuses = ["reproduced", "partly", "not"]

    /// The (default, full) outcomes a status cell opens with, or nil if it does not.
    static func outcomes(_ cell: String) -> (default: String, full: String)? {
        let head = cell.components(separatedBy: ":")[0].components(separatedBy: " / ")
        guard head.count == 2, head.allSatisfy({ statuses.contains($0) || $0 == "—" }) else { return nil }
        return (head[0], head[1])
    }

    static func text(_ path: String) throws -> String {
        try String(contentsOf: packageRoot.appendingPathComponent(path), encoding: .utf8)
    }

    /// A reference's values: `file#key.key` in figures/data/<file>.json, or for `full/file#key.key`
    /// in figures/full/data/<file>.json.
    static func data(_ reference: String) throws -> [Double] {
        let parts = reference.components(separatedBy: "#")
        guard parts.count == 2 else { throw TestFailure("ledger: '\(reference)' is not file#key.key") }
        let isFull = parts[0].hasPrefix("full/")
        let file = packageRoot.appendingPathComponent((isFull ? "figures/full/data/\(parts[0].dropFirst(5))" : "figures/data/\(parts[0])") + ".json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: file))
        guard let values = jsonValues(json, path: parts[1]) else { throw TestFailure("ledger: \(parts[0]).json has no number at \(parts[1])") }
        return values
    }

    @Test(arguments: ["dino.md", "deit.md"])
    func everyNumberOfOursIsTheDatas(_ paper: String) throws {
        let table = try ClaimsTable(markdown: Self.text("papers/\(paper)"))
        let ledger = try Ledger(markdown: Self.text("papers/ledger.md")).claims[paper] ?? []
        guard let claim = table.header.firstIndex(of: "claim"), let atDefault = table.header.firstIndex(of: "default"),
              let atFull = table.header.firstIndex(of: "full"), let status = table.header.firstIndex(of: "status") else {
            Issue.record("\(paper): the claims table needs columns 'claim', 'default', 'full' and 'status'; it has \(table.header)")
            return
        }
        #expect(table.rows.count >= 5, "\(paper): only \(table.rows.count) claims")
        #expect(ledger.map(\.claim) == table.rows.map { $0[claim] }, "papers/ledger.md's claims under '## \(paper)' are not the claims table's, in order")
        var checked = 0
        for row in table.rows {
            guard row.count == table.header.count else { Issue.record("\(paper): a row has \(row.count) cells: \(row)"); continue }
            #expect(Self.outcomes(row[status]) != nil, "\(paper): status '\(row[status])' does not open with '<default> / <full>', each one of \(Self.statuses) (full: or —)")
            // A number may stand anywhere in the row but the paper's cell; each one of ours, at
            // either scale, must be named.
            let oursText = row[atDefault] + " | " + row[atFull]
            let oursNumbers = writtenNumbers(oursText)
            let shown = oursNumbers + table.header.indices.filter { ![atDefault, atFull].contains($0) && table.header[$0] != "paper" }.flatMap { writtenNumbers(row[$0]) }
            var accounted = Set<Int>()
            for entry in ledger.first(where: { $0.claim == row[claim] })?.entries ?? [] {
                var expression = LedgerExpression(entry, data: Self.data)
                for value in try expression.values() {
                    // A reference is shown with its sign; a derived number may be written as "3.0 below".
                    let matches = shown.indices.filter { expression.isReference ? shows(shown[$0], value) : shows((abs(shown[$0].value), shown[$0].decimals), abs(value)) }
                    #expect(!matches.isEmpty, "\(paper): \(entry) = \(value), but the row '\(row[claim])' shows '\(oursText)' and '\(row[status])'")
                    accounted.formUnion(matches)
                    checked += 1
                }
            }
            // Every number written with decimals is one the ledger names.
            for (index, number) in oursNumbers.enumerated() where number.decimals > 0 && !accounted.contains(index) {
                Issue.record("\(paper): '\(row[claim])' shows \(number.value) in '\(oursText)', which no ledger entry names")
            }
        }
        #expect(checked >= table.rows.count, "\(paper): only \(checked) numbers checked")
    }

    /// The README's scoreboard is the two claims tables: one row per claim, its cells at each scale
    /// and its outcomes as the paper's page has them, and the counts under it theirs.
    @Test func theScoreboardIsTheClaimsTables() throws {
        let readme = try Self.text("README.md")
        var claims: [(atDefault: String, atFull: String, outcomes: (default: String, full: String))] = []
        for paper in ["dino.md", "deit.md"] {
            let table = try ClaimsTable(markdown: Self.text("papers/\(paper)"))
            let columns = ["default", "full", "status"].compactMap { table.header.firstIndex(of: $0) }
            guard columns.count == 3 else { Issue.record("\(paper): no 'default', 'full' and 'status' columns"); return }
            claims += table.rows.map { row in (row[columns[0]], row[columns[1]], Self.outcomes(row[columns[2]]) ?? ("?", "?")) }
        }
        let board = try ClaimsTable(markdown: readme, heading: "## Scoreboard")
        let columns = ["default", "full", "status"].compactMap { board.header.firstIndex(of: $0) }
        guard columns.count == 3 else {
            Issue.record("the scoreboard needs columns 'default', 'full' and 'status'; it has \(board.header)")
            return
        }
        #expect(board.rows.count == claims.count, "the scoreboard has \(board.rows.count) rows, the claims tables \(claims.count)")
        for (row, claim) in zip(board.rows, claims) {
            let status = "\(claim.outcomes.default) / \(claim.outcomes.full)"
            let shown = "'\(row[columns[0]])' | '\(row[columns[1]])' (\(row[columns[2]]))", expected = "'\(claim.atDefault)' | '\(claim.atFull)' (\(status))"
            #expect(shown == expected, "scoreboard row \(shown) differs from the claims table's \(expected)")
        }
        func count(full: Bool) -> String {
            let n = { (s: String) in claims.filter { (full ? $0.outcomes.full : $0.outcomes.default) == s }.count }
            // "—" at full: its experiment has not run at full yet; at default: a claim only the full scale tests.
            let none = n("—")
            return "\(n("reproduced")) reproduced, \(n("partly")) partly, \(n("not")) not"
                + (none > 0 ? (full ? ", \(none) not yet run" : ", \(none) tested at full scale only") : "")
        }
        let summary = "**\(claims.count) claims. Default scale: \(count(full: false)). Full scale: \(count(full: true)).**"
        #expect(readme.contains(summary), "the README's count should read \(summary)")
    }

    /// Every number with decimals printed on a committed figure (axis ticks aside) is in its
    /// experiment's JSON data, as printed, or is a paper's value from papers/sources.md.
    /// The full scale's figures are checked likewise, each one that has been drawn.
    @Test(arguments: ["figures", "figures/full"], ["attention-maps", "collapse", "distillation", "ema-teacher", "patch-throughput", "supervised", "token-similarity"])
    func everyNumberOnAFigureIsTheDatas(_ figures: String, _ experiment: String) throws {
        if figures != "figures", !FileManager.default.fileExists(atPath: packageRoot.appendingPathComponent("\(figures)/\(experiment).svg").path) { return }
        var known = writtenNumbers(try Self.text("papers/sources.md")).map(\.value)
        let folder = packageRoot.appendingPathComponent("\(figures)/data")
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path)
        where file.hasPrefix(experiment) && file.hasSuffix(".json") {
            known += numbers(in: try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(file))))
        }
        let lines = try Self.text("\(figures)/\(experiment).svg").components(separatedBy: "\n")
        let tspan = try NSRegularExpression(pattern: "<tspan[^>]*>([^<]*)</tspan>")
        var checked = 0
        for (index, line) in lines.enumerated() {
            guard let match = tspan.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) else { continue }
            let label = String(line[Range(match.range(at: 1), in: line)!])
            // gnuplot writes a tick's label on the line after its tick mark; its value is the axis's.
            let isTick = Double(label.trimmingCharacters(in: .whitespaces)) != nil && index > 0 && lines[index - 1].contains("<path")
            if isTick { continue }
            for number in writtenNumbers(label) where number.decimals > 0 {
                #expect(known.contains { shows(number, $0) }, "\(figures)/\(experiment).svg prints \(number.value) in '\(label)', which neither its data nor papers/sources.md holds")
                checked += 1
            }
        }
        #expect(checked > 0 || experiment == "attention-maps", "\(figures)/\(experiment).svg: no number checked")
    }

    /// The checker itself: a number shown to fewer decimals matches its value rounded, not another;
    /// expressions evaluate as written.
    @Test func roundingIsJudgedAtTheShownPrecision() throws {
        let shown = writtenNumbers("65.63 ± 2.34 %, −0.059, 4.99")
        #expect(shown.map(\.value) == [65.63, 2.34, -0.059, 4.99])
        #expect(shown.map(\.decimals) == [2, 2, 3, 2])
        func matches(_ v: Double) -> Bool { shown.contains { shows($0, v) } }
        #expect(matches(65.6333) && matches(4.989426) && matches(-0.0594))
        #expect(!matches(65.64) && !matches(4.98) && !matches(0.059))
        #expect(shows((79.54, 2), 79.54499999999999) && !shows((79.55, 2), 79.54499999999999))
        let data: [String: Double] = ["x#a_mean": 80, "x#a_std": 0.6, "x#b_mean": 77, "x#b_std": 0.8, "x#c-d": 2]
        func evaluate(_ text: String) throws -> Double {
            var expression = LedgerExpression(text, data: { [data[$0]!] })
            return try expression.values()[0]
        }
        #expect(try evaluate("pooled(x#a, x#b)") == 3 / (0.5 as Double).squareRoot())
        #expect(try evaluate("x#a_mean - x#c-d * 2") == 76)
        #expect(try evaluate("(x#a_mean - x#c-d) / 2") == 39)
        #expect(try evaluate("100 * ( 1 - x#c-d / 4 )") == 50)
    }
}

/// Every number anywhere in a JSON value.
func numbers(in json: Any) -> [Double] {
    if let number = json as? NSNumber { return [number.doubleValue] }
    if let list = json as? [Any] { return list.flatMap(numbers(in:)) }
    if let object = json as? [String: Any] { return object.values.flatMap(numbers(in:)) }
    return []
}
