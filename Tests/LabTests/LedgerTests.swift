// The claims ledger: papers/dino.md and papers/deit.md list each claim the project tests with our
// number beside the paper's. Their last column names where each of our numbers lives in
// figures/data/*.json (`file#results.key.key`); this test reads those values and fails if the
// "ours" cell does not show them, so the documents cannot drift from the data.
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
/// number of decimals.
func writtenNumbers(_ text: String) -> [(value: Double, decimals: Int)] {
    let normalized = text.replacingOccurrences(of: "−", with: "-")
    let pattern = try! NSRegularExpression(pattern: "-?[0-9]+(\\.[0-9]+)?")
    return pattern.matches(in: normalized, range: NSRange(normalized.startIndex..., in: normalized)).map { match in
        let token = String(normalized[Range(match.range, in: normalized)!])
        let decimals = token.split(separator: ".").dropFirst().first?.count ?? 0
        return (Double(token)!, decimals)
    }
}

/// The value at `path` ("results.momentum.knn20_mean") in a JSON object: a number or a list of numbers.
func jsonValues(_ object: Any, path: String) -> [Double]? {
    var node: Any? = object
    for key in path.split(separator: ".") { node = (node as? [String: Any])?[String(key)] }
    if let number = node as? NSNumber { return [number.doubleValue] }
    if let list = node as? [Any] { let numbers = list.compactMap { ($0 as? NSNumber)?.doubleValue }; return numbers.count == list.count ? numbers : nil }
    return nil
}

@Suite("claims ledger") struct LedgerTests {
    static let statuses = ["reproduced", "partly", "not at this scale"]

    @Test(arguments: ["dino.md", "deit.md"])
    func everyNumberOfOursIsTheDatas(_ paper: String) throws {
        let table = try ClaimsTable(markdown: String(contentsOf: packageRoot.appendingPathComponent("papers/\(paper)"), encoding: .utf8))
        let column = { (name: String) in table.header.firstIndex(of: name) }
        guard let ours = column("ours"), let status = column("status"), let data = column("data") else {
            Issue.record("\(paper): the claims table needs columns 'ours', 'status' and 'data'; it has \(table.header)")
            return
        }
        #expect(table.rows.count >= 5, "\(paper): only \(table.rows.count) claims")
        var checked = 0
        for row in table.rows {
            guard row.count == table.header.count else { Issue.record("\(paper): a row has \(row.count) cells: \(row)"); continue }
            #expect(Self.statuses.contains { row[status].hasPrefix($0) }, "\(paper): status '\(row[status])' starts with none of \(Self.statuses)")
            if row[data] == "—" { continue }  // a one-off measurement, its command in the row
            let shown = writtenNumbers(row[ours])
            for reference in row[data].replacingOccurrences(of: "`", with: "").components(separatedBy: ";") {
                let parts = reference.trimmingCharacters(in: .whitespaces).components(separatedBy: "#")
                guard parts.count == 2 else { Issue.record("\(paper): '\(reference)' is not file#path"); continue }
                let file = packageRoot.appendingPathComponent("figures/data/\(parts[0]).json")
                let json = try JSONSerialization.jsonObject(with: Data(contentsOf: file))
                guard let values = jsonValues(json, path: parts[1]) else {
                    Issue.record("\(paper): \(parts[0]).json has no number at \(parts[1])")
                    continue
                }
                for v in values {
                    // Shown as v rounded to the shown number's decimals.
                    let found = shown.contains { abs($0.value - v) <= 0.5 * pow(10, -Double($0.decimals)) + 1e-9 }
                    #expect(found, "\(paper): \(parts[0]).json \(parts[1]) = \(v), but the row shows '\(row[ours])'")
                    checked += 1
                }
            }
        }
        #expect(checked >= table.rows.count, "\(paper): only \(checked) numbers checked")
    }

    /// The README's scoreboard is the two claims tables: one row per claim, each "ours" cell and
    /// status word as the paper's page has them, and the counts under it theirs.
    @Test func theScoreboardIsTheClaimsTables() throws {
        let readme = try String(contentsOf: packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        var claims: [(ours: String, status: String)] = []
        for paper in ["dino.md", "deit.md"] {
            let table = try ClaimsTable(markdown: String(contentsOf: packageRoot.appendingPathComponent("papers/\(paper)"), encoding: .utf8))
            let (ours, status) = (table.header.firstIndex(of: "ours")!, table.header.firstIndex(of: "status")!)
            claims += table.rows.map { row in (row[ours], Self.statuses.first { row[status].hasPrefix($0) } ?? row[status]) }
        }
        let board = try ClaimsTable(markdown: readme, heading: "## Scoreboard")
        guard let ours = board.header.firstIndex(of: "ours"), let status = board.header.firstIndex(of: "status") else {
            Issue.record("the scoreboard needs columns 'ours' and 'status'; it has \(board.header)")
            return
        }
        #expect(board.rows.count == claims.count, "the scoreboard has \(board.rows.count) rows, the claims tables \(claims.count)")
        for (row, claim) in zip(board.rows, claims) {
            #expect(row[ours] == claim.ours && row[status] == claim.status,
                    "scoreboard row '\(row[ours])' (\(row[status])) differs from the claims table's '\(claim.ours)' (\(claim.status))")
        }
        let count = { (s: String) in claims.filter { $0.status == s }.count }
        let summary = "**\(claims.count) claims: \(count("reproduced")) reproduced, \(count("partly")) partly, \(count("not at this scale")) not at this scale**"
        #expect(readme.contains(summary), "the README's count should read \(summary)")
    }

    /// The checker itself: a number shown to fewer decimals matches its value rounded, not another.
    @Test func roundingIsJudgedAtTheShownPrecision() {
        let shown = writtenNumbers("65.63 ± 2.34 %, −0.059, 4.99")
        #expect(shown.map(\.value) == [65.63, 2.34, -0.059, 4.99])
        #expect(shown.map(\.decimals) == [2, 2, 3, 2])
        func matches(_ v: Double) -> Bool { shown.contains { abs($0.value - v) <= 0.5 * pow(10, -Double($0.decimals)) + 1e-9 } }
        #expect(matches(65.6333) && matches(4.989426) && matches(-0.0594))
        #expect(!matches(65.64) && !matches(4.98) && !matches(0.059))
    }
}
