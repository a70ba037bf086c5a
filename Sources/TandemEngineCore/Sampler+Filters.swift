import TandemCore

/// Masks and distributions over logits: top-k, top-p, min-p, log-softmax, best-n selection.
extension Sampler {
    /// A token ranked by logit: `<` means "ranks below" (smaller logit, or equal logit and larger id).
    struct RankedToken: Comparable, Sendable {
        var logit: Float
        var id: Int

        static func < (lhs: RankedToken, rhs: RankedToken) -> Bool {
            lhs.logit < rhs.logit || (lhs.logit == rhs.logit && lhs.id > rhs.id)
        }
    }

    /// Argmax, lowest id on exact ties; 0 when every logit is −∞.
    static func argmax(_ logits: [Float]) -> Int {
        var best = 0
        for index in logits.indices where logits[index] > logits[best] { best = index }
        return best
    }

    /// The tokens surviving top-k (0 = off), top-p (1 = off) and min-p (0 = off), applied in that
    /// order to `logits` (already temperature-scaled), in ascending id order. −∞ never survives.
    static func keptTokens(_ logits: [Float], topK: Int, topP: Float, minP: Float) -> [Int] {
        let finite = logits.indices.filter { logits[$0] > -Float.infinity }
        guard !finite.isEmpty else { return [] }
        var kept = finite
        var ranked = false
        if topK > 0, topK < finite.count {
            kept = best(topK, of: finite.map { RankedToken(logit: logits[$0], id: $0) }).map(\.id)
            ranked = true
        }
        if topP < 1 {
            if !ranked { kept = nucleusCandidates(logits, finite: finite, topP: topP) }
            kept = nucleus(of: kept, logits: logits, topP: topP)
        }
        if minP > 0 {
            let maxLogit = kept.map { logits[$0] }.max() ?? -Float.infinity
            // p ≥ minP · pmax  ⇔  l ≥ lmax + log(minP), and renormalisation does not change it.
            let threshold = Double(maxLogit) + naturalLog(Double(minP))
            kept = kept.filter { Double(logits[$0]) >= threshold }
        }
        return kept.sorted()
    }

    /// `finite` ranked best first, but only as far as needed to contain the nucleus: tokens with
    /// probability ≥ 1e-4 × the top one usually carry the mass; if they do not, all are ranked.
    private static func nucleusCandidates(_ logits: [Float], finite: [Int], topP: Float) -> [Int] {
        let maxLogit = Double(finite.map { logits[$0] }.max() ?? 0)
        var total = 0.0
        for index in finite { total += naturalExp(Double(logits[index]) - maxLogit) }
        let cutoff = maxLogit + naturalLog(1e-4)
        let head = finite.filter { Double(logits[$0]) >= cutoff }
        var headMass = 0.0
        for index in head { headMass += naturalExp(Double(logits[index]) - maxLogit) }
        // Every token outside `head` ranks below every token in it, so if `head` holds topP of
        // the mass, the nucleus lies inside it.
        let pool = headMass / total >= Double(topP) ? head : finite
        return pool.map { RankedToken(logit: logits[$0], id: $0) }.sorted(by: >).map(\.id)
    }

    /// The shortest best-first prefix of `ranked` whose probability reaches `topP` (at least one).
    private static func nucleus(of ranked: [Int], logits: [Float], topP: Float) -> [Int] {
        guard let first = ranked.first else { return [] }
        let maxLogit = Double(logits[first])
        var weights: [Double] = []
        weights.reserveCapacity(ranked.count)
        var total = 0.0
        for index in ranked {
            let weight = naturalExp(Double(logits[index]) - maxLogit)
            weights.append(weight)
            total += weight
        }
        var cumulative = 0.0
        for (position, weight) in weights.enumerated() {
            cumulative += weight / total
            if cumulative >= Double(topP) { return Array(ranked[...position]) }
        }
        return ranked
    }

    /// Log-softmax of `logits` restricted to `indices` (all finite tokens when nil), ascending id.
    static func logSoftmax(_ logits: [Float], over indices: [Int]? = nil) -> [TokenLogprob] {
        let members = indices ?? logits.indices.filter { logits[$0] > -Float.infinity }
        guard let maxLogit = members.map({ Double(logits[$0]) }).max() else { return [] }
        var total = 0.0
        for index in members { total += naturalExp(Double(logits[index]) - maxLogit) }
        let logTotal = maxLogit + naturalLog(total)
        return members.map { TokenLogprob(token: TokenID(truncatingIfNeeded: $0), logprob: Float(Double(logits[$0]) - logTotal)) }
    }

    /// The `count` best-ranked entries, best first, via a bounded min-heap (O(n log count)).
    static func best(_ count: Int, of candidates: [RankedToken]) -> [RankedToken] {
        guard count > 0 else { return [] }
        var heap = MinHeap<RankedToken>()
        for candidate in candidates {
            if heap.count < count {
                heap.insert(candidate)
            } else if let worst = heap.min, worst < candidate {
                _ = heap.popMin()
                heap.insert(candidate)
            }
        }
        return heap.elements.sorted(by: >)
    }

    /// The `count` most likely entries of a distribution, best first (ties: lower id first).
    static func best(_ count: Int, of distribution: [TokenLogprob]) -> [TokenLogprob] {
        best(count, of: distribution.map { RankedToken(logit: $0.logprob, id: Int($0.token)) })
            .map { TokenLogprob(token: TokenID(truncatingIfNeeded: $0.id), logprob: $0.logit) }
    }
}
