import CTandemKernels
import Foundation
import TandemCore
import TandemKernels

/// Buffers the MoE layer reuses across layers and steps (grown as needed).
struct ExpertScratch {
    var logits = FloatBuffer(count: 1, zeroed: false)   // (T, experts)
    var input = FloatBuffer(count: 1, zeroed: false)    // (n, dim): one expert's tokens
    var hidden = FloatBuffer(count: 1, zeroed: false)   // (n, ffn)
    var hidden2 = FloatBuffer(count: 1, zeroed: false)  // (n, ffn)
    var output = FloatBuffer(count: 1, zeroed: false)   // (n, dim)

    static func ensure(_ b: inout FloatBuffer, _ count: Int) {
        if b.count < count { b = FloatBuffer(count: count, zeroed: false) }
    }
}

/// The experts each token runs and their weights: the router's softmax over all experts (or,
/// Llama 4, a sigmoid of each score), the `perToken` most probable (ties to the lower number),
/// renormalised to sum to one when the family does. Computed identically on every rank from the
/// same hidden state.
public struct ExpertRouting: Equatable, Sendable {
    /// Per token, `perToken` (expert, weight) pairs, most probable first.
    public var choices: [[(expert: Int, weight: Float)]]

    public static func == (a: ExpertRouting, b: ExpertRouting) -> Bool {
        a.choices.count == b.choices.count && zip(a.choices, b.choices).allSatisfy { x, y in
            x.count == y.count && zip(x, y).allSatisfy { $0.expert == $1.expert && $0.weight == $1.weight }
        }
    }

    /// Routes `tokens` rows of router `logits` (tokens × count).
    public static func route(logits: UnsafePointer<Float>, tokens: Int, experts e: ExpertConfiguration) -> ExpertRouting {
        var out: [[(expert: Int, weight: Float)]] = []
        out.reserveCapacity(tokens)
        var p = [Float](repeating: 0, count: e.count)
        for t in 0..<tokens {
            let row = logits + t * e.count
            var sum: Float = 1
            switch e.gating {
            case .softmax:
                var m = -Float.infinity
                for i in 0..<e.count { m = max(m, row[i]) }
                sum = 0
                for i in 0..<e.count { p[i] = exp(row[i] - m); sum += p[i] }
            case .sigmoid:
                // Llama 4: each chosen expert's weight is the sigmoid of its own score.
                for i in 0..<e.count { p[i] = 1 / (1 + exp(-row[i])) }
            }
            var chosen: [(expert: Int, weight: Float)] = []
            var taken = [Bool](repeating: false, count: e.count)
            for _ in 0..<e.perToken {
                var best = -1
                for i in 0..<e.count where !taken[i] && (best < 0 || p[i] > p[best]) { best = i }
                taken[best] = true
                chosen.append((best, p[best] / sum))
            }
            if e.normalizeWeights {
                let s = chosen.reduce(Float(0)) { $0 + $1.weight }
                if s > 0 { chosen = chosen.map { ($0.expert, $0.weight / s) } }
            }
            out.append(chosen)
        }
        return ExpertRouting(choices: out)
    }
}

