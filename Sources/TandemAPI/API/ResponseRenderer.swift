import TandemCore
/// Builds OpenAI response documents: `chat.completion`, `chat.completion.chunk`,
/// `text_completion` (whole and streamed), usage and log-probabilities in both APIs' shapes.
/// (`/v1/responses` answers are `ResponsesRenderer`'s.)
public struct ResponseRenderer: Sendable {
    public var id: String
    public var created: Int64
    /// The model that answered (what the response's `model` field says).
    public var model: String
    public var endpoint: CompletionRequest.Endpoint

    public init(id: String, created: Int64, model: String, endpoint: CompletionRequest.Endpoint) {
        self.id = id
        self.created = created
        self.model = model
        self.endpoint = endpoint
    }

    private var chunkObject: String { endpoint == .chatCompletions ? "chat.completion.chunk" : "text_completion" }

    private func envelope(object: String, choices: [JSONValue], usage: Usage?) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("id", .string(id)), ("object", .string(object)), ("created", .int(created)),
            ("model", .string(model)), ("system_fingerprint", .string("tandem")), ("choices", .array(choices)),
        ]
        if let usage { pairs.append(("usage", Self.usage(usage))) }
        return .object(pairs)
    }

    /// The complete answer for a non-streaming request, one entry per choice.
    public func completion(_ acc: CompletionAccumulator, logprobsRequested: Bool = false, echo: String? = nil) -> JSONValue {
        let usage = acc.usage ?? Usage(completionTokens: acc.deltaCount)
        let choices: [JSONValue] = acc.choices.enumerated().map { index, c in
            let finish: JSONValue = c.finishReason.map { .string($0.rawValue) } ?? .string("stop")
            switch endpoint {
            case .chatCompletions, .responses:
                let content: JSONValue = c.content.isEmpty && !c.toolCalls.isEmpty ? .null : .string(c.content)
                var message: [(String, JSONValue)] = [("role", "assistant"), ("content", content)]
                if !c.reasoning.isEmpty { message.append(("reasoning_content", .string(c.reasoning))) }
                message.append(("refusal", .null))
                if !c.toolCalls.isEmpty {
                    message.append(("tool_calls", .array(c.toolCalls.map { call in
                        .object([("id", .string(call.id)), ("type", "function"),
                                 ("function", .object([("name", .string(call.name)), ("arguments", .string(call.arguments))]))])
                    })))
                }
                return .object([
                    ("index", .int(Int64(index))), ("message", .object(message)),
                    ("logprobs", logprobsJSON(c.logprobs, requested: logprobsRequested)),
                    ("finish_reason", finish),
                ])
            case .completions:
                return .object([
                    ("index", .int(Int64(index))), ("text", .string((echo ?? "") + c.content)),
                    ("logprobs", logprobsJSON(c.logprobs, requested: logprobsRequested)),
                    ("finish_reason", finish),
                ])
            }
        }
        return envelope(object: endpoint == .chatCompletions ? "chat.completion" : "text_completion", choices: choices, usage: usage)
    }

    /// The first chunk of a chat stream, announcing the assistant role of each choice.
    public func roleChunk(choices: Int = 1) -> JSONValue {
        let delta: JSONValue = .object([("role", "assistant"), ("content", "")])
        return envelope(object: chunkObject, choices: (0..<max(1, choices)).map { i in
            .object([("index", .int(Int64(i))), ("delta", delta), ("logprobs", .null), ("finish_reason", .null)])
        }, usage: nil)
    }

    /// A streamed piece of output (`finish` set on the last one).
    public func chunk(_ delta: CompletionDelta, finish: OpenAIFinishReason? = nil, logprobsRequested: Bool) -> JSONValue {
        let finishValue: JSONValue = finish.map { .string($0.rawValue) } ?? .null
        let lp = logprobsRequested && !delta.logprobs.isEmpty ? logprobsJSON(delta.logprobs, requested: true) : .null
        switch endpoint {
        case .chatCompletions, .responses:
            var d: [(String, JSONValue)] = []
            if !delta.content.isEmpty || delta.reasoning.isEmpty { d.append(("content", .string(delta.content))) }
            if !delta.reasoning.isEmpty { d.append(("reasoning_content", .string(delta.reasoning))) }
            if !delta.toolCalls.isEmpty {
                if delta.content.isEmpty { d.removeAll { $0.0 == "content" } }
                d.append(("tool_calls", .array(delta.toolCalls.map { c in
                    var call: [(String, JSONValue)] = [("index", .int(Int64(c.index)))]
                    if let id = c.id { call += [("id", .string(id)), ("type", "function")] }
                    var function: [(String, JSONValue)] = []
                    if let name = c.name { function.append(("name", .string(name))) }
                    function.append(("arguments", .string(c.arguments)))
                    call.append(("function", .object(function)))
                    return .object(call)
                })))
            }
            if finish != nil && delta.isEmpty { d = [] }
            return envelope(object: chunkObject, choices: [.object([("index", .int(Int64(delta.index))), ("delta", .object(d)), ("logprobs", lp), ("finish_reason", finishValue)])], usage: nil)
        case .completions:
            return envelope(object: chunkObject, choices: [.object([("index", .int(Int64(delta.index))), ("text", .string(delta.content)), ("logprobs", lp), ("finish_reason", finishValue)])], usage: nil)
        }
    }

    /// The last chunk when `stream_options.include_usage` is set: no choices, the usage.
    public func usageChunk(_ usage: Usage) -> JSONValue {
        envelope(object: chunkObject, choices: [], usage: usage)
    }

    public static func usage(_ u: Usage) -> JSONValue {
        .object([
            ("prompt_tokens", .int(Int64(u.promptTokens))),
            ("completion_tokens", .int(Int64(u.completionTokens))),
            ("total_tokens", .int(Int64(u.totalTokens))),
            ("prompt_tokens_details", .object([("cached_tokens", .int(Int64(u.cachedTokens)))])),
            ("completion_tokens_details", .object([
                ("reasoning_tokens", .int(Int64(u.reasoningTokens))),
                ("accepted_prediction_tokens", .int(Int64(u.acceptedPredictionTokens))),
                ("rejected_prediction_tokens", .int(Int64(u.rejectedPredictionTokens))),
            ])),
        ])
    }

    func logprobsJSON(_ items: [OpenAITokenLogprob], requested: Bool) -> JSONValue {
        guard requested else { return .null }
        func bytes(_ b: [UInt8]?, _ token: String) -> JSONValue {
            .array((b ?? Array(token.utf8)).map { .int(Int64($0)) })
        }
        switch endpoint {
        case .chatCompletions, .responses:
            let content: [JSONValue] = items.map { t in
                .object([
                    ("token", .string(t.token)), ("logprob", .double(t.logprob)), ("bytes", bytes(t.bytes, t.token)),
                    ("top_logprobs", .array(t.top.map { a in
                        .object([("token", .string(a.token)), ("logprob", .double(a.logprob)), ("bytes", bytes(a.bytes, a.token))])
                    })),
                ])
            }
            return .object([("content", .array(content)), ("refusal", .null)])
        case .completions:
            var offset = 0
            var offsets: [JSONValue] = []
            for t in items {
                offsets.append(.int(Int64(offset)))
                offset += t.token.utf8.count
            }
            return .object([
                ("tokens", .array(items.map { .string($0.token) })),
                ("token_logprobs", .array(items.map { .double($0.logprob) })),
                ("top_logprobs", .array(items.map { t in .object(t.top.map { ($0.token, .double($0.logprob)) }) })),
                ("text_offset", .array(offsets)),
            ])
        }
    }
}
