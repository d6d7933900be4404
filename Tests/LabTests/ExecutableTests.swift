// Every experiment executable, end to end: impossible flags and a corrupt dataset folder each
// give a message naming the problem, a non-zero exit and no data file written; the same seed
// writes the same summary twice. The executables are the release build's (`make test` builds
// them before the tests run).
import Foundation
import Testing

/// The package root, from this file's path (Tests/LabTests/…).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

struct Execution {
    let status: Int32
    let output: String
    /// Ended by a signal (a crash: SIGILL from a precondition, SIGSEGV) rather than an exit.
    var crashed = false
}

/// Runs `.build/release/<name>` with `arguments` in `directory` (the test's own by default);
/// stdout and stderr together.
func execute(_ name: String, _ arguments: [String], in directory: URL? = nil, environment: [String: String] = [:]) throws -> Execution {
    let binary = packageRoot.appendingPathComponent(".build/release/\(name)")
    guard FileManager.default.isExecutableFile(atPath: binary.path) else {
        throw TestFailure("\(binary.path) is missing: build the executables first (`swift build -c release`, which `make test` does)")
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = directory }
    if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let pipe = Pipe()
    (process.standardOutput, process.standardError) = (pipe, pipe)
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Execution(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self), crashed: process.terminationReason == .uncaughtSignal)
}

