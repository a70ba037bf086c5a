/// Speculative decoding for one deployment: who drafts, how many tokens, and when it is worth it.
public struct SpeculationConfiguration: Sendable, Equatable {
    public enum Method: String, CaseIterable, Sendable {
        /// No drafts: one token per sequence per step.
        case off
        /// `PromptLookupProposer`: continuations of n-grams already in the prompt and output.
        case promptLookup = "prompt-lookup"
    }

    public var method: Method
    /// Most draft tokens per sequence and step (k); the target scores k + 1 positions.
    public var maxDraftTokens: Int
    /// Speculate only in steps where at most this many sequences decode: with a large batch the
    /// step is no longer bound by reading the weights, and verifying drafts costs more than the
    /// tokens it saves. 0: no limit.
    public var maxBatch: Int
    /// Measure the step cost of drafting at start-up (`SpeculationCostModel`) and draft only in
    /// steps where it pays for the acceptance seen so far. Off: every step under `maxBatch` drafts.
    public var costModel: Bool

    public init(method: Method = .off, maxDraftTokens: Int = 4, maxBatch: Int = 0, costModel: Bool = true) {
        self.method = method
        self.maxDraftTokens = maxDraftTokens
        self.maxBatch = maxBatch
        self.costModel = costModel
    }

    public var isEnabled: Bool { method != .off && maxDraftTokens > 0 }

    /// The proposer for `method` (nil when off).
    public var proposer: (any DraftProposer)? {
        switch method {
        case .off: nil
        case .promptLookup: PromptLookupProposer()
        }
    }

    /// Whether a step with `decoding` decoding sequences may draft (before the cost model).
    public func drafts(decoding: Int) -> Bool { isEnabled && (maxBatch == 0 || decoding <= maxBatch) }

    /// Draft tokens for a sequence whose draft tokens are accepted at the per-token rate
    /// `acceptanceRate` (0...1, `DraftAcceptance.rate`): a sequence whose drafts keep failing
    /// drafts one token, one whose drafts keep passing drafts `maxDraftTokens`.
    public func draftLength(acceptanceRate: Double) -> Int {
        min(maxDraftTokens, max(1, Int((acceptanceRate * Double(maxDraftTokens)).rounded(.up))))
    }

    /// Accepted tokens to expect from `length` draft tokens when each is accepted at `rate` given
    /// the ones before it: rate + rate² + … + rate^length.
    public static func expectedAccepted(length: Int, rate: Double) -> Double {
        var total = 0.0, p = 1.0
        for _ in 0..<max(0, length) { p *= rate; total += p }
        return total
    }
}
