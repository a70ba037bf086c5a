import TandemCore

/// One sequence's share of a step: which tokens to run, at which positions, into which blocks.
public struct ScheduledSequence: Sendable, Equatable {
    /// What kind of work the tokens are, for measuring prefill and decode separately.
    public enum Phase: Hashable, Sendable {
        /// Prompt (or recompute) tokens; possibly one chunk of several.
        case prefill
        /// The newest token of a running request.
        case decode
    }

    /// Set on the step a request (re)gains its blocks.
    public enum Admission: Hashable, Sendable {
        case new
        /// Back after preemption: the tokens re-prefill prompt plus earlier output.
        case resumed
    }

    public var requestID: RequestID
    public var phase: Phase
    public var admission: Admission?
    /// Tokens to feed, at positions `startPosition ..< startPosition + tokens.count`.
    public var tokens: [TokenID]
    public var startPosition: Int
    /// The sequence's whole block table after this step's allocations.
    public var blockTable: BlockTable
    /// Whether the last token's logits must be sampled (the chunk reaches the newest token).
    public var samplesToken: Bool
    /// On admission: leading tokens whose K/V came from the prefix cache and are not recomputed.
    public var cachedTokenCount: Int
    /// Speculative decoding: proposed tokens, the last `draftTokens.count` of `tokens`, fed after
    /// the sequence's newest token so one pass scores them all. The runner returns logits for
    /// the last `1 + draftTokens.count` positions; the engine keeps the longest prefix the target
    /// model agrees with (`StepResult.acceptedDraftTokens`). Empty for ordinary chunks.
    public var draftTokens: [TokenID] = []

    public init(requestID: RequestID, phase: Phase, admission: Admission?, tokens: [TokenID], startPosition: Int,
                blockTable: BlockTable, samplesToken: Bool, cachedTokenCount: Int, draftTokens: [TokenID] = []) {
        self.requestID = requestID
        self.phase = phase
        self.admission = admission
        self.tokens = tokens
        self.startPosition = startPosition
        self.blockTable = blockTable
        self.samplesToken = samplesToken
        self.cachedTokenCount = cachedTokenCount
        self.draftTokens = draftTokens
    }

    /// Positions whose logits the step must return: the newest token's, and one per draft token.
    public var logitCount: Int { samplesToken ? 1 + draftTokens.count : 0 }

    public var positions: Range<Int> { startPosition..<(startPosition + tokens.count) }
}
