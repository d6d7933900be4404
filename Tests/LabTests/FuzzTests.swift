// The readers of untrusted files against seeded mutations, at the size `make test` can afford
// (`make fuzz` runs 100 000 of each): 2 000 safetensors and 2 000 IDX files, every one ending in
// a value or a thrown error — no crash, no hang, no over-allocation. The first cases are the
// damaged files that once crashed or hung the readers, unmutated.
import Foundation
import Synchronization
import Testing

@Suite("fuzzing") struct FuzzTests {
    /// Every option of every experiment (paths aside), given each kind of value an outside attack
    /// used (0, negatives, huge, nan, ±inf, 1e309, a denormal, empty, junk, broken lists), ends in
    /// a clear error (exit 64, "Error: …") or an accepted configuration: `--show-config` checks
    /// everything a run checks before it starts, then prints the config. Never a crash.
    @Test func everyFlagValueEndsInAClearErrorOrAValidConfig() throws {
        let values = ["0", "-1", "1e309", "nan", "-inf", "1e-45", "99999999999999999999", "", "x", ",", "1,,2", "0.5,0.5"]
        let option = try NSRegularExpression(pattern: "^  --([a-z0-9-]+) <", options: .anchorsMatchLines)
        var cases: [(String, [String])] = []
        for experiment in ExecutableTests.experiments {
            let help = try execute(experiment, ["--help"]).output
            let names = option.matches(in: help, range: NSRange(help.startIndex..., in: help)).map { String(help[Range($0.range(at: 1), in: help)!]) }
            #expect(names.count >= 3, "\(experiment) --help lists \(names)")
            for name in Set(names).subtracting(["output", "cache", "data"]).sorted() {
                cases += values.map { (experiment, ["--scale", "quick", "--\(name)", $0, "--show-config"]) }
            }
        }
        let all = cases
        let outcomes = Mutex([Int32?](repeating: nil, count: all.count)), outputs = Mutex([String](repeating: "", count: all.count))
        DispatchQueue.concurrentPerform(iterations: all.count) { i in
            let run = try? execute(all[i].0, all[i].1)
            outcomes.withLock { $0[i] = run?.status }
            outputs.withLock { $0[i] = run?.output ?? "" }
        }
        var crashes = 0
        for (i, status) in outcomes.withLock({ $0 }).enumerated() {
            let output = outputs.withLock { $0[i] }
            let clear = status == 0 || (status == 64 && output.contains("Error: "))
            if !clear { crashes += 1 }
            #expect(clear, "\(cases[i].0) \(cases[i].1.joined(separator: " ")): status \(status.map(String.init) ?? "none"), '\(output.suffix(400))'")
        }
        print("flag fuzzing: \(cases.count) cases over \(ExecutableTests.experiments.count) executables, \(crashes) without a clear outcome")
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
