// Augmentations keep shapes, stay in range, do what their definitions say on cases worked by
// hand, and are reproducible from the seed.
import Foundation
import Testing
import Data
import Tensor

@Suite("augmentations") struct AugmentTests {
    static func images(_ seed: UInt64, b: Int = 6, h: Int = 28, w: Int = 28) -> Tensor {
        var rng = RNG(seed: seed)
        return Tensor.uniform([b, 1, h, w], rng: &rng)
    }

    /// Every augmentation with its arguments, as (name, function of images and generator).
    static let all: [(String, @Sendable (Tensor, inout RNG) -> Tensor)] = [
        ("randomResizedCrop", { randomResizedCrop($0, size: 12, scale: 0.05...0.4, rng: &$1) }),
        ("randomHorizontalFlip", { randomHorizontalFlip($0, rng: &$1) }),
        ("randomColorJitter", { randomColorJitter($0, brightness: 0.4, contrast: 0.4, p: 0.8, rng: &$1) }),
        ("randomGaussianBlur", { randomGaussianBlur($0, sigma: 0.1...2, p: 1, rng: &$1) }),
        ("randomSolarize", { randomSolarize($0, p: 0.5, rng: &$1) }),
    ]

    @Test func shapesRangeAndDeterminism() {
        let x = Self.images(1)
        for (name, augment) in Self.all {
            var a = RNG(seed: 5), b = RNG(seed: 5), c = RNG(seed: 6)
            let y = augment(x, &a)
            #expect(y.shape[0] == 6 && y.shape[1] == 1, "\(name)")
            #expect(y.scalars.allSatisfy { $0 >= 0 && $0 <= 1 }, "\(name) leaves [0, 1]")
            #expect(augment(x, &b).scalars == y.scalars, "\(name) is not reproducible from its seed")
            #expect(augment(x, &c).scalars != y.scalars, "\(name) ignores its seed")
            #expect(x.scalars == Self.images(1).scalars, "\(name) modified its input")
        }
        var rng = RNG(seed: 7)
        #expect(randomResizedCrop(x, size: 12, scale: 0.05...0.4, rng: &rng).shape == [6, 1, 12, 12])
    }

    @Test func fullCropAtTheSameSizeIsTheIdentity() {
        let x = Self.images(2)
        var rng = RNG(seed: 1)
        #expect(randomResizedCrop(x, size: 28, scale: 1...1, ratio: 1...1, rng: &rng).scalars == x.scalars)
    }

    @Test func cropBoxesStayInsideAndFollowTheirScale() {
        var rng = RNG(seed: 4)
        for _ in 0..<500 {
            let box = randomCropBox(height: 28, width: 28, scale: 0.4...1, ratio: 0.75...(4.0 / 3), rng: &rng)
            #expect(box.y >= 0 && box.x >= 0 && box.y + box.h <= 28 && box.x + box.w <= 28)
            let area = Float(box.h * box.w) / 784
            #expect(area > 0.3 && area <= 1.0)  // 0.4 minus rounding of the sides
        }
    }

    @Test func flipMirrorsAndSolarizeInverts() {
        let x = Tensor([0.1, 0.2, 0.9, 0.6], shape: [1, 1, 1, 4])
        var rng = RNG(seed: 0)
        #expect(randomHorizontalFlip(x, p: 1, rng: &rng).scalars == [0.6, 0.9, 0.2, 0.1])
        let solarized = randomSolarize(x, threshold: 0.5, p: 1, rng: &rng).scalars
        #expect(solarized.map { ($0 * 1000).rounded() } == [100, 200, 100, 400])
        #expect(randomSolarize(x, p: 0, rng: &rng).scalars == x.scalars)
    }

    @Test func blurKeepsAConstantImageAndSmoothsAnEdge() {
        var rng = RNG(seed: 0)
        let flat = Tensor(repeating: 0.3, shape: [1, 1, 9, 9])
        #expect(randomGaussianBlur(flat, sigma: 1...1, p: 1, rng: &rng).scalars.allSatisfy { abs($0 - 0.3) < 1e-6 })
        let edge = Tensor((0..<81).map { $0 % 9 < 4 ? 0 : 1 }, shape: [1, 1, 9, 9])
        let blurred = randomGaussianBlur(edge, sigma: 1...1, p: 1, rng: &rng)
        #expect(blurred[0, 0, 4, 3] > 0.05 && blurred[0, 0, 4, 4] < 0.95)  // the step is softened on both sides
    }

    @Test func erasingFillsOneRectangleWithNoise() {
        var rng = RNG(seed: 2)
        let x = Tensor(zeros: [4, 1, 28, 28])
        let y = randomErasing(x, p: 1, rng: &rng)
        for i in 0..<4 {
            let changed = (0..<784).filter { y.data[i * 784 + $0] != 0 }.count
            #expect(changed > 784 / 60 && changed < 784 / 2)  // area fraction in (0.02, 1/3)
        }
    }

    @Test func multiCropGivesGlobalThenLocalViews() {
        var a = RNG(seed: 9), b = RNG(seed: 9)
        let crop = MultiCrop()
        let views = crop(Self.images(3), rng: &a)
        #expect(views.count == 8)
        #expect(views.prefix(2).allSatisfy { $0.shape == [6, 1, 28, 28] })
        #expect(views.suffix(6).allSatisfy { $0.shape == [6, 1, 12, 12] })
        #expect(zip(views, crop(Self.images(3), rng: &b)).allSatisfy { $0.scalars == $1.scalars })
    }
}
