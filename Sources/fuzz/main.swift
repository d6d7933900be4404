// fuzz — seeded mutation testing of the readers of untrusted files: safetensors (models,
// checkpoints) and IDX (Fashion-MNIST). Each case mutates a corpus file and runs the reader,
// which must end in a value or a thrown error. A driver runs the cases in a worker process and
// counts, per outcome, what each case ended in; a worker that traps is a crash, a case that runs
// 10 s is a hang, and a case whose peak memory grows past 64 MB + 64 × its file is an
// over-allocation. The worker restarts after the case that killed it, so one bug does not hide
// the rest.
//
//   fuzz --cases 100000            both targets, 100 000 cases each (`make fuzz`)
//   fuzz --target idx --case 1234  one case, in this process (to debug it)
import Foundation
import Tensor

struct Options {
    var cases = 2000, seed: UInt64 = 1, targets = Target.allCases
    var worker = false, from = 0, single: Int? = nil
}

func parseOptions() -> Options {
    var o = Options()
    var args = CommandLine.arguments.dropFirst()[...]
    func value(_ flag: String) -> String {
        guard let v = args.popFirst() else { fail("\(flag) needs a value") }
        return v
    }
    while let flag = args.popFirst() {
        switch flag {
        case "--cases": guard let n = Int(value(flag)), n >= 0 else { fail("--cases takes a count") }; o.cases = n
        case "--seed": guard let s = UInt64(value(flag)) else { fail("--seed takes 0 to 2^64 − 1") }; o.seed = s
        case "--target":
            let name = value(flag)
            guard let t = Target(rawValue: name) else { fail("--target takes safetensors or idx, got '\(name)'") }
            o.targets = [t]
        case "--worker": o.worker = true
        case "--from": guard let n = Int(value(flag)), n >= 0 else { fail("--from takes a case index") }; o.from = n
        case "--case": guard let n = Int(value(flag)), n >= 0 else { fail("--case takes a case index") }; o.single = n
        case "--help", "-h":
            print("usage: fuzz [--cases N] [--seed S] [--target safetensors|idx] [--case I]"); exit(0)
        default: fail("unknown argument '\(flag)'; see fuzz --help")
        }
    }
    return o
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fuzz: \(message)\n".utf8))
    exit(2)
}

/// The bytes of case `index`: the corpus files first, as they are, then mutations of them.
func input(_ target: Target, _ index: Int, seed: UInt64) -> (bytes: [UInt8], corpusIndex: Int) {
    let corpus = target.corpus
    if index < corpus.count { return (corpus[index], index) }
    var mutator = Mutator(rng: RNG(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15)))
    let base = mutator.below(corpus.count)
    return (mutator.mutate(corpus[base]), base)
}

/// Peak resident memory since the last reset, and the reset (Linux's clear_refs "5").
enum PeakMemory {
    static func reset() { _ = try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8) }
    static func kilobytes(_ field: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}

/// Runs cases `from..<cases` of one target here, one line per case: "start i", then "done i <outcome>".
func work(_ target: Target, _ o: Options, from: Int, to end: Int, report: (String) -> Void) throws {
    let folder = URL(fileURLWithPath: FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
        .appendingPathComponent("vitdistill-fuzz-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try Target.prepare(folder)
    for i in from..<end {
        let (bytes, corpusIndex) = input(target, i, seed: o.seed)
        report("start \(i)")
        let before = PeakMemory.kilobytes("VmRSS:")
        PeakMemory.reset()
        var outcome = target.run(bytes, corpusIndex: corpusIndex, in: folder)
        let grown = 1024 * (PeakMemory.kilobytes("VmHWM:") - before)
        if grown > (64 << 20) + 64 * bytes.count { outcome = "over-allocation: \(grown >> 20) MB for \(bytes.count) bytes" }
        report("done \(i) \(outcome)")
    }
}

struct Tally {
    var outcomes: [String: Int] = [:]
    var failures: [(index: Int, what: String)] = []
    var crashes = 0, hangs = 0, overAllocations = 0
}

/// Runs every case of `target` in worker processes, restarting after a crash or a hang.
func drive(_ target: Target, _ o: Options) throws -> Tally {
    var tally = Tally()
    var next = 0
    while next < o.cases {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = ["--worker", "--target", target.rawValue, "--seed", "\(o.seed)", "--cases", "\(o.cases)", "--from", "\(next)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let fd = pipe.fileHandleForReading.fileDescriptor
        var buffer: [UInt8] = [], running: Int? = nil, hung = false
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        reading: while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 10_000) > 0 else { hung = true; break }  // no line for 10 s
            let n = read(fd, &chunk, chunk.count)
            if n <= 0 { break }
            buffer += chunk[0..<n]
            while let newline = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                let parts = line.split(separator: " ", maxSplits: 2).map(String.init)
                guard parts.count >= 2, let i = Int(parts[1]) else { continue }
                if parts[0] == "start" { running = i; continue }
                running = nil
                next = i + 1
                let outcome = parts.count > 2 ? parts[2] : "?"
                if outcome.hasPrefix("over-allocation") {
                    tally.overAllocations += 1
                    tally.failures.append((i, outcome))
                    tally.outcomes["over-allocation", default: 0] += 1
                } else {
                    tally.outcomes[outcome, default: 0] += 1
                }
                if next % 10_000 == 0 { FileHandle.standardError.write(Data("fuzz: \(target.rawValue) \(next)/\(o.cases)\n".utf8)) }
            }
        }
        if hung { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        if let i = running {
            if hung { tally.hangs += 1; tally.outcomes["hang", default: 0] += 1 } else { tally.crashes += 1; tally.outcomes["crash", default: 0] += 1 }
            tally.failures.append((i, hung ? "hang" : "crash (\(process.terminationReason == .uncaughtSignal ? "signal" : "exit") \(process.terminationStatus))"))
            next = i + 1
        } else if next < o.cases && process.terminationStatus != 0 {
            fail("the \(target.rawValue) worker exited with \(process.terminationStatus) between cases")
        }
    }
    return tally
}

let options = parseOptions()
if options.worker || options.single != nil {
    for target in options.targets {
        let (from, end) = options.single.map { ($0, $0 + 1) } ?? (options.from, options.cases)
        try work(target, options, from: from, to: end) { line in
            print(line)
            fflush(nil)
        }
    }
    exit(0)
}
var failed = false
let start = Date()
for target in options.targets {
    let t0 = Date()
    let tally = try drive(target, options)
    print("\(target.rawValue): \(options.cases) cases (seed \(options.seed)) in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
    for (outcome, count) in tally.outcomes.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
        print(String(format: "%8d  %@", count, outcome))
    }
    print("\(target.rawValue): \(tally.crashes) crashes, \(tally.hangs) hangs, \(tally.overAllocations) over-allocations")
    for f in tally.failures.prefix(10) {
        print("  case \(f.index): \(f.what) — rerun with: fuzz --target \(target.rawValue) --seed \(options.seed) --case \(f.index)")
    }
    failed = failed || !tally.failures.isEmpty
}
print(String(format: "fuzz: %.1f s in all", Date().timeIntervalSince(start)))
exit(failed ? 1 : 0)
