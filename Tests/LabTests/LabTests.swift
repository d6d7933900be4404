// The shared experiment machinery: a quick training run learns, results files are well formed and
// written whole, the teacher cache trains once and reloads, and retrains a broken checkpoint.
import Foundation
import Synchronization
import Testing
import Data
import Lab
import NN
import Tensor

/// Fashion-MNIST, when installed (make test installs it).
let dataset: FashionMNIST? = try? FashionMNIST.load()

func temporaryFolder() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("lab-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("lab") struct LabTests {
    /// timm's split unless the recipe sets the tokens' rate or decay; then the prefix tokens, and
    /// nothing else, form a group of their own with that scale and decay.
    @Test func theTokensGetAGroupOfTheirOwnOnlyWhenTheRecipeSaysSo() throws {
        var rng = RNG(seed: 1)
        var config = ViTConfig(patchSize: 7, width: 8, depth: 1, heads: 2)
        config.prefix = .clsAndDist
        let model = try VisionTransformer(config, rng: &rng)
        var recipe = SupervisedRecipe(epochs: 1, batchSize: 8, learningRate: 1e-3)
        #expect(recipe.parameterGroups(model).count == 2)
        (recipe.tokenLearningRateScale, recipe.tokenWeightDecay) = (10, true)
        let groups = recipe.parameterGroups(model)
        #expect(groups.count == 3)
        #expect(groups[2].learningRateScale == 10 && groups[2].weightDecay)
        #expect(Set(groups[2].parameters.map(ObjectIdentifier.init)) == Set([model.clsToken, model.secondToken!].map(ObjectIdentifier.init)))
        #expect(groups.flatMap(\.parameters).count == model.parameters.count)
    }

    /// Weights that turn NaN in an epoch's last update (after its loss was checked) stop the run
    /// at that epoch's end, naming the tensor, before the model is evaluated or saved.
    @Test(.enabled(if: dataset != nil)) func nanWeightsAfterTheLastStepStopTheRun() throws {
        let data = dataset!
        var rng = RNG(seed: 12)
        let model = ConvNet(ConvNetConfig(widths: [4, 8, 8]), rng: &rng)
        var recipe = SupervisedRecipe(epochs: 1, batchSize: 32, learningRate: 1e-3)
        recipe.trainImages = 64
        var calls = 0
        let objective: Objective = { x, y in
            calls += 1
            let loss = crossEntropy(model(x), mixed: y)
            if calls == 2 { model.fc!.bias!.data[0] = .nan }  // after the loss is taken: only the update carries it
            return (loss, [:])
        }
        do {
            _ = try trainClassifier(model, recipe: recipe, data: data, label: "nan", rng: &rng, objective: objective)
            Issue.record("the run ended normally with NaN weights")
        } catch {
            #expect("\(error)".contains("holds NaN or infinite values after epoch 1"), "\(error)")
        }
    }

    /// A small ViT and ConvNet on 2 048 images for two epochs (128 steps): the loss falls well
    /// below its start and the accuracy is far above chance (10 %). (Models this small learn
    /// slowly from timm's init — PyTorch's do too — so the bar is "learning", not "learned".)
    @Test(.enabled(if: dataset != nil), arguments: ["vit", "convnet"])
    func aQuickRunLowersTheLoss(_ kind: String) throws {
        let data = dataset!
        var rng = RNG(seed: 11)
        let model: any Classifier = kind == "vit"
            ? try VisionTransformer(ViTConfig(patchSize: 7, width: 32, depth: 2, heads: 2), rng: &rng)
            : ConvNet(ConvNetConfig(widths: [8, 16, 32]), rng: &rng)
        var recipe = SupervisedRecipe(epochs: 2, batchSize: 32, learningRate: 2e-3)
        recipe.trainImages = 2048
        recipe.warmupEpochs = 0
        let initial = crossEntropy(withNoGrad { model.logits(data.normalize(data.train.images(Array(0..<256)))) },
                                   labels: data.train.labels(Array(0..<256))).item
        let history = try trainClassifier(model, recipe: recipe, data: data, label: "test \(kind)", rng: &rng)
        #expect(history.count == 2)
        #expect(history.last!.trainLoss < Double(initial) - 0.25, "loss \(initial) → \(history.map(\.trainLoss))")
        #expect(history.last!.testAccuracy > 25, "test accuracy \(history.map(\.testAccuracy))")
    }

    /// The per-epoch accuracy of a recipe with `curveImages` is the model's on that many first
    /// test images (checked on a two-epoch run, whose last record is the trained model's); a
    /// count outside the test set stops with the fix.
    @Test(.enabled(if: dataset != nil)) func theCurveMeasuresTheFirstTestImages() throws {
        let data = dataset!
        var rng = RNG(seed: 13)
        let model = ConvNet(ConvNetConfig(widths: [4, 8, 8]), rng: &rng)
        var recipe = SupervisedRecipe(epochs: 2, batchSize: 32, learningRate: 2e-3, trainImages: 256)
        recipe.curveImages = 300
        let history = try trainClassifier(model, recipe: recipe, data: data, label: "curve", rng: &rng)
        #expect(history.last!.testAccuracy == accuracy(model, on: data.test.prefix(300), data: data))
        #expect(history.last!.testAccuracy != accuracy(model, on: data.test, data: data))
        for wrong in [0, 10_001] {
            recipe.curveImages = wrong
            #expect { try recipe.validate() } throws: { "\($0)".contains("per-epoch curve must be from 1 to 10000") }
        }
    }

    @Test func tablesAreTabSeparatedWithUnits() throws {
        var table = Table([.init("epoch"), .init("loss", "nats"), .init("model")])
        table.append([1, Float(0.5), "vit"])
        table.append([2, 0.25, "vit"])
        #expect(table.tsv(comments: ["seed 0"]) == "# seed 0\n# epoch\tloss [nats]\tmodel\n1\t0.5\tvit\n2\t0.25\tvit\n")
        let folder = temporaryFolder()
        try Results.writeAtomically(table.tsv(comments: []), to: folder.appendingPathComponent("deep/t.tsv"))
        try Results.writeJSON(["b": 1, "a": [2.5, 3]], to: folder.appendingPathComponent("s.json"))
        #expect(try String(contentsOf: folder.appendingPathComponent("s.json"), encoding: .utf8)
                == "{\n  \"a\" : [\n    2.5,\n    3\n  ],\n  \"b\" : 1\n}\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["deep", "s.json"])  // no temporaries
    }

    /// A run's files appear together or not at all: a failure while writing the set (here a file
    /// whose folder is missing, as a full disk would fail) leaves the previous set whole and no
    /// temporary behind.
    @Test func aResultSetAppearsWholeOrNotAtAll() throws {
        let folder = temporaryFolder()
        try Results.writeSet([("a.tsv", "old a\n"), ("s.json", "old s\n")], in: folder)
        #expect(throws: FileError.self) {
            try Results.writeSet([("a.tsv", "new a\n"), ("missing/b.tsv", "new b\n"), ("s.json", "new s\n")], in: folder)
        }
        #expect(try String(contentsOf: folder.appendingPathComponent("a.tsv"), encoding: .utf8) == "old a\n")
        #expect(try String(contentsOf: folder.appendingPathComponent("s.json"), encoding: .utf8) == "old s\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["a.tsv", "s.json"])
        try Results.writeSet([("a.tsv", "new a\n"), ("s.json", "new s\n")], in: folder)
        #expect(try String(contentsOf: folder.appendingPathComponent("s.json"), encoding: .utf8) == "new s\n")
    }

    /// A writer killed between two renames of its set (the TSV in place, the summary still a
    /// temporary) left a journal: the next writer in the folder finishes the renames first, so the
    /// set is whole and new, and nothing of the dead writer stays.
    @Test func aSetKilledBetweenItsRenamesIsFinishedByTheNextWriter() throws {
        let folder = temporaryFolder()
        try Results.writeSet([("a.tsv", "old a\n"), ("s.json", "old s\n")], in: folder)
        let dead = "2147483646"  // no process has pid 2^31 − 2
        let (ta, ts) = (folder.appendingPathComponent(".a.tsv.\(dead).1a2b.tmp").path, folder.appendingPathComponent(".s.json.\(dead).3c4d.tmp").path)
        FileManager.default.createFile(atPath: ts, contents: Data("new s\n".utf8))
        try FileManager.default.removeItem(at: folder.appendingPathComponent("a.tsv"))
        FileManager.default.createFile(atPath: folder.appendingPathComponent("a.tsv").path, contents: Data("new a\n".utf8))  // renamed before the kill
        let journal = "\(ta)\0\(folder.appendingPathComponent("a.tsv").path)\0\(ts)\0\(folder.appendingPathComponent("s.json").path)\0"
        FileManager.default.createFile(atPath: folder.appendingPathComponent(".renames.\(dead).journal").path, contents: Data(journal.utf8))
        try Results.writeAtomically("other\n", to: folder.appendingPathComponent("other.tsv"))
        #expect(try String(contentsOf: folder.appendingPathComponent("a.tsv"), encoding: .utf8) == "new a\n")
        #expect(try String(contentsOf: folder.appendingPathComponent("s.json"), encoding: .utf8) == "new s\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["a.tsv", "other.tsv", "s.json"])
    }

    /// A temporary that a killed writer left (its process gone) is removed by the next write in
    /// its folder; one of a running process stays.
    @Test func aKilledWritersTemporaryIsRemovedByTheNextWrite() throws {
        let folder = temporaryFolder()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let dead = ".s.json.2147483646.9f3a.tmp", running = ".t.tsv.\(getpid()).1b2c.tmp"  // no process has pid 2^31 − 2
        for name in [dead, running] { FileManager.default.createFile(atPath: folder.appendingPathComponent(name).path, contents: Data("x".utf8)) }
        try Results.writeAtomically("new\n", to: folder.appendingPathComponent("s.json"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == [running, "s.json"])
    }

    @Test func provenanceNamesTheMachine() {
        let p = Provenance.current
        #expect(!p.blasKernel.isEmpty && !p.cpu.isEmpty && p.threads >= 1)
        #expect(p.convolutionKernel.hasPrefix("oneDNN ") && p.convolutionKernel.contains("kernels"))
        #expect(p.gitRevision == "unknown" || p.gitRevision.count >= 12)
    }

    /// An evaluation pass holds its batch's activations at once: a ViT whose attention maps grow
    /// with the square of its tokens takes fewer images per batch, within the budget; the default
    /// runs' models keep the batch asked for.
    @Test func evaluationBatchesAreBoundByBytes() throws {
        var rng = RNG(seed: 2)
        let patch7 = try VisionTransformer(ViTConfig(patchSize: 7, width: 96, depth: 4, heads: 3, classes: 0), rng: &rng)
        let patch1 = try VisionTransformer(ViTConfig(patchSize: 1, width: 96, depth: 1, heads: 3, classes: 0), rng: &rng)
        #expect(evaluationBatch(1000, for: patch7) == 1000)
        let capped = evaluationBatch(1000, for: patch1)
        #expect(capped < 1000 && capped * patch1.config.forwardBytesPerImage <= evaluationBudget, "\(capped)")
        #expect(evaluationBatch(1000, for: ConvNet(ConvNetConfig(), rng: &rng)) == 1000)
    }

    @Test func teacherCacheTrainsOnceThenLoadsAndRetrainsABrokenFile() throws {
        let cache = ModelCache(root: temporaryFolder())
        var rng = RNG(seed: 1)
        let config = ConvNetConfig(widths: [4, 8, 16])
        let trained = ConvNet(config, rng: &rng)
        var trainings = 0
        let file = cache.url(name: "t", scale: .quick, seed: 0, recipe: ["recipe": 1])
        func train() -> [Int] { trainings += 1; return [trainings, 7] }
        #expect(try cache.loadOrTrain(trained, at: file, recipe: #"{"recipe":1}"#, train: train) == ([1, 7], true))
        let reloaded = ConvNet(config, rng: &rng)
        #expect(try cache.loadOrTrain(reloaded, at: file, train: train) == ([1, 7], false))  // the history comes back with the weights
        #expect(trainings == 1 && reloaded.conv1.weight.scalars == trained.conv1.weight.scalars)
        // The file names the artifact it is: copied under another seed's name, it is retrained.
        let other = cache.url(name: "t", scale: .quick, seed: 1, recipe: ["recipe": 1])
        try FileManager.default.copyItem(at: file, to: other)
        #expect(try cache.loadOrTrain(reloaded, at: other, train: train).trained && trainings == 2)
        trainings = 1
        // The file names its architecture and config, so it can be rebuilt without the code.
        let metadata = try ConvNet(config, rng: &rng).load(from: file, requireChecksum: true)
        #expect(metadata["architecture"] == "convnet")
        #expect(metadata["recipe"] == #"{"recipe":1}"#)
        #expect(try JSONDecoder().decode(ConvNetConfig.self, from: Data((metadata["config"] ?? "").utf8)) == config)
        // A file without the history of its training is retrained.
        try trained.save(to: file)
        #expect(try cache.loadOrTrain(reloaded, at: file, train: train).trained && trainings == 2)
        // Another recipe is another file; a corrupt file is retrained, not trusted.
        #expect(file != cache.url(name: "t", scale: .quick, seed: 0, recipe: ["recipe": 2]))
        #expect(file != cache.url(name: "t", scale: .quick, seed: 1, recipe: ["recipe": 1]))
        try Data("garbage".utf8).write(to: file)
        #expect(try cache.loadOrTrain(reloaded, at: file, train: train).trained)
        #expect(trainings == 3)
        // Weights overwritten with NaN (the checksum no longer matches), a sound file of NaN
        // weights, and a file without a checksum: each is retrained, none used.
        var bytes = try Data(contentsOf: file)
        for i in bytes.count - 64..<bytes.count { bytes[i] = i % 4 == 3 ? 0x7f : 0xff }
        try bytes.write(to: file)
        #expect(try cache.loadOrTrain(reloaded, at: file, train: train).trained)
        try Safetensors.write(trained.stateDict().map { ($0.name, Tensor(repeating: .nan, shape: $0.tensor.shape)) }, to: file)
        #expect(try cache.loadOrTrain(reloaded, at: file, train: train).trained)
        #expect(trainings == 5 && reloaded.conv1.weight.isFinite)
        // Trained on other data (another --data): retrained; on the same data, loaded.
        #expect(try cache.loadOrTrain(reloaded, at: file, data: "train 0000", train: train).trained && trainings == 6)
        #expect(try !cache.loadOrTrain(reloaded, at: file, data: "train 0000", train: train).trained)
        #expect(try cache.loadOrTrain(reloaded, at: file, data: "train 1111", train: train).trained && trainings == 7)
    }

    /// Two callers asking for one missing model at once (`make -j`, a job array): one trains it,
    /// the other waits on the file's lock and loads it.
    @Test func aModelTwoCallersNeedIsTrainedOnce() throws {
        let cache = ModelCache(root: temporaryFolder())
        let file = cache.url(name: "shared", scale: .quick, seed: 0, recipe: ["recipe": 1])
        let config = ConvNetConfig(widths: [4, 8, 16])
        let trainings = Mutex(0)
        let results = try SideBySide.run(2, lanes: 2) { i -> Bool in
            var rng = RNG(seed: UInt64(i))
            let model = ConvNet(config, rng: &rng)
            return try cache.loadOrTrain(model, at: file) {
                trainings.withLock { $0 += 1 }
                Thread.sleep(forTimeInterval: 0.3)  // long enough for the other caller to arrive
                return [i]
            }.trained
        }
        #expect(trainings.withLock { $0 } == 1 && results.filter { $0 }.count == 1, "trainings \(trainings.withLock { $0 }), trained \(results)")
    }

    /// The plateau measure against its definition on hand-made curves: a rise over the last fifth
    /// counts, a flat end does not, one noisy epoch is averaged with its tenth.
    @Test func plateauGainComparesTheLastTenthWithTheTenthBeforeTheLastFifth() {
        let rising = (1...40).map(Double.init)   // epochs 37–40 against 29–32: 38.5 − 30.5
        #expect(plateauGain(rising) == 8)
        #expect(plateauGain([Double](repeating: 80, count: 40)) == 0)
        var flatWithSpike = [Double](repeating: 80, count: 40)
        flatWithSpike[39] = 82                   // averaged over 4 epochs: +0.5
        #expect(plateauGain(flatWithSpike) == 0.5)
        #expect(plateauGain([1, 2, 3, 4, 6]) == 2)   // 5 epochs: the last against the fourth
        #expect(plateauGain([1, 2, 3, 4]) == nil)
    }

    /// The median over seeds: the middle seed, not pulled by one that splits; NaN stays NaN.
    @Test func medianIsTheMiddleSeed() {
        #expect(median([0.993, 0.809, 0.991]) == 0.991)
        #expect(median([4, 1, 3, 2]) == 2.5)
        #expect(median([]).isNaN && median([1, .nan, 2]).isNaN)
    }

    @Test func clockFormat() {
        #expect(Progress.clock(75) == "1:15" && Progress.clock(3700) == "1:01:40" && Progress.clock(0.4) == "0:00")
    }
}
