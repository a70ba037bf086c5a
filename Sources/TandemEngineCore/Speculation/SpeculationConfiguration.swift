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

    public init(method: Method = .off, maxDraftTokens: Int = 4, maxBatch: Int = 4) {
        self.method = method
        self.maxDraftTokens = maxDraftTokens
        self.maxBatch = maxBatch
    }

    public var isEnabled: Bool { method != .off && maxDraftTokens > 0 }

    /// The proposer for `method` (nil when off).
    public var proposer: (any DraftProposer)? {
        switch method {
        case .off: nil
        case .promptLookup: PromptLookupProposer()
        }
    }

    /// Whether a step with `decoding` decoding sequences drafts at all.
    public func drafts(decoding: Int) -> Bool { isEnabled && (maxBatch == 0 || decoding <= maxBatch) }
}
