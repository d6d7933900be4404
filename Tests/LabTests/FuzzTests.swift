// The readers of untrusted files against seeded mutations, at the size `make test` can afford
// (`make fuzz` runs 100 000 of each): 2 000 safetensors and 2 000 IDX files, every one ending in
// a value or a thrown error — no crash, no hang, no over-allocation. The first cases are the
// damaged files that once crashed or hung the readers, unmutated.
import Foundation
import Testing

@Suite("fuzzing") struct FuzzTests {
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
