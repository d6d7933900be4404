// The readers of untrusted files against seeded mutations, at the size `make test` can afford
// (`make fuzz` runs 100 000 of each): 2 000 safetensors and 2 000 IDX files, every one ending in
// a value or a thrown error — no crash, no hang, no over-allocation. The first cases are the
// damaged files that once crashed or hung the readers, unmutated.
import Foundation
import Synchronization
import Testing

@Suite("fuzzing") struct FuzzTests {
    /// Every option of every experiment (paths aside), given each kind of value an outside attack
    /// used (0, negatives, huge, nan, ±inf, 1e309, denormals, empty, junk, broken lists, "-" and
    /// "none-"), ends in a clear error (exit 64, "Error: …") or an accepted configuration:
    /// `--show-config` checks everything a run checks before it starts. Each accepted one then
    /// runs for real at quick scale on a small synthetic dataset (300 training and 100 test images,
    /// a few seconds each), to the end or to a clear error. Never a crash.
    @Test func everyFlagValueEndsInAClearErrorOrACorrectRun() throws {
        let values = ["0", "-1", "1e309", "nan", "-inf", "1e-45", "1e-320", "99999999999999999999", "", "x", ",", "1,,2", "0.5,0.5", "-", "none-"]
        let option = try NSRegularExpression(pattern: "^  --([a-z0-9-]+) <", options: .anchorsMatchLines)
        var cases: [(String, [String])] = []
        for experiment in ExecutableTests.experiments {
            let help = try execute(experiment, ["--help"]).output
            let names = option.matches(in: help, range: NSRange(help.startIndex..., in: help)).map { String(help[Range($0.range(at: 1), in: help)!]) }
            #expect(names.count >= 3, "\(experiment) --help lists \(names)")
            for name in Set(names).subtracting(["output", "cache", "data"]).sorted() {
                cases += values.map { (experiment, ["--scale", "quick", "--\(name)", $0]) }
            }
        }
        func runAll(_ cases: [(String, [String])]) -> [Execution?] {
            let outcomes = Mutex([Execution?](repeating: nil, count: cases.count))
            DispatchQueue.concurrentPerform(iterations: cases.count) { i in
                let run = try? execute(cases[i].0, cases[i].1)
                outcomes.withLock { $0[i] = run }
            }
            return outcomes.withLock { $0 }
        }
        var crashes = 0
        func judge(_ cases: [(String, [String])], _ runs: [Execution?], accepted: Set<Int32>) {
            for (i, run) in runs.enumerated() {
                let clear = run.map { !$0.crashed && (accepted.contains($0.status) || ($0.status != 0 && $0.output.contains("Error: "))) } ?? false
                if !clear { crashes += 1 }
                #expect(clear, "\(cases[i].0) \(cases[i].1.joined(separator: " ")): status \(run.map { String($0.status) } ?? "none"), '\(run?.output.suffix(400) ?? "")'")
            }
        }
        let checked = runAll(cases.map { ($0.0, $0.1 + ["--show-config"]) })
        judge(cases, checked, accepted: [0])
        #expect(checked.allSatisfy { $0 == nil || $0!.status == 0 || $0!.status == 64 }, "a refusal that is not a usage error (64)")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flag-runs-\(UUID().uuidString)")
        let data = folder.appendingPathComponent("data")
        try writeSyntheticDataset(to: data, train: 300, test: 100)
        let accepted = cases.indices.filter { checked[$0]?.status == 0 }
        let runs = accepted.map { i in
            (cases[i].0, cases[i].1 + ["--data", data.path, "--output", folder.appendingPathComponent("out-\(i)").path,
                                        "--cache", folder.appendingPathComponent("cache-\(i)").path])
        }
        judge(runs, runAll(runs), accepted: [0])
        print("flag fuzzing: \(cases.count) cases over \(ExecutableTests.experiments.count) executables, \(accepted.count) accepted and run, \(crashes) without a clear outcome")
    }

    @Test func twoThousandMutatedFilesOfEachFormatEndInAValueOrAnError() throws {
        let run = try execute("fuzz", ["--cases", "2000", "--seed", "13"])
        #expect(run.status == 0, "\(run.output.suffix(3000))")
        for target in ["safetensors", "idx"] {
            #expect(run.output.contains("\(target): 2000 cases"), "\(run.output.suffix(3000))")
            #expect(run.output.contains("\(target): 0 crashes, 0 hangs, 0 over-allocations"), "\(run.output.suffix(3000))")
        }
        // Both outcomes occur: the corpus's good files load, the damaged ones are refused.
        #expect(run.output.contains("value") && run.output.contains("error:"))
    }
}

/// Fashion-MNIST's four IDX files with `train` and `test` images of seeded random pixels and
/// labels 0–9 in turn: a dataset a quick run finishes in seconds.
func writeSyntheticDataset(to folder: URL, train: Int, test: Int) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var state: UInt32 = 12345
    func byte() -> UInt8 { state = state &* 1_664_525 &+ 1_013_904_223; return UInt8(state >> 24) }
    func bigEndian(_ values: [UInt32]) -> [UInt8] { values.flatMap { v in (0..<4).reversed().map { UInt8((v >> (8 * $0)) & 0xff) } } }
    for (prefix, count) in [("train", train), ("t10k", test)] {
        let images = bigEndian([2051, UInt32(count), 28, 28]) + (0..<count * 784).map { _ in byte() }
        let labels = bigEndian([2049, UInt32(count)]) + (0..<count).map { UInt8($0 % 10) }
        try Data(images).write(to: folder.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
        try Data(labels).write(to: folder.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
    }
}
