// DINO's head and loss against the equations written out naively in Double: the pairs the loss
// averages over (same-view pairs skipped), its gradient against finite differences, the center's
// EMA from teacher outputs only, the entropy/KL split, and the official parameter names.
import Foundation
import Testing
import NN
import Tensor

@Suite("DINO head and loss") struct DINOTests {
    /// The loss by its definition: for each global crop g and each *other* crop j, the
    /// cross-entropy between softmax((t_g − c)/τt) and softmax(s_j/τs), averaged over pairs and images.
    static func naiveLoss(student: [[Double]], teacher: [[Double]], center: [Double], b: Int, globals: Int,
                          tauS: Double, tauT: Double) -> (loss: Double, entropy: Double) {
        func softmax(_ z: [Double]) -> [Double] { let m = z.max()!; let e = z.map { exp($0 - m) }; let s = e.reduce(0, +); return e.map { $0 / s } }
        let crops = student.count / b
        var total = 0.0, pairs = 0, entropy = 0.0
        for g in 0..<globals {
            for i in 0..<b {
                let pt = softmax(zip(teacher[g * b + i], center).map { ($0 - $1) / tauT })
                entropy -= pt.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) }
            }
            for j in 0..<crops where j != g {
                for i in 0..<b {
                    let pt = softmax(zip(teacher[g * b + i], center).map { ($0 - $1) / tauT })
                    let ps = softmax(student[j * b + i].map { $0 / tauS })
                    total -= zip(pt, ps).reduce(0) { $0 + $1.0 * log($1.1) }
                }
                pairs += 1
            }
        }
        return (total / Double(pairs * b), entropy / Double(globals * b))
    }

    static func rows(_ t: Tensor) -> [[Double]] {
        let k = t.shape[1]
        return (0..<t.shape[0]).map { r in (0..<k).map { Double(t.data[r * k + $0]) } }
    }

    @Test func lossMatchesItsDefinitionAndItsGradientFiniteDifferences() throws {
        var rng = RNG(seed: 11)
        let (b, k, globals, locals) = (3, 7, 2, 3)
        let loss = try DINOLoss(outDim: k, globalCrops: globals)
        loss.center.assign(Tensor.randn([1, k], rng: &rng))  // a non-zero center, as after some steps
        let student = Tensor.randn([(globals + locals) * b, k], rng: &rng, requiresGrad: true)
        let teacher = Tensor.randn([globals * b, k], rng: &rng)
        let (value, stats) = loss(student: student, teacher: teacher, teacherTemperature: 0.3)
        let center = loss.center.scalars.map(Double.init)
        let naive = Self.naiveLoss(student: Self.rows(student), teacher: Self.rows(teacher), center: center, b: b, globals: globals,
                                   tauS: 0.1, tauT: 0.3)
        #expect(abs(Double(value.item) - naive.loss) < 1e-4 * max(1, naive.loss))
        #expect(abs(Double(stats.teacherEntropy) - naive.entropy) < 1e-4)
        #expect(abs(stats.kl - (stats.crossEntropy - stats.teacherEntropy)) < 1e-6 && stats.kl > 0)
        #expect(loss.pairs(crops: globals + locals) == 8)  // 2·5 − 2

        value.backward()
        var s = Self.rows(student)
        let h = 1e-5
        for (r, c) in [(0, 0), (2, 6), (b, 3), (2 * b + 1, 2), ((globals + locals) * b - 1, 5)] {
            s[r][c] += h
            let up = Self.naiveLoss(student: s, teacher: Self.rows(teacher), center: center, b: b, globals: globals, tauS: 0.1, tauT: 0.3).loss
            s[r][c] -= 2 * h
            let down = Self.naiveLoss(student: s, teacher: Self.rows(teacher), center: center, b: b, globals: globals, tauS: 0.1, tauT: 0.3).loss
            s[r][c] += h
            let numeric = (up - down) / (2 * h)
            #expect(abs(Double(student.grad!.data[r * k + c]) - numeric) < 1e-3 * max(1, abs(numeric)), "d loss / d s[\(r)][\(c)]")
        }
        #expect(teacher.grad == nil)  // the teacher gets no gradient
    }

    /// With only the two global crops, the loss is ½(H(Pt₀, Ps₁) + H(Pt₁, Ps₀)): a view is never
    /// compared with itself. Identical outputs for both views give h(Pt) + KL = H, KL ≈ 0 only
    /// when the student matches the teacher's distribution.
    @Test func sameViewPairsAreSkipped() throws {
        var rng = RNG(seed: 12)
        let loss = try DINOLoss(outDim: 5, centering: false)
        let t = Tensor.randn([4, 5], rng: &rng)                 // crops 0 and 1, 2 images each
        // Student crop 0 = teacher crop 1's distribution, crop 1 = teacher crop 0's: both pairs match.
        let swapped = concat([t.slice(axis: 0, 2..<4), t.slice(axis: 0, 0..<2)], axis: 0) * Float(0.1 / 0.04)
        let (_, matched) = loss(student: swapped, teacher: t, teacherTemperature: 0.04)
        #expect(abs(matched.kl) < 1e-4)
        // Unswapped, the student matches each teacher crop on its own view only: those pairs are
        // skipped, so the KL is not zero.
        let (_, same) = loss(student: t * Float(0.1 / 0.04), teacher: t, teacherTemperature: 0.04)
        #expect(same.kl > 0.05)
        #expect(throws: DINOLossError.self) { try DINOLoss(outDim: 5, globalCrops: 1).validate(crops: 1) }
    }

    @Test func centerIsAnEMAOfTheTeacherBatchMean() throws {
        let loss = try DINOLoss(outDim: 3, centerMomentum: 0.9)
        let teacher = Tensor([1, 2, 3, 3, 4, 5], shape: [2, 3])  // batch mean (2, 3, 4)
        loss.updateCenter(teacher: teacher)
        #expect(zip(loss.center.scalars, [0.2, 0.3, 0.4]).allSatisfy { abs($0 - $1) < 1e-6 })
        loss.updateCenter(teacher: teacher)
        #expect(zip(loss.center.scalars, [0.38, 0.57, 0.76]).allSatisfy { abs($0 - $1) < 1e-6 })
        // Computing a loss does not move it; only updateCenter, from teacher outputs, does.
        var rng = RNG(seed: 13)
        _ = loss(student: Tensor.randn([6, 3], rng: &rng), teacher: teacher, teacherTemperature: 0.04)
        #expect(zip(loss.center.scalars, [0.38, 0.57, 0.76]).allSatisfy { abs($0 - $1) < 1e-6 })
        let off = try DINOLoss(outDim: 3, centering: false)
        off.updateCenter(teacher: teacher)
        #expect(off.center.scalars == [0, 0, 0])
    }

    @Test func impossibleSettingsAreRefused() {
        #expect(throws: DINOLossError.self) { try DINOLoss(outDim: 8, centerMomentum: 1.5) }
        #expect(throws: DINOLossError.self) { try DINOLoss(outDim: 8, centerMomentum: -0.1) }
        #expect(throws: DINOLossError.self) { try DINOLoss(outDim: 8, studentTemperature: 0) }
        do { _ = try DINOLoss(outDim: 8, centerMomentum: 2) } catch { #expect("\(error)".contains("[0, 1]")) }
    }

    /// main_dino.py's DINOHead state dict, and outputs that are cosines with unit prototypes.
    @Test func headHasTheOfficialNamesAndBoundedOutputs() throws {
        var rng = RNG(seed: 14)
        let head = try DINOHead(inDim: 16, DINOHeadConfig(outDim: 50, hiddenDim: 32, bottleneckDim: 8), rng: &rng)
        #expect(Set(head.stateDict().map(\.name)) == ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight", "mlp.4.bias",
                                                     "last_layer.weight_g", "last_layer.weight_v"])
        #expect(!head.namedParameters().map(\.name).contains("last_layer.weight_g"))  // the norm is fixed at 1
        let out = head(Tensor.randn([5, 16], rng: &rng))
        #expect(out.shape == [5, 50])
        #expect(out.scalars.allSatisfy { abs($0) <= 1 + 1e-5 })
        #expect(out.scalars.contains { abs($0) > 0.3 })
    }
}
