// The checks a run's settings pass before any work: recipes refuse what the machine cannot hold
// or what means nothing, list flags refuse empty and repeated entries, and seeds use all of UInt64.
import ArgumentParser
import Foundation
import Testing
import Lab
import NN

@Suite("validation") struct ValidationTests {
    @Test func aDINOStepTooLargeForThisMachineIsRefusedBeforeAllocating() {
        var recipe = DINORecipe(backbone: ViTConfig(patchSize: 4, width: 768, depth: 12, heads: 12, classes: 0), epochs: 1, batchSize: 1024)
        recipe.localCrops = 32
        #expect(recipe.estimatedStepBytes > Memory.budget)
        #expect(throws: TrainingError.self) { try recipe.validate() }
        do { try recipe.validate() } catch { #expect("\(error)".contains("a run may use (half of this machine's memory, or of its container's limit); use a smaller --batch-size"), "\(error)") }
        // The committed preset is far inside the bound.
        #expect(DINORecipe.fashionMNIST(epochs: 2, trainImages: 15_000).estimatedStepBytes < 1e9)
        #expect(throws: Never.self) { try DINORecipe.fashionMNIST(epochs: 2, trainImages: 15_000).validate() }
    }

    @Test func recipesRefuseNonFiniteNumbers() {
        var dino = DINORecipe.quick(epochs: 1)
        for bad in [Float.nan, .infinity, -1] {
            dino.learningRate = bad
            #expect(throws: TrainingError.self) { try dino.validate() }
        }
        var supervised = SupervisedRecipe(epochs: 1, batchSize: 8, learningRate: .nan)
        #expect(throws: TrainingError.self) { try supervised.validate() }
        supervised.learningRate = 1e-3
        supervised.epochs = Int.max
        #expect(throws: TrainingError.self) { try supervised.validate() }
    }

    @Test func listFlagsRefuseEmptyUnknownAndRepeatedEntries() throws {
        let parse: (String) -> Int? = { Int($0) }
        #expect(try Flags.list("patches", "4,7", takes: "sizes", parse) == [4, 7])
        for (text, phrase) in [("", "has an empty entry in ''"), ("4,,7", "has an empty entry"), ("7,7", "names '7' twice"), ("x", "'x' is not valid")] {
            do {
                _ = try Flags.list("patches", text, takes: "sizes", parse)
                Issue.record("'\(text)' was accepted")
            } catch { #expect("\(error)".contains("--patches") && "\(error)".contains(phrase), "\(error)") }
        }
    }

    /// Only the default and full scales at seed 0 write the committed data (figures/data,
    /// figures/full/data) unless told otherwise; every other run writes where make writes it,
    /// under .build (ignored by git).
    @Test func onlyTheDefaultAndFullRunsAtSeed0WriteTheCommittedData() throws {
        func output(_ arguments: [String]) throws -> String {
            let url = try ExperimentOptions.parse(arguments).outputURL
            return url.path.hasPrefix(FileManager.default.currentDirectoryPath + "/")
                ? String(url.path.dropFirst(FileManager.default.currentDirectoryPath.count + 1)) : url.path
        }
        #expect(try output([]) == "figures/data")
        #expect(try output(["--scale", "quick"]) == ".build/figures-quick/data")
        #expect(try output(["--seed", "2"]) == ".build/figures-default-seed2/data")
        #expect(try output(["--scale", "full"]) == "figures/full/data")
        #expect(try output(["--scale", "full", "--seed", "1"]) == ".build/figures-full-seed1/data")
        #expect(try output(["--scale", "quick", "--output", "/tmp/x"]) == "/tmp/x")
        #expect(throws: (any Error).self) { try ExperimentOptions.parse(["--resume", "--fresh"]) }
    }

    @Test func seedsWrapAtTheTopOfUInt64() throws {
        let options = try ExperimentOptions.parse(["--seed", "18446744073709551615"])
        #expect(options.seed == .max)
        #expect(options.seeds(3) == [.max, 0, 1])
        for bad in ["-1", "18446744073709551616", "1e3", "+4", " 3", "٣"] {
            #expect(throws: (any Error).self, "'\(bad)'") { try ExperimentOptions.parse(["--seed", bad]) }
        }
    }
}
