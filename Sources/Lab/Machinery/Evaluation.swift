// Looking at a model without training it: the one batched pass over an image set that every
// evaluation (accuracy, heads, features, attention, token cosines) runs, and top-1.
import Data
import Foundation
import NN
import Tensor

/// What an evaluation pass may hold in activations at once: 1 GiB. The default runs' passes
/// stay below it (a patch-4 DINO ViT's 1 000 images, 0.3 GB); patch 1's would take 18 GB.
public let evaluationBudget = 1 << 30

/// The images an evaluation pass of `model` runs at once: `requested`, or fewer where a ViT's
/// activations (which grow with the square of its tokens) would pass `evaluationBudget`.
public func evaluationBatch(_ requested: Int, for model: any Module) -> Int {
    guard let vit = model as? VisionTransformer else { return requested }
    return max(1, min(requested, evaluationBudget / vit.config.forwardBytesPerImage))
}

/// The images of `set`, in order, in batches of `batchSize` (fewer where `model`'s activations
/// need it: `evaluationBatch`): `body` gets each batch's indices into `set`, its pixels in
/// [0, 1], and its inputs (normalized as training normalizes them). Timed as evaluation and
/// without a graph; the caller puts its models in evaluation mode. A stop signal ends the
/// process between two batches.
public func forEachBatch(of set: ImageSet, data: FashionMNIST, batchSize requested: Int = 500, sizedFor model: any Module,
                         _ body: (_ indices: [Int], _ pixels: Tensor, _ inputs: Tensor) throws -> Void) rethrows {
    let n = set.count, batchSize = evaluationBatch(requested, for: model)
    try TimeBreakdown.measure(.evaluation) {
        try withNoGrad {
            for start in stride(from: 0, to: n, by: batchSize) {
                // Fault injection for the stop test: a Ctrl-C that lands in the first batch.
                if start == 0, getenv("VITDISTILL_TEST_SIGINT_IN_EVALUATION") != nil { raise(SIGINT) }
                Interruption.stopIfRequested(during: "an evaluation pass (image \(start) of \(n))")
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
