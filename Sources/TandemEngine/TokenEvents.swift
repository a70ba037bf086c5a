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

/// The engine's per-request state in tokens: sampler, forced tokens and counters. Guarded by
/// the engine's lock.
struct TokenRequestState {
    let request: EngineRequest
    let continuation: AsyncThrowingStream<TokenEvent, Error>.Continuation
    var sampler: Sampler
    var cachedPromptTokens = 0
    var completionTokens = 0
    /// Tokens to append instead of sampling at the next step (a forced reasoning close tag).
    var forced: [TokenID] = []
    /// The consumer acknowledges each `.tokens` event (`Engine.acknowledge`).
    var acknowledged = false
    /// `.tokens` events sent and not yet acknowledged.
    var unacknowledged = 0

    var usage: EngineUsage {
        EngineUsage(promptTokens: request.promptTokens.count, cachedPromptTokens: cachedPromptTokens,
                    completionTokens: completionTokens, reasoningTokens: 0)
    }
}