extension ExpertLayerWeights {
    /// The layer's FFN output for `tokens` rows of `x` (tokens × dim) into `out` (tokens × dim),
    /// this rank's part of it: the experts it holds (their column slices under tensor
    /// parallelism), each run once over all the tokens routed to it (one GEMM per expert per
    /// step), weighted by the router and summed; plus its slice of the shared expert. The
    /// layer's all-reduce adds the ranks' parts.
    func forward(tokens T: Int, _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                 config c: ModelConfiguration, scratch s: inout ExpertScratch, load: inout [Int]) {
        guard let e = c.experts else { return }
        let dim = c.dim
        ExpertScratch.ensure(&s.logits, T * e.count)
        router.multiply(batch: T, x, ldx: dim, into: s.logits.pointer, ldy: e.count)
        if let b = routerBias { for t in 0..<T { tk_add(s.logits.pointer + t * e.count, b, Int64(e.count)) } }
        let routing = ExpertRouting.route(logits: s.logits.pointer, tokens: T, experts: e)
        // Tokens of each held expert, with their weights.
        var members = [[(token: Int, weight: Float)]](repeating: [], count: ids.count)
        for (t, chosen) in routing.choices.enumerated() {
            for (expert, weight) in chosen {
                // Every rank routes alike, so each counts every expert's tokens, held or not.
                load[expert] += 1
                if ids.contains(expert) { members[expert - ids.lowerBound].append((t, weight)) }
            }
        }
        out.update(repeating: 0, count: T * dim)
        for (i, group) in members.enumerated() where !group.isEmpty {
            let n = group.count, ffn = gate[i].rows
            ExpertScratch.ensure(&s.input, n * dim)
            ExpertScratch.ensure(&s.hidden, n * ffn)
            ExpertScratch.ensure(&s.hidden2, n * ffn)
            ExpertScratch.ensure(&s.output, n * dim)
            for (j, m) in group.enumerated() {
                let row = s.input.pointer + j * dim
                row.update(from: x + m.token * dim, count: dim)
                // Llama 4 weighs the expert's input instead of its output.
                if e.weightBeforeFFN { for d in 0..<dim { row[d] *= m.weight } }
            }
            gate[i].multiply(batch: n, s.input.pointer, ldx: dim, into: s.hidden.pointer, ldy: ffn)
            up[i].multiply(batch: n, s.input.pointer, ldx: dim, into: s.hidden2.pointer, ldy: ffn)
            if let gb = gateBias?[i], let ub = upBias?[i] {
                for j in 0..<n {
                    tk_add(s.hidden.pointer + j * ffn, gb, Int64(ffn))
                    tk_add(s.hidden2.pointer + j * ffn, ub, Int64(ffn))
                }
            }
            switch e.activation {
            case .swiglu: tk_swiglu(s.hidden.pointer, s.hidden2.pointer, Int64(n * ffn))
            case .swigluClamped: tk_swiglu_clamped(s.hidden.pointer, s.hidden2.pointer, Int64(n * ffn), 1.702, 7)
            }
            down[i].multiply(batch: n, s.hidden.pointer, ldx: ffn, into: s.output.pointer, ldy: dim)
            if addsDownBias, let db = downBias?[i] { for j in 0..<n { tk_add(s.output.pointer + j * dim, db, Int64(dim)) } }
            for (j, m) in group.enumerated() {
                let src = s.output.pointer + j * dim, dst = out + m.token * dim
                let weight = e.weightBeforeFFN ? 1 : m.weight
                for d in 0..<dim { dst[d] += weight * src[d] }
            }
        }
        if let sg = sharedGate, let su = sharedUp, let sd = sharedDown, sg.rows > 0 {
            let ffn = sg.rows
            ExpertScratch.ensure(&s.hidden, T * ffn)
            ExpertScratch.ensure(&s.hidden2, T * ffn)
            ExpertScratch.ensure(&s.output, T * dim)
            sg.multiply(batch: T, x, ldx: dim, into: s.hidden.pointer, ldy: ffn)
            su.multiply(batch: T, x, ldx: dim, into: s.hidden2.pointer, ldy: ffn)
            tk_swiglu(s.hidden.pointer, s.hidden2.pointer, Int64(T * ffn))
            sd.multiply(batch: T, s.hidden.pointer, ldx: ffn, into: s.output.pointer, ldy: dim)
            for t in 0..<T {
                var scale: Float = 1
                if let g = sharedGateInput {
                    var dot: Float = 0
                    for d in 0..<dim { dot += g[d] * x[t * dim + d] }
                    scale = 1 / (1 + exp(-dot))
                }
                let src = s.output.pointer + t * dim, dst = out + t * dim
                for d in 0..<dim { dst[d] += scale * src[d] }
            }
        }
    }
}
