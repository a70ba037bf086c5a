import TandemCore
import TandemEngineCore
import TandemModel

/// What the engine streams for one request in tokens, in order: tokens as they are sampled,
/// then exactly one `.finished`. An error (e.g. a failed step) is thrown from the stream instead.
public enum TokenEvent: Sendable, Equatable {
    /// Tokens appended to the output (a stop token is not among them), their logprobs when asked
    /// for, and the prompt tokens whose K/V came from the prefix cache (the scheduler's count).
    case tokens([TokenID], logprobs: [SampledToken], cachedPromptTokens: Int)
    /// `usage.reasoningTokens` is 0 here: reasoning is a matter of text (`TextProcessor`).
    case finished(reason: FinishReason, usage: EngineUsage)
}

/// Where the engine delivers one request's token events: an `AsyncThrowingStream`
/// (`submitTokens`) or the engine's text front (`submit`). Called from the step thread, outside
/// the engine's lock; `finish` ends the request (nil: normally, after `.finished`, or cancelled).
struct TokenSink: Sendable {
    let yield: @Sendable (TokenEvent) -> Void
    let finish: @Sendable ((any Error)?) -> Void

    init(yield: @escaping @Sendable (TokenEvent) -> Void, finish: @escaping @Sendable ((any Error)?) -> Void) {
        self.yield = yield
        self.finish = finish
    }

    init(_ c: AsyncThrowingStream<TokenEvent, Error>.Continuation) {
        yield = { c.yield($0) }
        finish = { e in if let e { c.finish(throwing: e) } else { c.finish() } }
    }
}

/// The engine's per-request state in tokens: sampler, forced tokens and counters. Guarded by
/// the engine's lock.
struct TokenRequestState {
    let request: EngineRequest
    let sink: TokenSink
    var sampler: Sampler
    var cachedPromptTokens = 0
    var completionTokens = 0
    /// Tokens to append instead of sampling at the next step (a forced reasoning close tag).
    var forced: [TokenID] = []
    /// The consumer acknowledges each `.tokens` event (`Engine.acknowledge`).
    var acknowledged = false
    /// `.tokens` events sent and not yet acknowledged.
    var unacknowledged = 0
    /// Speculative decoding: the per-token acceptance rate of this request's recent drafts
    /// (starts at the deployment's), which sets its draft length.
    var draftAcceptance = DraftAcceptance(prior: 1.0, decay: 0.7)
    /// Draft tokens of this request the model accepted and rejected.
    var acceptedDraftTokens = 0
    var rejectedDraftTokens = 0

    var usage: EngineUsage {
        EngineUsage(promptTokens: request.promptTokens.count, cachedPromptTokens: cachedPromptTokens,
                    completionTokens: completionTokens, reasoningTokens: 0,
                    acceptedDraftTokens: acceptedDraftTokens, rejectedDraftTokens: rejectedDraftTokens)
    }
}

/// A further choice of a request (`n > 1`) waiting for its parent's first sampling step, when
/// the scheduler forks it from the parent (`Scheduler.fork`). Guarded by the engine's lock.
struct PendingFork {
    let request: EngineRequest
    let sink: TokenSink
    var sampler: Sampler
    let acknowledged: Bool
    let stopIDs: Set<TokenID>
}
