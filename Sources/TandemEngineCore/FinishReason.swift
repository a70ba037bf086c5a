import TandemCore

/// Why a request stopped generating.
public enum FinishReason: Hashable, Sendable {
    /// A stop token id was sampled (it is the last of the output tokens).
    case stopToken(TokenID)
    /// The engine matched a stop string in the text and aborted the request.
    case stopString(String)
    /// `maxTokens` reached, or the model's context is full.
    case length
    /// The client went away or asked to stop.
    case cancelled
    /// It waited in the queue longer than `SchedulerConfiguration.maxQueueWait`.
    case timedOut

    /// The OpenAI `finish_reason` string, where one exists.
    public var openAIValue: String? {
        switch self {
        case .stopToken, .stopString: "stop"
        case .length: "length"
        case .cancelled, .timedOut: nil
        }
    }
}
