/// One thing a backend reports while it answers a `CompletionRequest`.
///
/// A well-formed stream is any number of `.delta`s, then exactly one `.finish`, then at most one
/// `.usage`; it then ends. A backend that fails after it has accepted the request throws a
/// `BackendError` from the stream instead (the server turns that into an SSE error event, or an
/// HTTP error when nothing was sent yet).
public enum CompletionEvent: Sendable, Equatable {
    /// Newly generated text. Reasoning models put their thinking in `reasoning`, the answer in `content`.
    case delta(CompletionDelta)
    /// Why generation of choice `index` ended.
    case finish(OpenAIFinishReason, index: Int = 0)
    /// Token accounting for the whole request.
    case usage(Usage)
}

/// A piece of generated output: text, reasoning text and the log-probabilities of the tokens that
/// made it, for choice `index` (`n > 1`).
public struct CompletionDelta: Sendable, Equatable {
    public var index = 0
    public var content: String
    public var reasoning: String
    /// One entry per generated token in this delta when the request asked for `logprobs`.
    public var logprobs: [OpenAITokenLogprob]
    /// Function calls (or parts of them: a later delta with the same index adds to `arguments`).
    public var toolCalls: [ToolCallDelta]

    public init(index: Int = 0, content: String = "", reasoning: String = "", logprobs: [OpenAITokenLogprob] = [],
                toolCalls: [ToolCallDelta] = []) {
        self.index = index
        self.content = content
        self.reasoning = reasoning
        self.logprobs = logprobs
        self.toolCalls = toolCalls
    }

    public var isEmpty: Bool { content.isEmpty && reasoning.isEmpty && logprobs.isEmpty && toolCalls.isEmpty }
}

/// A function call in a stream, as OpenAI's `delta.tool_calls[i]` carries it: the first delta of
/// a call has its id and name, later ones (same `index`) more of its arguments text.
public struct ToolCallDelta: Sendable, Equatable {
    public var index: Int
    public var id: String?
    public var name: String?
    public var arguments: String

    public init(index: Int, id: String? = nil, name: String? = nil, arguments: String = "") {
        self.index = index
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

/// A generated token as OpenAI's `logprobs` report it: its text and bytes, its log-probability
/// and the most likely alternatives at its position. (Not the sampler's `TokenLogprob` of
/// `TandemEngineCore`, a token id with its log-probability: a backend decodes those into this.)
public struct OpenAITokenLogprob: Sendable, Equatable {
    /// Another token that was likely at the same position.
    public struct Alternative: Sendable, Equatable {
        public var token: String
        public var logprob: Double
        public var bytes: [UInt8]?
        public init(token: String, logprob: Double, bytes: [UInt8]? = nil) {
            self.token = token
            self.logprob = logprob
            self.bytes = bytes
        }
    }

    public var token: String
    public var logprob: Double
    /// The token's raw bytes (a token may be part of a UTF-8 character).
    public var bytes: [UInt8]?
    public var top: [Alternative]

    public init(token: String, logprob: Double, bytes: [UInt8]? = nil, top: [Alternative] = []) {
        self.token = token
        self.logprob = logprob
        self.bytes = bytes
        self.top = top
    }
}

/// OpenAI's `finish_reason`: the string a response carries (`stop`, `length`, or whatever an
/// upstream sent). Not the engine's `FinishReason` (`TandemEngineCore`: stop token, stop string,
/// length, cancelled, timed out), which a backend maps to this; cancelled and timed-out requests
/// have no finish reason on the wire.
public struct OpenAIFinishReason: RawRepresentable, Sendable, Equatable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// End of sequence token or a stop sequence.
    public static let stop = OpenAIFinishReason(rawValue: "stop")
    /// `max_tokens` (or the context) ran out.
    public static let length = OpenAIFinishReason(rawValue: "length")
    public static let contentFilter = OpenAIFinishReason(rawValue: "content_filter")
    /// The answer is one or more function calls.
    public static let toolCalls = OpenAIFinishReason(rawValue: "tool_calls")

    public var description: String { rawValue }
}

/// Token counts of one request, as OpenAI's `usage` object reports them.
public struct Usage: Sendable, Equatable {
    public var promptTokens: Int
    /// Generated tokens, reasoning tokens included.
    public var completionTokens: Int
    /// Prompt tokens served from the prefix cache (`prompt_tokens_details.cached_tokens`).
    public var cachedTokens: Int
    /// Generated tokens spent reasoning (`completion_tokens_details.reasoning_tokens`).
    public var reasoningTokens: Int
    /// Speculative decoding: draft tokens the model accepted and rejected
    /// (`completion_tokens_details.accepted_prediction_tokens` / `rejected_prediction_tokens`, the
    /// fields OpenAI reports for its own predicted outputs). The accepted ones are counted in
    /// `completionTokens`; the rejected ones are not.
    public var acceptedPredictionTokens: Int
    public var rejectedPredictionTokens: Int

    public init(promptTokens: Int = 0, completionTokens: Int = 0, cachedTokens: Int = 0, reasoningTokens: Int = 0,
                acceptedPredictionTokens: Int = 0, rejectedPredictionTokens: Int = 0) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cachedTokens = cachedTokens
        self.reasoningTokens = reasoningTokens
        self.acceptedPredictionTokens = acceptedPredictionTokens
        self.rejectedPredictionTokens = rejectedPredictionTokens
    }

    public var totalTokens: Int { promptTokens + completionTokens }
}
