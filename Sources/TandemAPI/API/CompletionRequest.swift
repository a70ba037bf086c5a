import TandemCore

/// A validated, normalised inference request: what every `InferenceBackend` receives.
///
/// Built from `POST /v1/chat/completions` (input `.chat`) or `POST /v1/completions` (input `.text`
/// or `.tokens`) by `RequestValidator`; every field already has its default and is within range.
/// The cache salt and tenant are not here: the server assigns them and passes them in
/// `InferenceContext`, never from the client's body.
public struct CompletionRequest: Sendable, Equatable {
    /// Which endpoint the request came through; decides the response shape.
    public enum Endpoint: String, Sendable, Equatable {
        case chatCompletions = "chat.completions"
        case completions = "completions"
        /// `POST /v1/responses` (stateless): chat input, answered in the Responses API's shape.
        case responses = "responses"

        /// Whether the input is chat messages (chat completions and responses).
        public var isChat: Bool { self != .completions }
    }

    /// What a `/v1/responses` request carries that the answer repeats and chat completions have
    /// no field for (its other fields map onto this request's own).
    public struct ResponsesOptions: Sendable, Equatable {
        /// `instructions` (also the first system message of `input`).
        public var instructions: String?
        /// `metadata`: up to 16 string pairs, echoed back.
        public var metadata: JSONValue

        public init(instructions: String? = nil, metadata: JSONValue = .object([])) {
            self.instructions = instructions
            self.metadata = metadata
        }
    }

    /// What to condition on.
    public enum Input: Sendable, Equatable {
        /// Chat messages (`TandemCore.ChatMessage`), to be rendered with the model's chat template.
        case chat([ChatMessage])
        /// A raw prompt string (`/v1/completions`).
        case text(String)
        /// A pre-tokenised prompt (`/v1/completions` with `prompt: [int]`).
        case tokens([TokenID])
    }

    public var endpoint: Endpoint
    /// The model name as the client asked for it (a model, an alias or `auto`). The router
    /// rewrites it to the resolved model before a backend sees it.
    public var model: String
    public var input: Input
    /// Temperature, top-p, top-k, min-p and seed; a field the client left out holds OpenAI's
    /// default here and is listed in `omittedSampling`.
    public var sampling: SamplingParameters
    /// Sampling fields the client left out: a backend that knows the model's recommended values
    /// (`SamplingDefaults`) uses those instead, and the gateway does not send them upstream.
    public var omittedSampling: SamplingFields
    /// Repetition penalty (vLLM / Hugging Face semantics), 1 = off.
    public var repetitionPenalty: Float
    /// OpenAI `logit_bias`: token id → −100…100, added to the logits before sampling. Ids are
    /// checked against the vocabulary by the backend that knows the model.
    public var logitBias: [TokenID: Float]
    /// OpenAI presence penalty, −2…2.
    public var presencePenalty: Float
    /// OpenAI frequency penalty, −2…2.
    public var frequencyPenalty: Float
    /// Maximum tokens to generate (reasoning tokens included); nil lets the backend decide.
    public var maxTokens: Int?
    /// Stop sequences (at most 4); the matched sequence is not part of the output.
    public var stop: [String]
    /// Whether to return the log-probability of each generated token.
    public var logprobs: Bool
    /// How many alternatives per position to return with `logprobs` (0…20).
    public var topLogprobs: Int
    public var responseFormat: ResponseFormat
    /// vLLM's `guided_json`/`guided_regex`/`guided_choice`/`guided_grammar` and llama.cpp's
    /// `grammar`: the output is generated inside this language (at most one constraint per request,
    /// `response_format` included).
    public var guided: GuidedDecoding?
    /// Functions the model may call (`tools`), shown to it through its chat template.
    public var tools: [ToolDefinition] = []
    public var toolChoice: ToolChoice = .auto
    /// Whether one answer may hold several calls (`parallel_tool_calls`, default true).
    public var parallelToolCalls = true
    /// Further variables for the model's own chat template (`chat_template_kwargs`).
    public var chatTemplateKwargs: JSONValue = .object([])
    /// Choices to generate for the prompt (`n`, 1…16).
    public var n = 1
    /// Tandem's `speculative`: false keeps the request out of speculative decoding (one token per
    /// step). The tokens are the same either way; only latency and the server's work change.
    public var speculative = true
    /// OpenAI's Predicted Outputs (`prediction: {"type": "content", "content": …}`): text the
    /// answer is expected to repeat largely (a file being edited). A speculating deployment drafts
    /// from it as well as from the prompt; the answer is the same with or without it.
    public var prediction: String?
    /// Whether the client asked for server-sent events.
    public var stream: Bool
    /// `stream_options.include_usage`: send a final chunk with usage and no choices.
    public var includeUsage: Bool
    /// `/v1/completions` `echo`: prepend the prompt to the completion text.
    public var echo: Bool
    /// `/v1/responses` only: what its answer repeats.
    public var responses: ResponsesOptions?
    /// OpenAI's end-user identifier, passed through for logs.
    public var user: String?

