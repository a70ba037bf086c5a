import TandemCore

/// Proposes draft tokens for speculative decoding. Pure: the same tokens give the same draft.
public protocol DraftProposer: Sendable {
    /// Up to `maxTokens` tokens likely to follow `tokens` (prompt then output), or none.
    /// `reference`: text the output is expected to repeat (a predicted output), searched too.
    func propose(_ tokens: [TokenID], reference: [TokenID], maxTokens: Int) -> [TokenID]
}

extension DraftProposer {
    public func propose(_ tokens: [TokenID], maxTokens: Int) -> [TokenID] { propose(tokens, reference: [], maxTokens: maxTokens) }
}

/// Prompt lookup (n-gram) decoding: the continuation of the most recent earlier occurrence of the
/// sequence's last n tokens, for the longest n in `ngramSizes` that has one. No extra model; it
/// drafts well wherever the output quotes its context (extraction, summaries, RAG answers, code
/// edits) and proposes nothing elsewhere, which costs nothing.
public struct PromptLookupProposer: DraftProposer, Equatable {
    /// The longest and shortest suffix tried, longest first.
    public var maxNgram: Int
    public var minNgram: Int
    /// How far back (in tokens) a match is searched for; bounds the cost per step.
    public var window: Int

    public init(maxNgram: Int = 3, minNgram: Int = 1, window: Int = 8192) {
        precondition(minNgram >= 1 && maxNgram >= minNgram && window > 0)
        self.maxNgram = maxNgram
        self.minNgram = minNgram
        self.window = window
    }

    /// With a `reference` (a predicted output), a suffix found there is continued from there
    /// first (its last occurrence), since the output is expected to follow it; then from `tokens`.
    public func propose(_ tokens: [TokenID], reference: [TokenID], maxTokens: Int) -> [TokenID] {
        let count = tokens.count
        guard maxTokens > 0, count >= minNgram + 1 else { return [] }
        let lowest = max(0, count - window)
        for n in stride(from: min(maxNgram, count - 1), through: minNgram, by: -1) {
            let suffix = tokens[(count - n)...]
            if reference.count > n {
                var start = reference.count - n - 1
                while start >= 0 {
                    if reference[start] == suffix.first!, reference[start..<(start + n)].elementsEqual(suffix) {
                        let from = start + n
                        return Array(reference[from..<min(reference.count, from + maxTokens)])
                    }
                    start -= 1
                }
            }
            // The most recent occurrence that ends before the suffix starts to be fed (its
            // continuation exists).
            var start = count - n - 1
            while start >= lowest {
                if tokens[start] == suffix.first!, tokens[start..<(start + n)].elementsEqual(suffix) {
                    let from = start + n
                    let to = min(count, from + maxTokens)
                    if from < to { return Array(tokens[from..<to]) }
                }
                start -= 1
            }
        }
        return []
    }
}

/// The acceptance rule of speculative sampling (Leviathan et al. 2023; Chen et al. 2023) for a
/// draft drawn from a distribution `q`: draft token `x` is kept with probability
/// `min(1, p(x) / q(x))`; the first rejected position draws from `max(0, p − q)` renormalised;
/// when every draft token is kept, one more token is drawn from the target's next distribution.
/// The tokens emitted are then distributed exactly as the target's own samples.
///
/// A proposer that drafts deterministically (prompt lookup: `q` is one-hot on the draft token)
/// makes this "keep `x` with probability `p(x)`, else draw from `p` without `x`", which is what the
/// engine does by sampling each position from the target and comparing with the draft: the same
/// distribution, and the same random draws as decoding without speculation.
public enum SpeculativeAcceptance {
    /// `target[i]`: the target's distribution after the accepted prefix and `i` draft tokens
    /// (`draft.count + 1` rows); `proposal[i]`: the distribution draft token `i` was drawn from.
    /// `uniform` gives the random numbers in [0, 1). Returns the tokens to append.
    public static func verify(draft: [Int], target: [[Double]], proposal: [[Double]],
                              uniform: () -> Double) -> [Int] {
        precondition(target.count == draft.count + 1 && proposal.count == draft.count)
        var out: [Int] = []
        for (i, x) in draft.enumerated() {
            let p = target[i][x], q = proposal[i][x]
            if q > 0, uniform() < min(1, p / q) {
                out.append(x)
                continue
            }
            let residual = zip(target[i], proposal[i]).map { max(0, $0 - $1) }
            out.append(draw(residual, uniform()))
            return out
        }
        out.append(draw(target[draft.count], uniform()))
        return out
    }

    /// Index drawn from unnormalised non-negative weights with one uniform number.
    public static func draw(_ weights: [Double], _ u: Double) -> Int {
        let total = weights.reduce(0, +)
        guard total > 0 else { return weights.indices.max { weights[$0] < weights[$1] } ?? 0 }
        var cumulative = 0.0
        for (i, w) in weights.enumerated() {
            cumulative += w / total
            if u < cumulative { return i }
        }
        return weights.lastIndex { $0 > 0 } ?? weights.count - 1
    }
}
