// Misuse stops the program with a message naming the op and the shapes, not a crash somewhere
// downstream. Each case runs in a child process (Swift Testing exit tests).
import Foundation
import Testing
import Tensor

@Suite("errors") struct ErrorTests {
    /// Expects the child's stderr to contain every phrase. (The exit-test bodies below are written
    /// inline: they run in a child process, so they may not capture anything.)
    func expectMessage(_ result: ExitTest.Result?, _ phrases: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let stderr = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        for phrase in phrases {
            #expect(stderr.contains(phrase), "stderr lacks '\(phrase)': \(stderr)", sourceLocation: sourceLocation)
        }
    }

    @Test func matmulInnerSizes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = matmul(Tensor(zeros: [2, 3]), Tensor(zeros: [4, 5]))
        }
        expectMessage(result, ["matmul", "[2, 3]", "[4, 5]", "inner sizes 3 and 4"])
    }

    @Test func broadcasting() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]) + Tensor(zeros: [4])
        }
        expectMessage(result, ["add", "[2, 3]", "[4]", "cannot be broadcast"])
    }

    @Test func patchSizeMustDivideTheImage() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = patchify(Tensor(zeros: [1, 1, 28, 28]), patch: 5)
        }
        expectMessage(result, ["patchify", "patch size 5 does not divide the image size 28×28"])
    }

    @Test func linearWeightShape() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = linear(Tensor(zeros: [8, 7]), weight: Tensor(zeros: [3, 8]), bias: nil)
        }
        expectMessage(result, ["linear", "[8, 7]", "[3, 8]"])
    }

    @Test func labelsOutOfRange() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = crossEntropy(Tensor(zeros: [1, 10]), labels: [10])
        }
        expectMessage(result, ["crossEntropy", "label 10 is outside 0..<10"])
    }

    @Test func backwardNeedsAScalar() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            Tensor(zeros: [3], requiresGrad: true).backward()
        }
        expectMessage(result, ["backward", "one-element loss", "[3]"])
    }

    @Test func reshapeCount() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor(zeros: [2, 3]).reshaped(4, -1)
        }
        expectMessage(result, ["reshape", "[2, 3]", "[4, -1]"])
    }
}
