import TandemCore

/// Where a request stands in the scheduler.
public enum RequestStatus: Hashable, Sendable {
    /// Queued for admission (new or preempted); holds no blocks.
    case waiting
    /// Admitted: holds blocks and advances each step it is scheduled.
    case running
}

/// The scheduler's record of one request (vLLM's `Request`): its tokens so far and how many of
/// them have K/V computed.
struct SequenceState: Sendable {
    let request: GenerationRequest
    /// Submission order, the last tie-breaker.
    let order: UInt64
    let maxOutputTokens: Int
    /// Prompt followed by output tokens.
    var tokens: [TokenID]
    var computedTokenCount = 0
    var chain: BlockHashChain
    var status = RequestStatus.waiting
    var cachedPromptTokenCount = 0
    var admissionCount = 0
    var preemptionCount = 0

    init(request: GenerationRequest, order: UInt64, maxOutputTokens: Int, blockSize: Int) {
        self.request = request
        self.order = order
        self.maxOutputTokens = maxOutputTokens
        tokens = request.promptTokens
        chain = BlockHashChain(tokens: request.promptTokens, blockSize: blockSize, salt: request.cacheSalt)
    }

    var outputTokenCount: Int { tokens.count - request.promptTokens.count }
    var pendingTokenCount: Int { tokens.count - computedTokenCount }
}
