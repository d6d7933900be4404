// Naive Double-precision twins of the ops: nested loops written from the definitions, sharing no
// code with the kernels. Tests compare each op's forward with its twin, and each backward with
// central finite differences of the twin.
import Foundation
import Tensor

/// A Double tensor for reference computations.
struct R {
    var shape: [Int]
    var v: [Double]

    init(_ shape: [Int], _ v: [Double]) {
        precondition(shape.reduce(1, *) == v.count)
        (self.shape, self.v) = (shape, v)
    }
    init(_ t: Tensor) { self.init(t.shape, t.scalars.map(Double.init)) }

    var count: Int { v.count }
    var strides: [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1] }
        return s
    }
    /// Multi-index of flat position `i`.
    func index(_ i: Int) -> [Int] {
        var rem = i
        return strides.map { s in defer { rem %= s }; return rem / s }
    }
    func flat(_ idx: [Int]) -> Int { zip(idx, strides).reduce(0) { $0 + $1.0 * $1.1 } }
    subscript(_ idx: Int...) -> Double { v[flat(idx)] }
}

enum Ref {
    // MARK: elementwise
    static func broadcast(_ a: R, _ b: R, _ f: (Double, Double) -> Double) -> R {
        let rank = max(a.shape.count, b.shape.count)
        let sa = Array(repeating: 1, count: rank - a.shape.count) + a.shape
        let sb = Array(repeating: 1, count: rank - b.shape.count) + b.shape
        let out = (0..<rank).map { max(sa[$0], sb[$0]) }
        let ra = R(sa, a.v), rb = R(sb, b.v)
        var y = R(out, Array(repeating: 0, count: out.reduce(1, *)))
        for i in 0..<y.count {
            let idx = y.index(i)
            let ia = (0..<rank).map { sa[$0] == 1 ? 0 : idx[$0] }
            let ib = (0..<rank).map { sb[$0] == 1 ? 0 : idx[$0] }
            y.v[i] = f(ra.v[ra.flat(ia)], rb.v[rb.flat(ib)])
        }
        return y
    }
    static func map(_ x: R, _ f: (Double) -> Double) -> R { R(x.shape, x.v.map(f)) }
    static func gelu(_ x: R) -> R { map(x) { $0 * 0.5 * (1 + erf($0 / 2.0.squareRoot())) } }

