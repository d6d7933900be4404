// The ops whose conventions matter, against PyTorch's own answers (Fixtures/make_fixtures.py
// wrote them in float64): bicubic borders, label smoothing, pooling padding rules, and the
// AdamW and SGD update rules over five steps.
import Foundation
import Testing
import Tensor

struct TorchCase {
    let inputs: [Tensor], output: Tensor, projection: Tensor, grads: [[Double]], raw: [String: Any]

    nonisolated(unsafe) static let all: [String: Any] = {  // read-only after first use
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/torch_reference.json")
        let json = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        precondition(json["version"] as? Int == 1, "torch_reference.json: unexpected version")
        return json["cases"] as! [String: Any]
    }()

    init(_ name: String) {
        raw = TorchCase.all[name] as! [String: Any]
        func tensor(_ d: [String: Any]) -> Tensor {
            Tensor((d["data"] as! [Double]).map(Float.init), shape: d["shape"] as! [Int])
        }
        inputs = (raw["inputs"] as! [[String: Any]]).map(tensor)
        output = tensor(raw["output"] as! [String: Any])
        projection = Tensor((raw["projection"] as! [Double]).map(Float.init), shape: output.shape)
        grads = raw["grads"] as! [[Double]]
    }

    /// Runs `op` on the fixture's inputs; returns where output or input gradients differ from
    /// PyTorch's (empty when they agree). Use as `#expect(case.check(…) == [])`.
    func check(_ name: String, rtol: Double = 1e-5, atol: Double = 1e-5, _ op: ([Tensor]) -> Tensor) -> [String] {
        for x in inputs { x.requiresGrad = true; x.grad = nil }
        let y = op(inputs)
        var problems = mismatches(y.scalars, output.scalars.map(Double.init), rtol: rtol, atol: atol, "\(name) output")
        y.backward(gradient: projection)
        for (k, x) in inputs.enumerated() {
            problems += mismatches(x.grad?.scalars ?? [], grads[k], rtol: rtol * 10, atol: atol * 10, "\(name) grad \(k)")
        }
        return problems
    }
}

@Suite("PyTorch reference") struct TorchReferenceTests {
    @Test func bicubicMatchesInterpolate() {
        #expect(TorchCase("bicubic_5_to_8").check("bicubic up") { bicubicResize($0[0], height: 8, width: 8) } == [])
        #expect(TorchCase("bicubic_5_to_3x7").check("bicubic mixed") { bicubicResize($0[0], height: 3, width: 7) } == [])
    }

    @Test func crossEntropyMatchesLabelSmoothing() {
        let c = TorchCase("cross_entropy_ls0.1")
        let labels = c.raw["labels"] as! [Int]
        #expect(c.check("cross entropy") { crossEntropy($0[0], labels: labels, labelSmoothing: 0.1) } == [])
    }

    @Test func klMatchesBatchmean() {
        #expect(TorchCase("kl_t3").check("kl") { klDivergence(student: $0[0], teacher: $0[1], temperature: 3) } == [])
    }

    @Test func convolutionAndPooling() {
        #expect(TorchCase("conv2d_s2_p1").check("conv2d", rtol: 1e-4, atol: 1e-4) {
            conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        } == [])
        #expect(TorchCase("max_pool_k3_s2_p1").check("max pool") { maxPool2d($0[0], kernel: 3, stride: 2, padding: 1) } == [])
        #expect(TorchCase("avg_pool_k3_s2_p1").check("avg pool") { avgPool2d($0[0], kernel: 3, stride: 2, padding: 1) } == [])
    }

    @Test func normalizeGeluLayerNorm() {
        #expect(TorchCase("normalize_dim1").check("normalize") { l2Normalize($0[0], axis: 1) } == [])
        #expect(TorchCase("gelu").check("gelu", atol: 1e-6) { gelu($0[0]) } == [])
        #expect(TorchCase("layer_norm").check("layer norm", rtol: 1e-4, atol: 1e-4) { layerNorm($0[0], weight: $0[1], bias: $0[2]) } == [])
    }

    /// f = Σ (p ⊙ c)² + Σ q³; group 0 (p) decays, group 1 (q) does not.
    func trajectory(_ name: String, _ makeOptimizer: ([ParameterGroup]) -> any Optimizer) {
        let raw = TorchCase.all[name] as! [String: Any]
        let p = Tensor((raw["p0"] as! [Double]).map(Float.init), shape: [3], requiresGrad: true)
        let q = Tensor((raw["q0"] as! [Double]).map(Float.init), shape: [2], requiresGrad: true)
        let c = Tensor((raw["c"] as! [Double]).map(Float.init), shape: [3])
        let optimizer = makeOptimizer([ParameterGroup([p], weightDecay: true), ParameterGroup([q], weightDecay: false)])
        for (i, expected) in (raw["steps"] as! [[Double]]).enumerated() {
            optimizer.zeroGrad()
            (square(p * c).sum() + (q * q * q).sum()).backward()
            optimizer.step()
            expectClose(p.scalars + q.scalars, expected, rtol: 1e-5, atol: 1e-6, "\(name) step \(i + 1)")
        }
    }

    @Test func adamWTrajectory() {
        trajectory("adamw_5_steps") { AdamW($0, learningRate: 0.1, weightDecay: 0.05) }
    }

    @Test func sgdTrajectory() {
        trajectory("sgd_5_steps") { SGD($0, learningRate: 0.05, momentum: 0.9, weightDecay: 0.01) }
    }
}