    public init(endpoint: Endpoint = .chatCompletions, model: String, input: Input,
                sampling: SamplingParameters = SamplingParameters(temperature: 1, topP: 1),
                omittedSampling: SamplingFields = [], repetitionPenalty: Float = 1, logitBias: [TokenID: Float] = [:],
                presencePenalty: Float = 0, frequencyPenalty: Float = 0, maxTokens: Int? = nil,
                stop: [String] = [], logprobs: Bool = false, topLogprobs: Int = 0,
                responseFormat: ResponseFormat = .text, stream: Bool = false, includeUsage: Bool = false,
                echo: Bool = false, user: String? = nil) {
        self.endpoint = endpoint
        self.model = model
        self.input = input
        self.sampling = sampling
        self.omittedSampling = omittedSampling
        self.repetitionPenalty = repetitionPenalty
        self.logitBias = logitBias
        self.presencePenalty = presencePenalty
        self.frequencyPenalty = frequencyPenalty
        self.maxTokens = maxTokens
        self.stop = stop
        self.logprobs = logprobs
        self.topLogprobs = topLogprobs
        self.responseFormat = responseFormat
        self.stream = stream
        self.includeUsage = includeUsage
        self.echo = echo
        self.user = user
    }

    /// The prompt as plain text, for length checks, routing rules and affinity hashing:
    /// messages joined as `role: content` lines. Token prompts give an empty string.
    public var promptText: String {
        switch input {
        case .chat(let messages): messages.map { "\($0.role.rawValue): \($0.content)" }.joined(separator: "\n")
        case .text(let text): text
        case .tokens: ""
        }
    }

    /// The text a keyword classifier looks at: the last user message (or the prompt).
    public var lastUserText: String {
        switch input {
        case .chat(let messages): messages.last(where: { $0.role == .user })?.content ?? ""
        case .text(let text): text
        case .tokens: ""
        }
    }

    /// A cheap upper-bound-ish estimate of the prompt's token count without a tokenizer:
    /// one token per 4 UTF-8 bytes, at least one per message; exact for token prompts.
    public var estimatedPromptTokens: Int {
        switch input {
        case .tokens(let ids): return ids.count
        case .text(let text): return max(1, (text.utf8.count + 3) / 4)
        case .chat(let messages):
            return messages.reduce(0) { $0 + 4 + ($1.content.utf8.count + 3) / 4 }
        }
    }
}

/// Sampling fields a request may leave to the model's defaults.
public struct SamplingFields: OptionSet, Sendable, Equatable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let temperature = SamplingFields(rawValue: 1 << 0)
    public static let topP = SamplingFields(rawValue: 1 << 1)
    public static let topK = SamplingFields(rawValue: 1 << 2)
    public static let minP = SamplingFields(rawValue: 1 << 3)
    public static let repetitionPenalty = SamplingFields(rawValue: 1 << 4)
    public static let all: SamplingFields = [.temperature, .topP, .topK, .minP, .repetitionPenalty]
}

extension CompletionRequest {
    /// The request with every field it left out taken from `defaults` (where those set it);
    /// afterwards nothing is left to defaults.
    public func applying(_ defaults: SamplingDefaults) -> CompletionRequest {
        var r = self
        let o = omittedSampling
        if o.contains(.temperature), let v = defaults.temperature { r.sampling.temperature = v }
        if o.contains(.topP), let v = defaults.topP { r.sampling.topP = v }
        if o.contains(.topK), let v = defaults.topK { r.sampling.topK = max(0, v) }
        if o.contains(.minP), let v = defaults.minP { r.sampling.minP = v }
        if o.contains(.repetitionPenalty), let v = defaults.repetitionPenalty { r.repetitionPenalty = v }
        r.omittedSampling = []
        return r
    }
}

/// A constraint named by one of the extension fields (vLLM, llama.cpp).
public enum GuidedDecoding: Sendable, Equatable {
    /// `guided_json`: a JSON Schema.
    case json(JSONValue)
    /// `guided_regex`.
    case regex(String)
    /// `guided_choice`: one of the strings, exactly.
    case choice([String])
    /// `grammar` (llama.cpp) or `guided_grammar` (vLLM): GBNF.
    case grammar(String)

    /// The request field it came from.
    public var field: String {
        switch self {
        case .json: "guided_json"
        case .regex: "guided_regex"
        case .choice: "guided_choice"
        case .grammar: "grammar"
        }
    }
}

/// `response_format`: what shape the output text must have.
public enum ResponseFormat: Sendable, Equatable {
    case text
    /// The final text must be a JSON object.
    case jsonObject
    /// The final text must be JSON; the schema is passed to the backend (the gateway checks only
    /// that the text parses, not that it matches the schema).
    case jsonSchema(name: String, schema: JSONValue, strict: Bool)

    /// Whether the final text has to parse as JSON.
    public var requiresJSON: Bool {
        if case .text = self { return false }
        return true
    }
}
