// Interrupted runs: a run stopped mid-epoch and again at an epoch's end, then resumed from its
// checkpoint, ends bit for bit where the uninterrupted run ends — weights, buffers, optimizer
// state (through the weights it moves), every generator, and the history.
import Foundation
import Testing
import Data
import Lab
import NN
import Tensor

/// Says "stop" (SIGTERM) at its n-th question; the loops ask after every step and every save.
final class StopAfter {
    let n: Int
    var asked = 0
    init(_ n: Int) { self.n = n }
    func check() -> Int32? {
        asked += 1
        return asked == n ? SIGTERM : nil
    }
}

func checkpoint(_ url: URL, resume: Bool, stopAt n: Int? = nil) -> RunCheckpoint {
    let stop = n.map(StopAfter.init)
    return RunCheckpoint(url: url, resume: resume, config: #"{"test":1}"#, data: "train 0123abcd", stopRequested: { stop?.check() })
}

func state(_ module: any Module) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: module.stateDict().map { ($0.name, $0.tensor.scalars) })
}

@Suite("interrupt and resume") struct ResumeTests {
    /// A ViT with drop path (its own generator) and a ConvNet (BatchNorm buffers), 2 epochs of 64
    /// steps: stopped at step 10, resumed and stopped at the end of epoch 1, resumed to the end.
    @Test(.enabled(if: dataset != nil), arguments: ["vit", "convnet"])
    func aResumedClassifierEndsWhereAnUninterruptedOneEnds(_ kind: String) throws {
        let data = dataset!
        var recipe = SupervisedRecipe(epochs: 2, batchSize: 32, learningRate: 2e-3)
        recipe.trainImages = 2048
        recipe.cropScale = 0.5...1  // draws from the loop's generator too
        func model(_ rng: inout RNG) throws -> any Classifier {
            kind == "vit" ? try VisionTransformer(ViTConfig(patchSize: 7, width: 16, depth: 2, heads: 2, dropPathRate: 0.2), rng: &rng)
                          : ConvNet(ConvNetConfig(widths: [4, 8, 16]), rng: &rng)
        }
        var rng = RNG(seed: 21)
        let reference = try model(&rng)
        let expected = try trainClassifier(reference, recipe: recipe, data: data, label: "uninterrupted", rng: &rng)

        let file = temporaryFolder().appendingPathComponent("run.safetensors")
        var positions: [String] = []
        var resumed: (any Classifier)?
        var history: [EpochRecord] = []
        var finalRNG = RNG(seed: 0)
        // 64 steps an epoch: questions after steps 1–63, before the epoch's evaluation (its steps
        // done) and at its end. Stops mid-epoch, before the evaluation, and at the end.
        for (resume, stop) in [(false, 10), (true, 54), (true, 1), (true, nil)] as [(Bool, Int?)] {
            var rng = RNG(seed: 21)
            let m = try model(&rng)
            do {
                history = try trainClassifier(m, recipe: recipe, data: data, label: "resumed", rng: &rng,
                                              checkpoint: checkpoint(file, resume: resume, stopAt: stop))
                (resumed, finalRNG) = (m, rng)
            } catch let i as Interrupted {
                positions.append(i.position)
                #expect(i.exitCode == 128 + SIGTERM && i.checkpoint == file)
            }
        }
        #expect(positions == ["epoch 1, step 10 of 64", "epoch 1, step 64 of 64", "the end of epoch 1"])
        #expect(history.map(\.trainLoss) == expected.map(\.trainLoss))
        #expect(history.map(\.testAccuracy) == expected.map(\.testAccuracy))
        #expect(state(resumed!) == state(reference))
        #expect(finalRNG.state == rng.state)
        if let vit = resumed as? VisionTransformer { #expect(vit.generator.state == (reference as! VisionTransformer).generator.state) }
    }

    /// DINO with a momentum and a previous-epoch teacher (whose copy happens at the epoch's end):
    /// student, teacher, center, every step's diagnostics and the k-NN agree after three stops.
    @Test(.enabled(if: dataset != nil), arguments: [TeacherUpdate.momentum, .previousEpoch])
    func aResumedDINORunEndsWhereAnUninterruptedOneEnds(_ kind: TeacherUpdate) throws {
        var recipe = tinyRecipe(kind, epochs: 3)
        recipe.dropPathRate = 0.1
        let expectedTrainer = try DINOTrainer(recipe: recipe, data: dataset!, seed: 9)
        let expected = try expectedTrainer.train(label: "uninterrupted", evaluation: KNNSchedule(ks: [20]))

        let file = temporaryFolder().appendingPathComponent("dino.safetensors")
        var positions: [String] = []
        var finished: (DINOTrainer, [DINOEpochRecord])?
        // 4 steps an epoch: questions after steps 1–3, before the epoch's evaluation (and the
        // previous-epoch teacher's copy) and at its end.
        for (resume, stop) in [(false, 7), (true, 2), (true, 1), (true, nil)] as [(Bool, Int?)] {
            let trainer = try DINOTrainer(recipe: recipe, data: dataset!, seed: 9)
            do {
                finished = (trainer, try trainer.train(label: "resumed", evaluation: KNNSchedule(ks: [20]), checkpoint: checkpoint(file, resume: resume, stopAt: stop)))
            } catch let i as Interrupted { positions.append(i.position) }
        }
        #expect(positions == ["epoch 2, step 2 of 4", "epoch 2, step 4 of 4", "the end of epoch 2"])
        let (trainer, history) = try #require(finished)
        #expect(history.map(\.loss) == expected.map(\.loss) && history.map(\.kl) == expected.map(\.kl))
        #expect(history.map(\.knn) == expected.map(\.knn))
        #expect(trainer.stepRecords.map(\.teacherEntropy) == expectedTrainer.stepRecords.map(\.teacherEntropy))
        #expect(trainer.stepRecords.count == 12)
        #expect(state(trainer.student) == state(expectedTrainer.student))
        #expect(state(trainer.teacher) == state(expectedTrainer.teacher))
        #expect(trainer.loss.center.scalars == expectedTrainer.loss.center.scalars)
        #expect(trainer.lastFeatures!.test.scalars == expectedTrainer.lastFeatures!.test.scalars)
    }

    /// A checkpoint damaged in any field stops the resumed run before it trains, naming the file
    /// and both fixes. The cases a fuzzer found crashing the old code come first.
    @Test(.enabled(if: dataset != nil))
    func aDamagedCheckpointStopsWithBothFixes() throws {
        var recipe = SupervisedRecipe(epochs: 2, batchSize: 32, learningRate: 1e-3)
        recipe.trainImages = 256
        func model() throws -> VisionTransformer {
            var rng = RNG(seed: 4)
            return try VisionTransformer(ViTConfig(patchSize: 7, width: 16, depth: 1, heads: 2, dropPathRate: 0.1), rng: &rng)
        }
        let file = temporaryFolder().appendingPathComponent("run.safetensors")
        var rng = RNG(seed: 4)
        #expect(throws: Interrupted.self) {
            _ = try trainClassifier(try model(), recipe: recipe, data: dataset!, label: "t", rng: &rng, checkpoint: checkpoint(file, resume: false, stopAt: 3))
        }
        let (tensors, metadata) = try Safetensors.read(file)
        let loop = try #require(try JSONSerialization.jsonObject(with: Data(metadata["loop"]!.utf8)) as? [String: Any])
        #expect(loop["step"] as? Int == 3)
        // The file describes itself: the model's architecture and config, and the run's config.
        #expect(metadata["model.architecture"] == "vit" && metadata["model.config"] != nil && metadata["recipe"] == #"{"test":1}"#,
                "\(metadata.keys.sorted())")