    // MARK: reductions and layout
    static func sum(_ x: R, axes: Set<Int>, keepDims: Bool, scale: Double = 1) -> R {
        let kept = x.shape.indices.map { axes.contains($0) ? 1 : x.shape[$0] }
        var y = R(kept, Array(repeating: 0, count: kept.reduce(1, *)))
        for i in 0..<x.count {
            let idx = x.index(i)
            y.v[y.flat(idx.indices.map { axes.contains($0) ? 0 : idx[$0] })] += scale * x.v[i]
        }
        return keepDims ? y : R(x.shape.indices.filter { !axes.contains($0) }.map { x.shape[$0] }, y.v)
    }
    static func permute(_ x: R, _ axes: [Int]) -> R {
        var y = R(axes.map { x.shape[$0] }, x.v)
        for i in 0..<y.count {
            let idx = y.index(i)
            var src = [Int](repeating: 0, count: axes.count)
            for (o, a) in axes.enumerated() { src[a] = idx[o] }
            y.v[i] = x.v[x.flat(src)]
        }
        return y
    }
    static func slice(_ x: R, axis: Int, _ range: Range<Int>) -> R {
        var shape = x.shape
        shape[axis] = range.count
        var y = R(shape, Array(repeating: 0, count: shape.reduce(1, *)))
        for i in 0..<y.count {
            var idx = y.index(i)
            idx[axis] += range.lowerBound
            y.v[i] = x.v[x.flat(idx)]
        }
        return y
    }
    static func concat(_ xs: [R], axis: Int) -> R {
        var shape = xs[0].shape
        shape[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        var y = R(shape, Array(repeating: 0, count: shape.reduce(1, *)))
        for i in 0..<y.count {
            var idx = y.index(i)
            var k = 0
            while idx[axis] >= xs[k].shape[axis] { idx[axis] -= xs[k].shape[axis]; k += 1 }
            y.v[i] = xs[k].v[xs[k].flat(idx)]
        }
        return y
    }

    // MARK: products
    /// op(a)·op(b) on the last two axes; batch axes equal, or one operand 2-D.
    static func matmul(_ a: R, _ b: R, transA: Bool = false, transB: Bool = false) -> R {
        let (ar, ac) = (a.shape[a.shape.count - 2], a.shape[a.shape.count - 1])
        let (br, bc) = (b.shape[b.shape.count - 2], b.shape[b.shape.count - 1])
        let (m, k) = transA ? (ac, ar) : (ar, ac)
        let n = transB ? br : bc
        let batchShape = a.shape.count > 2 ? Array(a.shape.dropLast(2)) : Array(b.shape.dropLast(2))
        let batch = batchShape.reduce(1, *)
        var y = R(batchShape + [m, n], Array(repeating: 0, count: batch * m * n))
        for t in 0..<batch {
            let oa = a.shape.count > 2 ? t * ar * ac : 0, ob = b.shape.count > 2 ? t * br * bc : 0
            for i in 0..<m { for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    s += a.v[oa + (transA ? p * ac + i : i * ac + p)] * b.v[ob + (transB ? j * bc + p : p * bc + j)]
                }
                y.v[(t * m + i) * n + j] = s
            } }
        }
        return y
    }
    static func linear(_ x: R, _ w: R, _ b: R?) -> R {
        let (o, inF) = (w.shape[0], w.shape[1])
        let rows = x.count / inF
        var y = R(Array(x.shape.dropLast()) + [o], Array(repeating: 0, count: rows * o))
        for r in 0..<rows { for j in 0..<o {
            var s = b?.v[j] ?? 0
            for p in 0..<inF { s += x.v[r * inF + p] * w.v[j * inF + p] }
            y.v[r * o + j] = s
        } }
        return y
    }

    // MARK: row-wise ops over the last axis
    static func rows(_ x: R, _ f: ([Double]) -> [Double]) -> R {
        let n = x.shape.last!
        var y = x
        for r in 0..<x.count / n { y.v.replaceSubrange(r * n..<(r + 1) * n, with: f(Array(x.v[r * n..<(r + 1) * n]))) }
        return y
    }
    static func softmax(_ row: [Double]) -> [Double] {
        let m = row.max()!
        let e = row.map { Foundation.exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
    static func logSoftmax(_ row: [Double]) -> [Double] {
        let m = row.max()!
        let lse = m + Foundation.log(row.map { Foundation.exp($0 - m) }.reduce(0, +))
        return row.map { $0 - lse }
    }
    static func layerNorm(_ x: R, _ w: R, _ b: R, eps: Double = 1e-6) -> R {
        rows(x) { row in
            let mean = row.reduce(0, +) / Double(row.count)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(row.count)
            return row.enumerated().map { (j, v) in (v - mean) / (variance + eps).squareRoot() * w.v[j] + b.v[j] }
        }
    }
    static func crossEntropy(_ z: R, labels: [Int], smoothing: Double) -> R {
        let c = z.shape.last!
        var total = 0.0
        for r in 0..<labels.count {
            let lp = logSoftmax(Array(z.v[r * c..<(r + 1) * c]))
            for j in 0..<c { total -= ((j == labels[r] ? 1 - smoothing : 0) + smoothing / Double(c)) * lp[j] }
        }
        return R([], [total / Double(labels.count)])
    }
    static func kl(_ s: R, _ t: R, temperature: Double) -> R {
        let c = s.shape.last!, rows = s.count / c
        var total = 0.0
        for r in 0..<rows {
            let ls = logSoftmax(s.v[r * c..<(r + 1) * c].map { $0 / temperature })
            let lt = logSoftmax(t.v[r * c..<(r + 1) * c].map { $0 / temperature })
            for j in 0..<c { total += Foundation.exp(lt[j]) * (lt[j] - ls[j]) }
        }
        return R([], [total / Double(rows)])
    }
    static func l2Normalize(_ x: R, axis: Int, eps: Double = 1e-12) -> R {
        let norms = sum(map(x) { $0 * $0 }, axes: [axis], keepDims: true)
        return broadcast(x, norms) { $0 / max($1.squareRoot(), eps) }
    }

    // MARK: images
    static func conv2d(_ x: R, _ w: R, _ b: R?, stride: Int, padding: Int) -> R {
        let (bs, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let (oh, ow) = ((h + 2 * padding - kh) / stride + 1, (wd + 2 * padding - kw) / stride + 1)
        var y = R([bs, o, oh, ow], Array(repeating: 0, count: bs * o * oh * ow))
        for n in 0..<bs { for f in 0..<o { for i in 0..<oh { for j in 0..<ow {
            var s = b?.v[f] ?? 0
            for ch in 0..<c { for ki in 0..<kh { for kj in 0..<kw {
                let (ii, jj) = (i * stride - padding + ki, j * stride - padding + kj)
                if ii >= 0 && ii < h && jj >= 0 && jj < wd { s += x[n, ch, ii, jj] * w[f, ch, ki, kj] }
            } } }
            y.v[y.flat([n, f, i, j])] = s
        } } } }
        return y
    }
    /// Per-channel normalization over (B, H, W) with the batch's biased variance.
    static func batchNorm(_ x: R, _ w: R, _ b: R, eps: Double = 1e-5) -> R {
        let (bs, c, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var y = x
        for ch in 0..<c {
            var values: [Double] = []
            for n in 0..<bs { values += x.v[(n * c + ch) * plane..<(n * c + ch + 1) * plane] }
            let mean = values.reduce(0, +) / Double(values.count)
            let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
            for n in 0..<bs { for i in 0..<plane {
                let j = (n * c + ch) * plane + i
                y.v[j] = (x.v[j] - mean) / (variance + eps).squareRoot() * w.v[ch] + b.v[ch]
            } }
        }
        return y
    }
    static func pool(_ x: R, kernel: Int, stride: Int, padding: Int, max isMax: Bool) -> R {
        let (bs, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = ((h + 2 * padding - kernel) / stride + 1, (w + 2 * padding - kernel) / stride + 1)
        var y = R([bs, c, oh, ow], Array(repeating: 0, count: bs * c * oh * ow))
        for n in 0..<bs { for ch in 0..<c { for i in 0..<oh { for j in 0..<ow {
            var best = -Double.infinity, s = 0.0
            for ki in 0..<kernel { for kj in 0..<kernel {
                let (ii, jj) = (i * stride - padding + ki, j * stride - padding + kj)
                if ii >= 0 && ii < h && jj >= 0 && jj < w { best = max(best, x[n, ch, ii, jj]); s += x[n, ch, ii, jj] }
            } }
            y.v[y.flat([n, ch, i, j])] = isMax ? best : s / Double(kernel * kernel)
        } } } }
        return y
    }
    /// Keys' cubic convolution (A = −0.75) at source coordinate (o + ½)·in/out − ½, taps clamped to
    /// the border — written as the 2-D sum over 4×4 taps, not as two matrix products.
    static func bicubic(_ x: R, height oh: Int, width ow: Int) -> R {
        let (h, w) = (x.shape[x.shape.count - 2], x.shape[x.shape.count - 1])
        let planes = x.count / (h * w)
        func kernel(_ d: Double) -> Double {
            let a = -0.75, t = abs(d)
            if t <= 1 { return (a + 2) * t * t * t - (a + 3) * t * t + 1 }
            if t < 2 { return a * t * t * t - 5 * a * t * t + 8 * a * t - 4 * a }
            return 0
        }
        var y = R(Array(x.shape.dropLast(2)) + [oh, ow], Array(repeating: 0, count: planes * oh * ow))
        for p in 0..<planes { for i in 0..<oh { for j in 0..<ow {
            let si = (Double(i) + 0.5) * Double(h) / Double(oh) - 0.5, sj = (Double(j) + 0.5) * Double(w) / Double(ow) - 0.5
            let (fi, fj) = (Int(floor(si)), Int(floor(sj)))
            var s = 0.0
            for ki in -1...2 { for kj in -1...2 {
                let (ii, jj) = (min(max(fi + ki, 0), h - 1), min(max(fj + kj, 0), w - 1))
                s += kernel(si - Double(fi + ki)) * kernel(sj - Double(fj + kj)) * x.v[p * h * w + ii * w + jj]
            } }
            y.v[(p * oh + i) * ow + j] = s
        } } }
        return y
    }
    /// (B, C, H, W) → (B, N, C·p·p), patches row-major, each flattened (c, i, j).
    static func patchify(_ x: R, patch p: Int) -> R {
        let (b, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (gh, gw) = (h / p, w / p)
        var y = R([b, gh * gw, c * p * p], Array(repeating: 0, count: x.count))
        for n in 0..<b { for gi in 0..<gh { for gj in 0..<gw { for ch in 0..<c { for i in 0..<p { for j in 0..<p {
            y.v[y.flat([n, gi * gw + gj, (ch * p + i) * p + j])] = x[n, ch, gi * p + i, gj * p + j]
        } } } } } }
        return y
    }
}
