// The evaluations of a representation without fine-tuning: DINO's weighted k-NN classifier
// (the official eval_knn.py) and a linear probe on frozen features.
import Data
import Foundation
import NN
import Tensor

/// The backbone's final-norm [CLS] features of every image of `set`, L2-normalized: (N, D).
/// Evaluation mode, no graph.
public func normalizedFeatures(_ backbone: any Backbone, of set: ImageSet, data: FashionMNIST,
                               batchSize: Int = 1000) -> Tensor {
    let wasTraining = backbone.isTraining
    backbone.setTraining(false)
    defer { backbone.setTraining(wasTraining) }
    var chunks: [Tensor] = []
    forEachBatch(of: set, data: data, batchSize: batchSize, sizedFor: backbone) { _, _, x in chunks.append(backbone.features(x)) }
    return TimeBreakdown.measure(.evaluation) { l2Normalize(concat(chunks, axis: 0)) }
}

/// The backbone's weighted k-NN accuracy on the 10 000 test images, all 60 000 training images
/// as the bank (the paper's protocol), percent per k.
public func knnAccuracy(_ backbone: any Backbone, data: FashionMNIST, ks: [Int] = [20, 200]) throws -> [Int: Double] {
    try KNNSchedule(ks: ks).check(training: data.train.count)
    return weightedKNN(train: normalizedFeatures(backbone, of: data.train, data: data), trainLabels: data.train.labels,
                test: normalizedFeatures(backbone, of: data.test, data: data), testLabels: data.test.labels, ks: ks)
}

/// Raw pixels in [0, 1] as unit vectors (N, H·W): the baseline every representation must beat.
public func normalizedPixels(of set: ImageSet) -> Tensor {
    l2Normalize(set.images(Array(0..<set.count)).reshaped(set.count, set.height * set.width))
}

/// DINO's weighted k-NN (eval_knn.py `knn_classifier`): for each test vector, the k training
/// vectors of highest cosine similarity s_i (features are unit vectors, so a dot product) vote
/// for their labels with weight exp(s_i/T); the class with the largest sum wins. The official
/// T = 0.07; k = 20 is the number DINO reports, k = 200 the one some reimplementations report.
/// Returns top-1 accuracy in percent for each k.
public func weightedKNN(train: Tensor, trainLabels: [Int], test: Tensor, testLabels: [Int],
                        ks: [Int] = [20, 200], temperature: Float = 0.07, classes: Int = 10) -> [Int: Double] {
    precondition(train.rank == 2 && test.rank == 2 && train.shape[1] == test.shape[1], "weightedKNN: features (N, D) of one width")
    precondition(trainLabels.count == train.shape[0] && testLabels.count == test.shape[0], "weightedKNN: one label per vector")
    let kMax = ks.max()!
    precondition(ks.allSatisfy { $0 > 0 } && kMax <= train.shape[0], "weightedKNN: 0 < k ≤ the bank's size")
    return TimeBreakdown.measure(.evaluation) {
        knnAccuracies(train: train, trainLabels: trainLabels, test: test, testLabels: testLabels, ks: ks, temperature: temperature, classes: classes)
    }
}

private func knnAccuracies(train: Tensor, trainLabels: [Int], test: Tensor, testLabels: [Int],
                           ks: [Int], temperature: Float, classes: Int) -> [Int: Double] {
    let kMax = ks.max()!
    let (n, nTest) = (train.shape[0], test.shape[0])
    var correct = [Int: Int](uniqueKeysWithValues: ks.map { ($0, 0) })
    let order = ks.enumerated().sorted { $0.element < $1.element }  // the ks, smallest first, with their positions
    let chunk = 500  // test rows per similarity block: 500 × 60 000 floats = 120 MB
    for start in stride(from: 0, to: nTest, by: chunk) {
        Interruption.stopIfRequested(during: "a k-NN evaluation (test image \(start) of \(nTest))")
        let rows = min(chunk, nTest - start)
        let similarities = withNoGrad { matmul(test.slice(axis: 0, start..<start + rows), train, transposeB: true) }  // (rows, N)
        let s = UnsafePointer(similarities.data)
        // Per row: the kMax largest similarities, kept in a min-heap, then sorted best first.
        var hits = [[Int]](repeating: [], count: rows)  // hits[row][ki]: 1 if correct for ks[ki]
        hits.withUnsafeMutableBufferPointer { hitRows in
            let out = hitRows.baseAddress!
            Parallel.forEachChunk(rows, grain: 16) { range in
                var heapValues = [Float](repeating: 0, count: kMax), heapIndices = [Int](repeating: 0, count: kMax)
                for r in range {
                    let row = s + r * n
                    let top = topK(row, count: n, k: kMax, values: &heapValues, indices: &heapIndices)
                    var votes = [Float](repeating: 0, count: classes)
                    var result = [Int](repeating: 0, count: ks.count)
                    var next = 0
                    for (rank, (value, index)) in top.enumerated() {
                        votes[trainLabels[index]] += Foundation.exp(value / temperature)
                        while next < order.count && order[next].element == rank + 1 {
                            let predicted = votes.indices.max { votes[$0] < votes[$1] }!
                            result[order[next].offset] = predicted == testLabels[start + r] ? 1 : 0
                            next += 1
                        }
                    }
                    out[r] = result
                }
            }
        }
        for row in hits { for (ki, k) in ks.enumerated() { correct[k]! += row[ki] } }
    }
    return correct.mapValues { 100 * Double($0) / Double(nTest) }
}

/// The k largest of `count` values with their indices, largest first. A min-heap of size k: most
/// values lose one comparison against its root.
func topK(_ x: UnsafePointer<Float>, count: Int, k: Int, values: inout [Float], indices: inout [Int]) -> [(Float, Int)] {
    var size = 0
    func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < size && values[l] < values[m] { m = l }
            if r < size && values[r] < values[m] { m = r }
            if m == i { return }
            values.swapAt(i, m); indices.swapAt(i, m)
            i = m
        }
    }
    for j in 0..<count {
        let v = x[j]
        if size < k {
            // sift up
            var i = size
            values[i] = v; indices[i] = j
            size += 1
            while i > 0 && values[(i - 1) / 2] > values[i] {
                values.swapAt(i, (i - 1) / 2); indices.swapAt(i, (i - 1) / 2)
                i = (i - 1) / 2
            }
        } else if v > values[0] {
            values[0] = v; indices[0] = j
            siftDown(0)
        }
    }
    return zip(values.prefix(size), indices.prefix(size)).sorted { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
}