        func resumed(loop changes: [String: Any] = [:], metadata extra: [String: String] = [:],
                     tensors edit: (inout [(name: String, tensor: Tensor)]) -> Void = { _ in }) -> String {
            let damaged = file.deletingLastPathComponent().appendingPathComponent("damaged.safetensors")
            var fields = loop
            for (k, v) in changes { fields[k] = v }
            var m = metadata
            m["loop"] = String(decoding: try! JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
            // Rewritten as the damaged file's own run, so each case reaches the field it damages.
            m["run"] = String(decoding: try! JSONEncoder().encode(file.deletingLastPathComponent().lastPathComponent + "/damaged"), as: UTF8.self)
            for (k, v) in extra { m[k] = v }
            var t = tensors
            edit(&t)
            try! Safetensors.write(t, metadata: m, to: damaged)
            var r = RNG(seed: 4)
            do {
                _ = try trainClassifier(try model(), recipe: recipe, data: dataset!, label: "t", rng: &r, checkpoint: checkpoint(damaged, resume: true))
                return "resumed"
            } catch { return "\(error)" }
        }
        let fixes = "Run with --fresh instead of --resume to start over, or delete the file"
        for (change, problem) in [
            (["epochStart": [UInt64]()], "the generator state of its epoch's start is invalid"),
            (["step": -1], "its step -1 is outside an epoch of 8 steps"),
            (["metrics": ["names": ["loss"], "precision": "double", "sums": [Double]()] as [String: Any]], "its running sums [\"loss\"] do not fit"),
            (["metrics": ["names": ["loss", "kl"], "precision": "double", "sums": [0.0, 0.0]] as [String: Any]], "its running sums [\"loss\", \"kl\"] do not fit this run's [\"loss\"]"),
            (["metrics": ["names": ["loss"], "precision": "float", "sums": [0.0]] as [String: Any]], "its running sums [\"loss\"] do not fit"),
            (["epoch": 1 << 62], "its epoch 4611686018427387904 is outside this run's 0…2"),
            (["epoch": -3], "its epoch -3 is outside this run's 0…2"),
            (["optimizerSteps": Array(repeating: Int.max - 1, count: (loop["optimizerSteps"] as! [Int]).count)], "its optimizer step counts do not fit"),
            (["rng": [UInt64]()], "its generator state is invalid"),
            (["generators": [[UInt64]]()], "its 0 model generators do not fit this run's 1"),
            (["seconds": -1], "its epoch time -1.0 is not a duration"),
            (["epoch": 1], "it records 0 finished epochs but stands after epoch 1"),
            (["epoch": "two"], "its 'loop' cannot be read"),
        ] as [([String: Any], String)] {
            let message = resumed(loop: change)
            #expect(message.contains("damaged.safetensors cannot be resumed: \(problem)") && message.contains(fixes), "\(change): \(message)")
        }
        #expect(resumed(metadata: ["history": "{}"]).contains("its 'history' cannot be read"))
        #expect(resumed(tensors: { $0[0].tensor = Tensor(repeating: .nan, shape: $0[0].tensor.shape) }).contains("holds NaN or infinite values"))
        #expect(resumed(tensors: { $0.removeLast() }).contains(fixes))
        #expect(resumed() == "resumed")  // the rewrite itself keeps a checkpoint sound
        // Another run's checkpoint, copied into this run's place, is refused (its data are sound).
        #expect(resumed(metadata: ["run": "\"other-seed1-0123/run\""]).contains("it was saved by run 'other-seed1-0123/run', not by this one"))
        // A checkpoint of this run trained on other data (another --data) is refused too.
        #expect(resumed(metadata: ["data_crc32": "\"train 99999999\""]).contains("it was trained on other data (train 99999999), not on this --data (train 0123abcd)"))
        let copied = file.deletingLastPathComponent().appendingPathComponent("copy.safetensors")
        try FileManager.default.copyItem(at: file, to: copied)
        var r0 = RNG(seed: 4)
        do {
            _ = try trainClassifier(try model(), recipe: recipe, data: dataset!, label: "t", rng: &r0, checkpoint: checkpoint(copied, resume: true))
            Issue.record("a copied checkpoint resumed")
        } catch { #expect("\(error)".contains("it was saved by run") && "\(error)".contains(fixes), "\(error)") }

        // A truncated file and a flipped byte: found by the checksum or the layout, same fixes.
        let bytes = try Data(contentsOf: file)
        try bytes.prefix(bytes.count / 2).write(to: file)
        var r = RNG(seed: 4)
        let truncated = (try? trainClassifier(try model(), recipe: recipe, data: dataset!, label: "t", rng: &r, checkpoint: checkpoint(file, resume: true))).map { _ in "" }
        #expect(truncated == nil)
        do {
            _ = try trainClassifier(try model(), recipe: recipe, data: dataset!, label: "t", rng: &r, checkpoint: checkpoint(file, resume: true))
        } catch { #expect("\(error)".contains("run.safetensors cannot be resumed") && "\(error)".contains(fixes), "\(error)") }
        var flipped = bytes
        flipped[flipped.count - 5] ^= 1
        try flipped.write(to: file)
        do {
            _ = try trainClassifier(try model(), recipe: recipe, data: dataset!, label: "t", rng: &r, checkpoint: checkpoint(file, resume: true))
            Issue.record("a checkpoint with a flipped byte was resumed")
        } catch { #expect("\(error)".contains("does not match its checksum") && "\(error)".contains(fixes), "\(error)") }
    }

    /// Without --resume a checkpoint is ignored and overwritten; a file that is not a training
    /// checkpoint is refused with the fix in the message.
    @Test(.enabled(if: dataset != nil))
    func aCheckpointIsUsedOnlyWhenResumingAndOnlyIfItIsOne() throws {
        let folder = temporaryFolder()
        let file = folder.appendingPathComponent("run.safetensors")
        var rng = RNG(seed: 3)
        let model = try VisionTransformer(ViTConfig(patchSize: 7, width: 16, depth: 1, heads: 2), rng: &rng)
        try model.save(to: file)  // a model, not a training checkpoint
        var recipe = SupervisedRecipe(epochs: 1, batchSize: 32, learningRate: 1e-3)
        recipe.trainImages = 128
        #expect(throws: CheckpointError.self) {
            var r = RNG(seed: 3)
            _ = try trainClassifier(model, recipe: recipe, data: dataset!, label: "t", rng: &r, checkpoint: checkpoint(file, resume: true))
        }
        var r = RNG(seed: 3)
        _ = try trainClassifier(model, recipe: recipe, data: dataset!, label: "t", rng: &r, checkpoint: checkpoint(file, resume: false))
        let (_, metadata) = try Safetensors.read(file)
        #expect(metadata["format"] == "vitdistill training checkpoint 1")
    }
}
