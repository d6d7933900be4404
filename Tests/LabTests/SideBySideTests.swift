// Runs trained side by side (SideBySide) give the bits they give alone, in job order; a failing
// job stops the others from starting and its error comes back. And the k-NN schedule: the
// subset bank in between, the full bank at the end, and the subset's k-NN equal to the full
// features' first rows.
import Foundation
import Testing
import Data
import Lab
import NN
import Tensor

@Suite("side by side") struct SideBySideTests {
    @Test(.enabled(if: dataset != nil))
    func twoRunsAtOnceEndWhereEachEndsAlone() throws {
        let kinds: [TeacherUpdate] = [.momentum, .studentCopy, .previousEpoch]
        func train(_ i: Int) throws -> (weights: [[Float]], history: [DINOEpochRecord]) {
            let trainer = try DINOTrainer(recipe: tinyRecipe(kinds[i]), data: dataset!, seed: 11)
            let history = try trainer.train(label: "side by side \(i)", evaluation: KNNSchedule(ks: [20], subsetBank: 500))
            return (values(trainer.teacher.parameters), history)
        }
        let alone = try SideBySide.run(kinds.count, lanes: 1, train)
        let together = try SideBySide.run(kinds.count, lanes: 2, train)
        for (a, b) in zip(alone, together) {
            #expect(a.weights == b.weights)
            #expect(a.history.map(\.knn) == b.history.map(\.knn) && a.history.map(\.knnSubset) == b.history.map(\.knnSubset))
            #expect(a.history.map(\.loss) == b.history.map(\.loss))
        }
    }

    @Test func aFailingJobStopsTheRestAndItsErrorComesBack() throws {
        let started = Counter()
        #expect(throws: TrainingError.self) {
            _ = try SideBySide.run(50, lanes: 2) { i -> Int in
                started.add()
                if i == 1 { throw TrainingError("job 1 failed") }
                Thread.sleep(forTimeInterval: 0.01)
                return i
            }
        }
        #expect(started.value < 50)
        #expect(try SideBySide.run(7, lanes: 3) { $0 * $0 } == (0..<7).map { $0 * $0 })
    }

    /// Intermediate epochs: the subset bank only; the last: both, the subset's equal to the k-NN
    /// of the full features' first rows.
    @Test(.enabled(if: dataset != nil))
    func theSubsetBankRunsBetweenAndBothRunAtTheEnd() throws {
        let trainer = try DINOTrainer(recipe: tinyRecipe(epochs: 3), data: dataset!, seed: 12)
        let history = try trainer.train(label: "schedule", evaluation: KNNSchedule(ks: [20], subsetBank: 1000))
        #expect(history.map { $0.knn.isEmpty } == [true, true, false])
        #expect(history.allSatisfy { $0.knnSubset[20] != nil })
        let (train, test) = trainer.lastFeatures!
        let subset = weightedKNN(train: train.slice(axis: 0, 0..<1000), trainLabels: Array(dataset!.train.labels.prefix(1000)),
                                 test: test, testLabels: dataset!.test.labels, ks: [20])
        #expect(history.last!.knnSubset == subset)
        let full = weightedKNN(train: train, trainLabels: dataset!.train.labels, test: test, testLabels: dataset!.test.labels, ks: [20])
        #expect(history.last!.knn == full)
        let every = try DINOTrainer(recipe: tinyRecipe(epochs: 3), data: dataset!, seed: 12)
            .train(label: "every 2", evaluation: KNNSchedule(ks: [20], every: 2))
        #expect(every.map { $0.knn.isEmpty } == [true, false, false] && every.allSatisfy { $0.knnSubset.isEmpty })
    }
}

/// A count several threads add to.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
