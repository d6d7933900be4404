// Looking at a model without training it: the one batched pass over an image set that every
// evaluation (accuracy, heads, features, attention, token cosines) runs, and top-1.
import Data
import Tensor

/// The images of `set`, in order, in batches of `batchSize`: `body` gets each
/// batch's indices into `set`, its pixels in [0, 1], and its inputs (normalized as training
/// normalizes them). Timed as evaluation and without a graph; the caller puts its models in
/// evaluation mode.
public func forEachBatch(of set: ImageSet, data: FashionMNIST, batchSize: Int = 500,
                         _ body: (_ indices: [Int], _ pixels: Tensor, _ inputs: Tensor) throws -> Void) rethrows {
    let n = set.count
    try TimeBreakdown.measure(.evaluation) {
        try withNoGrad {
            for start in stride(from: 0, to: n, by: batchSize) {
                let indices = Array(start..<min(start + batchSize, n))
                let pixels = set.images(indices)
                try body(indices, pixels, data.normalize(pixels))
            }
        }
    }
}

/// Top-1 accuracy in percent: the share of `predicted` equal to `labels`, position by position.
public func topOneAccuracy(_ predicted: [Int], _ labels: [Int]) -> Double {
    precondition(predicted.count == labels.count, "topOneAccuracy: \(predicted.count) predictions for \(labels.count) labels")
    return 100 * Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(max(labels.count, 1))
}