/// The files in `folder` (none if it does not exist): experiments create their output folder
/// before they start, and must leave it empty when they stop early.
func files(in folder: URL) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("executables end to end", .serialized) struct ExecutableTests {
    static let experiments = ["supervised", "patch-throughput", "collapse", "ema-teacher", "distillation", "token-similarity", "attention-maps"]

    /// (executable, arguments, a phrase the message must contain)
    static let badFlags: [(String, [String], String)] = experiments.flatMap { e in
        [(e, ["--scale", "huge"], "huge"), (e, ["--seed", "-3"], "seed")]
    } + [
        ("supervised", ["--models", "resnet"], "--models"),
        ("supervised", ["--epochs", "0"], "--epochs"),
        ("supervised", ["--data-regime", "imagenet"], "--data-regime takes deit or full, got 'imagenet'"),
        ("patch-throughput", ["--patches", "5"], "--patches"),
        ("patch-throughput", ["--lanes", "0"], "--lanes"),
        // Beyond the memory budget: one step, and lanes of steps side by side.
        ("collapse", ["--batch-size", "1024", "--width", "768", "--local-crops", "32", "--out-dim", "65536"],
         "more than the"),
        ("collapse", ["--batch-size", "1024", "--width", "768", "--local-crops", "32", "--out-dim", "65536"],
         "use a smaller --batch-size, fewer --local-crops or a smaller --out-dim"),
        ("attention-maps", ["--lanes", "2"], "attention-maps trains one model at a time"),
        ("collapse", ["--epochs", "0"], "--epochs must be from 1 to 1000, got 0"),
        ("ema-teacher", ["--momentum", "1.5"], "momentum"),
        ("ema-teacher", ["--teachers", "mean-teacher"], "mean-teacher"),
        ("ema-teacher", ["--local-scale", "0.5,0.2"], "--local-scale"),
        ("distillation", ["--variants", "warm-convnet"], "warm"),
        ("distillation", ["--tau", "0"], "τ must be from 0.1 to 100, got 0.0"),
        ("distillation", ["--lambda", "2"], "λ must be in [0, 1], got 2.0"),
        // Found by an outside attack: each crashed, hung or ran on before.
        ("ema-teacher", ["--seed", "-1"], "--seed takes a whole number from 0 to 18446744073709551615, got '-1'"),
        ("ema-teacher", ["--seed", "18446744073709551616"], "--seed takes a whole number"),
        ("ema-teacher", ["--learning-rate", "nan"], "the learning rate must be from 1e-8 to 1, got nan"),
        ("ema-teacher", ["--learning-rate", "inf"], "the learning rate must be from 1e-8 to 1, got inf"),
        ("ema-teacher", ["--teacher-temperature", "inf"], "temperature must be from 0.001 to 10"),
        ("ema-teacher", ["--local-scale", "0.1,x,0.3"], "--local-scale: 'x' is not valid"),
        ("ema-teacher", ["--local-scale", "0.1,0.3,0.5"], "--local-scale takes 'low,high'"),
        ("ema-teacher", ["--epochs", "1000000000"], "--epochs must be from 1 to 1000, got 1000000000"),
        ("ema-teacher", ["--epochs", "9223372036854775807"], "--epochs must be from 1 to 1000"),
        ("ema-teacher", ["--local-crops", "100000"], "--local-crops must be from 0 to 32"),
        ("ema-teacher", ["--batch-size", "100000"], "--batch-size must be from 2"),
        ("collapse", ["--batch-size", "0"], "--batch-size must be from 2 to 1024, got 0 (the center is a batch mean)"),
        ("ema-teacher", ["--teachers", ""], "--teachers has an empty entry"),
        ("ema-teacher", ["--teachers", "momentum,momentum"], "--teachers names 'momentum' twice"),
        ("ema-teacher", ["--seeds", "1000000"], "--seeds must be from 1 to 100"),
        ("ema-teacher", ["--train-images", "70000"], "--train-images must be from 1 to 60000"),
        ("ema-teacher", ["--width", "0"], "width 0 is not divisible"),
        ("ema-teacher", ["--heads", "5"], "is not divisible by 5 heads"),
        ("ema-teacher", ["--width", "4096"], "beyond ViT-B's 768"),
        ("ema-teacher", ["--out-dim", "1"], "out_dim must be at least 2"),
        ("ema-teacher", ["--subset-bank", "5"], "--subset-bank 5 is smaller than k = 200"),
        ("ema-teacher", ["--lanes", "0"], "--lanes must be from 1 to 8"),
        ("ema-teacher", ["--patch-size", "4"], "must be multiples of the patch size 4"),
        ("collapse", ["--local-size", "10"], "must be multiples of the patch size 7"),
        ("collapse", ["--lanes", "9"], "--lanes must be from 1 to 8"),
        ("collapse", ["--momentum", "1.5"], "the teacher momentum must be in [0, 1]"),
        ("patch-throughput", ["--patches", "4,,7"], "--patches has an empty entry in '4,,7'"),
        ("patch-throughput", ["--patches", "7,7"], "--patches names '7' twice"),
        ("distillation", ["--tau", "inf"], "τ must be from 0.1 to 100, got inf"),
        ("distillation", ["--lambda", "nan"], "λ must be in [0, 1], got nan"),
        ("distillation", ["--epochs", "9223372036854775807"], "--epochs must be from 1 to 1000"),
        ("distillation", ["--variants", "none,,hard-vit"], "--variants has an empty entry"),
        ("distillation", ["--crop-scale", "0.5,0.2"], "--crop-scale takes 'low,high' with 0 < low ≤ high ≤ 1"),
        // Values that would run and do nothing, or mislead (an outside attack found each one).
        ("ema-teacher", ["--learning-rate", "1e-45"], "the learning rate must be from 1e-8 to 1, got 1e-45"),
        ("distillation", ["--tau", "1e-30"], "τ must be from 0.1 to 100, got 1e-30"),
        ("distillation", ["--tau", "1e30"], "τ must be from 0.1 to 100, got 1e+30"),
        ("collapse", ["--teacher-temperature", "1e-30"], "temperature must be from 0.001 to 10"),
        ("distillation", ["--crop-scale", "0.5,x,1"], "--crop-scale: 'x' is not valid"),
        ("distillation", ["--augmentation", "heavy"], "--augmentation takes deit or flip, got 'heavy'"),
        ("distillation", ["--magnitude", "11"], "--magnitude must be from 0 to 10"),
        ("distillation", ["--erasing", "1"], "erasing in [0, 1)"),
        ("distillation", ["--mixup-alpha", "nan"], "Mixup and CutMix take finite α ≥ 0"),
        ("distillation", ["--teacher-epochs", "0"], "--teacher-epochs must be from 1"),
        ("token-similarity", ["--batch-size", "0"], "--batch-size must be from 1"),
        ("distillation", ["--variants", "hard-convnet-per-element"], "--variants: 'hard-convnet-per-element' is not valid"),
        ("distillation", ["--variants", "soft-vit-numel"], "soft-<convnet|vit>-<per-sample|per-element>"),
        ("distillation", ["--lanes", "0"], "--lanes"),
        ("distillation", ["--variants", "-"], "--variants: '-' is not valid"),
        ("distillation", ["--variants", "none-"], "--variants: 'none-' is not valid"),
        ("distillation", ["--variants", "soft-convnet,soft-convnet-per-sample"], "--variants names one student twice"),
        ("distillation", ["--variants", "soft-convnet,soft-convnet-per-element", "--kl-normalization", "per-element"], "--variants names one student twice"),
        ("token-similarity", ["--runs", "distillation", "--dose-response"], "--runs does not apply to --dose-response"),
        ("token-similarity", ["--dose-teacher-epochs", "1,2"], "--dose-teacher-epochs applies only with --dose-response"),
        ("token-similarity", ["--distillation-target", "medium"], "--distillation-target takes hard or soft, got 'medium'"),
        ("token-similarity", ["--teacher-recipe", "imagenet"], "--teacher-recipe takes supervised or distillation"),
        ("token-similarity", ["--width", "33"], "not divisible"),
        ("token-similarity", ["--runs", "distillation,distillation"], "--runs names 'distillation' twice"),
        ("supervised", ["--models", "vit,vit"], "--models names 'vit' twice"),
        ("supervised", ["--output", "/proc/self/status"], "--output: /proc/self/status: is a file, not a folder"),
        ("supervised", ["--cache", "/proc/vitdistill-cache"], "--cache: /proc/vitdistill-cache: cannot be created"),
    ]

    /// The revision a run records is that of the checkout the binary was built from, wherever it
    /// is run: from / (outside any repository) as from the checkout itself.
    /// `git <arguments>` in the checkout, or nil outside a git checkout (a source tarball).
    static func git(_ arguments: [String]) -> String? {
        let git = Process()
        git.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        git.arguments = ["git", "-C", packageRoot.path] + arguments
        let pipe = Pipe()
        (git.standardOutput, git.standardError) = (pipe, FileHandle.nullDevice)
        guard (try? git.run()) != nil else { return nil }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        git.waitUntilExit()
        return git.terminationStatus == 0 ? output : nil
    }

    /// The checkout's HEAD, with "-dirty" when its sources differ from it.
    static let head: String? = git(["rev-parse", "--short=12", "HEAD"]).map { head in
        git(["status", "--porcelain", "--", "Sources", "Package.swift"]).map { $0.isEmpty } == false ? head + "-dirty" : head
    }

    @Test(.enabled(if: head != nil)) func theRecordedRevisionIsTheBuildsCheckoutsFromAnyFolder() throws {
        let head = Self.head!
        for folder in [URL(fileURLWithPath: "/"), packageRoot] {
            let run = try execute("collapse", ["--version"], in: folder)
            #expect(run.status == 0 && run.output.split(separator: "\n").first == "git \(head)", "from \(folder.path): '\(run.output)', HEAD is \(head)")
        }
    }

    /// --print-config (the name DINO users reach for) is --show-config.
    @Test func printConfigIsShowConfig() throws {
        let (shown, printed) = (try execute("collapse", ["--show-config"]), try execute("collapse", ["--print-config"]))
        #expect(shown.status == 0 && printed.status == 0 && shown.output == printed.output && shown.output.contains("\"teacher_momentum\""))
    }

    /// A crop scale whose low equals its high is one fixed area, not a repeated entry.
    @Test func aCropScaleOfOneAreaIsAccepted() throws {
        let run = try execute("distillation", ["--crop-scale", "0.5,0.5", "--show-config"])
        let compact = run.output.filter { !$0.isWhitespace }
        #expect(run.status == 0 && compact.contains("\"crop_scale\":[0.5,0.5]"), "\(run.output.suffix(1500))")
    }

    /// The official per-element KL for every soft student: the default list then holds its
    /// per-element student and, in place of the now identical second one, the per-sample one.
    @Test func thePerElementKLKeepsTwoDistinctSoftStudents() throws {
        let run = try execute("distillation", ["--kl-normalization", "per-element", "--show-config"])
        #expect(run.status == 0, "\(run.output.suffix(1000))")
        #expect(run.output.contains("\"kl\" : \"per-sample\""), "\(run.output.suffix(2000))")
    }

    @Test func badFlagsAreRefusedWithAMessageAndNoDataFile() throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("bad-flags-\(UUID().uuidString)")
        for (name, arguments, phrase) in Self.badFlags {
            let run = try execute(name, (arguments.contains("--output") ? [] : ["--output", output.path]) + arguments)
            #expect(run.status != 0, "\(name) \(arguments): exit 0")
            #expect(run.output.localizedCaseInsensitiveContains(phrase), "\(name) \(arguments): no '\(phrase)' in \(run.output)")
            #expect(!run.output.contains("NSCocoaErrorDomain") && !run.output.contains("Fatal error"), "\(name) \(arguments): \(run.output)")
        }
        #expect(files(in: output).isEmpty, "a refused run wrote \(files(in: output)) in \(output.path)")
    }

    /// The four IDX files present but corrupt, given with --data: every experiment stops before
    /// it creates any folder, naming the file and the fix (--data).
    @Test func aCorruptDatasetStopsEveryExperimentBeforeItWritesAnything() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("corrupt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            try Data("not an IDX file".utf8).write(to: folder.appendingPathComponent(file))
        }
        let output = folder.appendingPathComponent("out")
        for name in Self.experiments {
            let run = try execute(name, ["--scale", "quick", "--data", folder.path, "--output", output.path,
                                         "--cache", folder.appendingPathComponent("cache").path])
            #expect(run.status != 0, "\(name): exit 0 on a corrupt dataset")
            #expect(run.output.contains("train-images-idx3-ubyte") && run.output.contains("give --data a folder"),
                    "\(name): the message names neither the file nor the fix: \(run.output)")
        }
        #expect(!FileManager.default.fileExists(atPath: output.path) && !FileManager.default.fileExists(atPath: folder.appendingPathComponent("cache").path),
                "an experiment left its output or cache folder behind despite the corrupt dataset")
    }

    /// Two runs of every experiment at quick scale with the same seed write the same JSON
    /// summary (apart from patch-throughput's `timings`, which are speeds). The second run loads
    /// the teachers and the DeiT⚗ student the first one cached, so this also checks that a cached
    /// model is the model that was trained.
    @Test func theSameSeedWritesTheSameSummary() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("determinism-\(UUID().uuidString)")
        let cache = folder.appendingPathComponent("cache").path
        for name in Self.experiments {
            var summaries: [[String: Any]] = []
            for run in ["first", "second"] {
                let output = folder.appendingPathComponent(run)
                let result = try execute(name, ["--scale", "quick", "--seed", "5", "--output", output.path, "--cache", cache])
                #expect(result.status == 0, "\(name) (\(run) run) failed: \(result.output.suffix(2000))")
                let json = try Data(contentsOf: output.appendingPathComponent("\(name).json"))
                var summary = try JSONSerialization.jsonObject(with: json) as! [String: Any]
                summary["timings"] = nil
                summaries.append(summary)
            }
            #expect(NSDictionary(dictionary: summaries[0]).isEqual(to: summaries[1]), "\(name): two runs of seed 5 differ")
            #expect(camelCaseKeys(summaries[0]).isEmpty, "\(name): fields not in snake_case: \(camelCaseKeys(summaries[0]))")
        }
    }

    /// The keys of `json` written as a Swift field is (`batchSize`) instead of in the summaries'
    /// snake_case; names of runs and models (`soft-convnet`, `ViT-S/16`) are not fields.
    func camelCaseKeys(_ json: Any) -> Set<String> {
        if let array = json as? [Any] { return array.reduce(into: []) { $0.formUnion(camelCaseKeys($1)) } }
        guard let object = json as? [String: Any] else { return [] }
        return object.reduce(into: []) { found, entry in
            let key = entry.key
            if key.first!.isLowercase && key.contains(where: \.isUppercase) && key.allSatisfy({ $0.isLetter || $0.isNumber }) { found.insert(key) }
            found.formUnion(camelCaseKeys(entry.value))
        }
    }

    /// A real signal in the middle of training: the experiment exits with 128 + the signal, keeps
    /// its checkpoints and writes no data file; a rerun without `--resume` stops and keeps them;
    /// `--resume` then ends with the summary of an uninterrupted run. The signal is sent as soon as the first checkpoint appears (the end of
    /// the first epoch), so it lands at whatever step the run has reached — any step must do.
    ///
    /// SIGKILL cannot be caught: the run dies wherever it is, after the checkpoint of its first
    /// epoch. It was rerunning into a folder that holds a finished set of data files, and that
    /// set must be there whole afterwards, byte for byte; `--resume` continues from the epoch's
    /// checkpoint to the uninterrupted numbers.
    @Test(arguments: [("ema-teacher", SIGINT), ("distillation", SIGTERM), ("ema-teacher", SIGKILL)])
    func anInterruptedExperimentResumesToTheUninterruptedResult(_ name: String, _ signal: Int32) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("interrupt-\(UUID().uuidString)")
        func arguments(_ run: String) -> [String] {
            ["--scale", "quick", "--seed", "5", "--output", folder.appendingPathComponent("\(run)/data").path,
             "--cache", folder.appendingPathComponent("\(run)/cache").path]
        }
        func summary(_ run: String) throws -> NSDictionary {
            let json = try Data(contentsOf: folder.appendingPathComponent("\(run)/data/\(name).json"))
            var s = try JSONSerialization.jsonObject(with: json) as! [String: Any]
            s["provenance"] = nil  // the same commit, but the checkout may be dirty in one and not the other
            s["timings"] = nil     // seconds differ between any two runs
            return NSDictionary(dictionary: s)
        }
        let reference = try execute(name, arguments("uninterrupted"))
        #expect(reference.status == 0, "\(reference.output.suffix(2000))")

        let committed = folder.appendingPathComponent("stopped/data")
        func contents(_ folder: URL) -> [String: Data] {
            Dictionary(uniqueKeysWithValues: files(in: folder).map { ($0, (try? Data(contentsOf: folder.appendingPathComponent($0))) ?? Data()) })
        }
        if signal == SIGKILL {
            try FileManager.default.createDirectory(at: committed.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: folder.appendingPathComponent("uninterrupted/data"), to: committed)
        }
        let committedFiles = contents(committed)
        let runs = folder.appendingPathComponent("stopped/cache/runs")
        let log = folder.appendingPathComponent("stopped.log")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data().write(to: log)
        let process = Process()
        process.executableURL = packageRoot.appendingPathComponent(".build/release/\(name)")
        process.arguments = arguments("stopped")
        let handle = try FileHandle(forWritingTo: log)
        (process.standardOutput, process.standardError) = (handle, handle)
        try process.run()
        func checkpoints() -> [String] {
            ((try? FileManager.default.subpathsOfDirectory(atPath: runs.path)) ?? []).filter { $0.hasSuffix(".safetensors") }
        }
        while process.isRunning && checkpoints().isEmpty { usleep(20_000) }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        let output = try String(contentsOf: log, encoding: .utf8)
        #expect(!checkpoints().isEmpty)
        if signal == SIGKILL {
            #expect(process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL, "\(output.suffix(2000))")
            let after = contents(committed)
            #expect(after.keys.sorted() == committedFiles.keys.sorted() && after == committedFiles,
                    "\(name): the data files changed under a killed run: \(after.keys.sorted()) against \(committedFiles.keys.sorted())")
        } else {
            #expect(process.terminationReason == .exit && process.terminationStatus == 128 + signal,
                    "\(name): status \(process.terminationStatus) after the signal: \(output.suffix(2000))")
            #expect(output.contains("--resume"), "\(name): the message does not say how to continue: \(output.suffix(1000))")
            #expect(files(in: committed).isEmpty, "\(name) wrote \(files(in: committed)) although it was stopped")
        }

        // A rerun that forgets --resume stops before any work and keeps what the stopped run saved.
        let saved = checkpoints()
        let forgot = try execute(name, arguments("stopped"))
        #expect(forgot.status != 0 && forgot.output.contains("--resume") && forgot.output.contains("--fresh"),
                "\(name): a rerun without --resume did not stop naming --resume and --fresh: \(forgot.output.suffix(1000))")
        #expect(checkpoints() == saved, "\(name): a rerun without --resume changed the checkpoints")

        let resumed = try execute(name, arguments("stopped") + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.output.suffix(2000))")
        #expect(resumed.output.contains("continuing from"))
        let (stopped, uninterrupted) = (try summary("stopped"), try summary("uninterrupted"))
        #expect(stopped.isEqual(uninterrupted), "\(name): the resumed run's summary differs")
        #expect(checkpoints().isEmpty, "\(name) left its checkpoints after finishing")
    }

    /// A dataset (--data) of fewer training images than the largest k: the k-NN would have no
    /// k neighbours. The run stops before it trains, naming k, the bank and the fix.
    @Test func aTrainingSetSmallerThanKStopsWithTheFix() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("small-bank-\(UUID().uuidString)")
        try writeSyntheticDataset(to: folder.appendingPathComponent("data"), train: 150, test: 50)
        let run = try execute("ema-teacher", ["--scale", "quick", "--data", folder.appendingPathComponent("data").path,
                                              "--output", folder.appendingPathComponent("out").path, "--cache", folder.appendingPathComponent("cache").path])
        #expect(!run.crashed && run.status != 0, "\(run.output.suffix(1500))")
        #expect(run.output.contains("k-NN200 needs at least 200 training images") && run.output.contains("--data"), "\(run.output.suffix(1500))")
        #expect(files(in: folder.appendingPathComponent("out")).isEmpty)
    }

    /// kill -9 at the two writes a run makes, by fault injection (`VITDISTILL_TEST_KILL_BEFORE_RENAME`:
    /// the process dies with the file's temporary written, before its rename): first at its first
    /// checkpoint, then, resumed, between the renames of its result set (the TSV in place, the
    /// summary not). The next resume finishes the killed set's renames, continues from the
    /// checkpoints, and ends with the uninterrupted run's summary, nothing of the killed writers left.
    @Test func aRunKilledDuringItsWritesResumesToTheUninterruptedResult() throws {
        let quick = QuickRuns(prefix: "killed-writes", seed: 3), folder = quick.folder
        let (arguments, summary) = (quick.arguments, quick.summary)
        func everything(_ run: String) -> [String] {
            ((try? FileManager.default.subpathsOfDirectory(atPath: folder.appendingPathComponent(run).path)) ?? []).sorted()
        }
        let reference = try execute("collapse", arguments("uninterrupted"))
        #expect(reference.status == 0, "\(reference.output.suffix(2000))")

        let kill = "VITDISTILL_TEST_KILL_BEFORE_RENAME"
        let first = try execute("collapse", arguments("killed"), environment: [kill: ".safetensors"])
        #expect(first.crashed && first.status == SIGKILL, "\(first.output.suffix(2000))")
        #expect(files(in: folder.appendingPathComponent("killed/data")).isEmpty)
        #expect(everything("killed").contains { $0.hasSuffix(".tmp") }, "the killed write left no temporary: \(everything("killed"))")

        let second = try execute("collapse", arguments("killed") + ["--resume"], environment: [kill: "collapse.json"])
        #expect(second.crashed && second.status == SIGKILL, "\(second.output.suffix(2000))")
        let data = files(in: folder.appendingPathComponent("killed/data"))
        #expect(data.contains("collapse.tsv") && !data.contains("collapse.json") && data.contains { $0.hasSuffix(".journal") },
                "killed between its renames, the set should stand half renamed with its journal: \(data)")

        let last = try execute("collapse", arguments("killed") + ["--resume"])
        #expect(last.status == 0 && last.output.contains("continuing from"), "\(last.output.suffix(2000))")
        #expect(try summary("killed").isEqual(summary("uninterrupted")), "the resumed run's summary differs")
        let leftovers = everything("killed").filter { $0.hasSuffix(".tmp") || $0.hasSuffix(".journal") || ($0.hasPrefix("cache/runs") && $0.hasSuffix(".safetensors")) }
        #expect(leftovers.isEmpty, "left behind: \(leftovers)")
        #expect(files(in: folder.appendingPathComponent("killed/data")) == ["collapse.json", "collapse.tsv"])
    }

    /// Ctrl-C inside an evaluation pass (by fault injection, `VITDISTILL_TEST_SIGINT_IN_EVALUATION`:
    /// the signal lands in the first batch of `collapse`'s first k-NN, after its first epoch's
    /// steps) ends the process within that batch, naming the phase and how to continue, with no
    /// data file and the epoch's steps in a checkpoint; `--resume` evaluates again from there and
    /// ends with the uninterrupted run's summary.
    @Test func aStopDuringAnEvaluationPassEndsTheRunThereAndResumes() throws {
        let quick = QuickRuns(prefix: "stop-eval", seed: 4), folder = quick.folder
        let (arguments, summary) = (quick.arguments, quick.summary)
        let reference = try execute("collapse", arguments("uninterrupted"))
        #expect(reference.status == 0, "\(reference.output.suffix(2000))")
        let stopped = try execute("collapse", arguments("stopped"), environment: ["VITDISTILL_TEST_SIGINT_IN_EVALUATION": "1"])
        #expect(!stopped.crashed && stopped.status == 128 + SIGINT, "\(stopped.output.suffix(1500))")
        #expect(stopped.output.contains("SIGINT: stopped during an evaluation pass (image 0 of") && stopped.output.contains("--resume"),
                "\(stopped.output.suffix(1500))")
        #expect(files(in: folder.appendingPathComponent("stopped/data")).isEmpty)
        let runs = folder.appendingPathComponent("stopped/cache/runs")
        #expect(((try? FileManager.default.subpathsOfDirectory(atPath: runs.path)) ?? []).contains { $0.hasSuffix(".safetensors") })
        let resumed = try execute("collapse", arguments("stopped") + ["--resume"])
        #expect(resumed.status == 0 && resumed.output.contains("continuing from"), "\(resumed.output.suffix(2000))")
        #expect(try summary("stopped").isEqual(summary("uninterrupted")), "the resumed run's summary differs")
    }
}

/// Quick `collapse` runs of one seed side by side in a temporary folder, each with its own data
/// and cache folders, and their summaries without what differs between any two runs.
struct QuickRuns {
    let folder: URL
    let seed: Int

    init(prefix: String, seed: Int) {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        self.seed = seed
    }

    func arguments(_ run: String) -> [String] {
        ["--scale", "quick", "--seed", String(seed), "--output", folder.appendingPathComponent("\(run)/data").path,
         "--cache", folder.appendingPathComponent("\(run)/cache").path]
    }

    /// The run's summary less its provenance (the checkout may be dirty in one and not the other)
    /// and timings (seconds differ between any two runs).
    func summary(_ run: String) throws -> NSDictionary {
        var s = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("\(run)/data/collapse.json"))) as! [String: Any]
        (s["provenance"], s["timings"]) = (nil, nil)
        return NSDictionary(dictionary: s)
    }
}
