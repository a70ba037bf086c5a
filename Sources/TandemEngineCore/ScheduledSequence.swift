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

    public init(requestID: RequestID, phase: Phase, admission: Admission?, tokens: [TokenID], startPosition: Int,
                blockTable: BlockTable, samplesToken: Bool, cachedTokenCount: Int) {
        self.requestID = requestID
        self.phase = phase
        self.admission = admission
        self.tokens = tokens
        self.startPosition = startPosition
        self.blockTable = blockTable
        self.samplesToken = samplesToken
        self.cachedTokenCount = cachedTokenCount
    }

    public var positions: Range<Int> { startPosition..<(startPosition + tokens.count) }
}
