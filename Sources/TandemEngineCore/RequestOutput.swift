import TandemCore

/// What one request gained in a step, returned by `Scheduler.update(with:)`.
public struct RequestOutput: Sendable, Equatable {
    public var requestID: RequestID
    /// Tokens appended this step, up to and including a stop token.
    public var newTokens: [TokenID]
    public var finishReason: FinishReason?
    public var promptTokenCount: Int
    /// Output tokens so far, including `newTokens`.
    public var outputTokenCount: Int
    /// Prompt tokens served from the prefix cache at first admission (OpenAI `cached_tokens`).
    public var cachedPromptTokenCount: Int

    public init(requestID: RequestID, newTokens: [TokenID], finishReason: FinishReason?, promptTokenCount: Int,
                outputTokenCount: Int, cachedPromptTokenCount: Int) {
        self.requestID = requestID
        self.newTokens = newTokens
        self.finishReason = finishReason
        self.promptTokenCount = promptTokenCount
        self.outputTokenCount = outputTokenCount
        self.cachedPromptTokenCount = cachedPromptTokenCount
    }
}
