import TandemCore

/// Builds the Responses API's documents for `POST /v1/responses`: the `response` object (whole, or
/// as the `response.created` / `response.completed` events carry it), its output items (a
/// `reasoning` item, a `message` with one `output_text` part, a `function_call` per call) and usage.
/// `ResponsesEventStream` turns a backend's events into the streamed event sequence.
public struct ResponsesRenderer: Sendable {
    /// `resp_…`; item ids derive from it.
    public var id: String
    public var created: Int64
    /// The model that answered.
    public var model: String
    public var request: CompletionRequest

    public init(id: String, created: Int64, model: String, request: CompletionRequest) {
        self.id = id
        self.created = created
        self.model = model
        self.request = request
    }

    /// An item id: `prefix` and the response's own id (without `resp_`) and the item's position.
    func itemID(_ prefix: String, _ index: Int) -> String {
        let base = id.hasPrefix("resp_") ? String(id.dropFirst(5)) : id
        return "\(prefix)_\(base)_\(index)"
    }

    /// The `response` object. `status`: in_progress, completed, incomplete or failed.
    public func response(status: String, output: [JSONValue], usage: Usage?, incomplete: Bool = false,
                         error: APIError? = nil) -> JSONValue {
        let r = request
        let omitted = r.omittedSampling
        var format: JSONValue = .object([("type", "text")])
        switch r.responseFormat {
        case .text: break
        case .jsonObject: format = .object([("type", "json_object")])
        case .jsonSchema(let name, let schema, let strict):
            format = .object([("type", "json_schema"), ("name", .string(name)), ("schema", schema), ("strict", .bool(strict))])
        }
        let toolChoice: JSONValue = switch r.toolChoice {
        case .auto: "auto"
        case .none: "none"
        case .required: "required"
        case .function(let name): .object([("type", "function"), ("name", .string(name))])
        }
        let tools: [JSONValue] = r.tools.map { t in
            var pairs: [(String, JSONValue)] = [("type", "function"), ("name", .string(t.name))]
            pairs.append(("description", t.description.map(JSONValue.string) ?? .null))
            pairs += [("parameters", t.parameters), ("strict", .bool(t.strict))]
            return .object(pairs)
        }
        var pairs: [(String, JSONValue)] = [
            ("id", .string(id)), ("object", "response"), ("created_at", .int(created)), ("status", .string(status)),
            ("background", false),
            ("error", error.map { e in .object([("code", .string(e.code ?? e.type)), ("message", .string(e.message))]) } ?? .null),
            ("incomplete_details", incomplete ? .object([("reason", "max_output_tokens")]) : .null),
            ("instructions", r.responses?.instructions.map(JSONValue.string) ?? .null),
            ("max_output_tokens", r.maxTokens.map { .int(Int64($0)) } ?? .null),
            ("metadata", r.responses?.metadata ?? .object([])),
            ("model", .string(model)), ("output", .array(output)), ("parallel_tool_calls", .bool(r.parallelToolCalls)),
            ("previous_response_id", .null), ("reasoning", .object([("effort", .null), ("summary", .null)])),
            ("store", false),
            // A sampling field the client left out took the model's default: shown as null.
            ("temperature", omitted.contains(.temperature) ? .null : .double(Double(r.sampling.temperature))),
            ("text", .object([("format", format)])), ("tool_choice", toolChoice), ("tools", .array(tools)),
            ("top_logprobs", .int(Int64(r.topLogprobs))),
            ("top_p", omitted.contains(.topP) ? .null : .double(Double(r.sampling.topP))),
            ("truncation", "disabled"), ("usage", usage.map(Self.usage) ?? .null), ("user", r.user.map(JSONValue.string) ?? .null),
        ]
        if status == "in_progress" { pairs.removeAll { $0.0 == "usage" } }
        return .object(pairs)
    }

    /// The whole answer of a non-streamed request.
    public func completed(_ acc: CompletionAccumulator) -> JSONValue {
        let c = acc.choices[0]
        var items: [JSONValue] = []
        if !c.reasoning.isEmpty { items.append(reasoningItem(id: itemID("rs", items.count), text: c.reasoning)) }
        if !c.content.isEmpty || c.toolCalls.isEmpty {
            items.append(messageItem(id: itemID("msg", items.count), text: c.content, logprobs: c.logprobs,
                                     status: c.finishReason == .length ? "incomplete" : "completed"))
        }
        for call in c.toolCalls {
            items.append(functionCallItem(id: itemID("fc", items.count), callID: call.id, name: call.name, arguments: call.arguments,
                                          status: "completed"))
        }
        let incomplete = c.finishReason == .length
        return response(status: incomplete ? "incomplete" : "completed", output: items,
                        usage: acc.usage ?? Usage(completionTokens: acc.deltaCount), incomplete: incomplete)
    }

    func reasoningItem(id: String, text: String) -> JSONValue {
        .object([("type", "reasoning"), ("id", .string(id)), ("summary", .array([])),
                 ("content", .array([.object([("type", "reasoning_text"), ("text", .string(text))])]))])
    }

    func outputText(_ text: String, logprobs: [OpenAITokenLogprob]) -> JSONValue {
        .object([("type", "output_text"), ("text", .string(text)), ("annotations", .array([])),
                 ("logprobs", .array(request.logprobs ? logprobs.map(Self.logprob) : []))])
    }

    func messageItem(id: String, text: String, logprobs: [OpenAITokenLogprob], status: String) -> JSONValue {
        .object([("type", "message"), ("id", .string(id)), ("status", .string(status)), ("role", "assistant"),
                 ("content", .array([outputText(text, logprobs: logprobs)]))])
    }

    func functionCallItem(id: String, callID: String, name: String, arguments: String, status: String) -> JSONValue {
        .object([("type", "function_call"), ("id", .string(id)), ("call_id", .string(callID)), ("name", .string(name)),
                 ("arguments", .string(arguments)), ("status", .string(status))])
    }

    static func logprob(_ t: OpenAITokenLogprob) -> JSONValue {
        func bytes(_ b: [UInt8]?, _ token: String) -> JSONValue { .array((b ?? Array(token.utf8)).map { .int(Int64($0)) }) }
        return .object([
            ("token", .string(t.token)), ("logprob", .double(t.logprob)), ("bytes", bytes(t.bytes, t.token)),
            ("top_logprobs", .array(t.top.map { a in
                .object([("token", .string(a.token)), ("logprob", .double(a.logprob)), ("bytes", bytes(a.bytes, a.token))])
            })),
        ])
    }

    public static func usage(_ u: Usage) -> JSONValue {
        .object([
            ("input_tokens", .int(Int64(u.promptTokens))),
            ("input_tokens_details", .object([("cached_tokens", .int(Int64(u.cachedTokens)))])),
            ("output_tokens", .int(Int64(u.completionTokens))),
            ("output_tokens_details", .object([("reasoning_tokens", .int(Int64(u.reasoningTokens)))])),
            ("total_tokens", .int(Int64(u.totalTokens))),
        ])
    }
}

/// The Responses API's streamed events for one answer, from a backend's `CompletionEvent`s: a pure
/// state machine (no I/O). `begin` gives `response.created` and `response.in_progress`; each
/// delta opens, extends or closes output items (`response.output_item.added`,
/// `response.content_part.added`, `response.output_text.delta`, `response.reasoning_text.delta`,
/// `response.function_call_arguments.delta` and their `.done` events); `end` closes the open item
/// and gives `response.completed` (or `response.incomplete` when `max_output_tokens` ran out, or
/// `response.failed` with the error). Every event carries `type` and a rising `sequence_number`.
public struct ResponsesEventStream: Sendable {
    public let renderer: ResponsesRenderer
    private var sequence = 0
    /// Finished output items, in order.
    public private(set) var output: [JSONValue] = []

    private enum Open: Sendable {
        case none
        case reasoning(id: String, text: String)
        case message(id: String, text: String, logprobs: [OpenAITokenLogprob])
        /// `index`: the call's index among the answer's tool calls (`ToolCallDelta.index`).
        case call(index: Int, id: String, callID: String, name: String, arguments: String)
    }

    private var open = Open.none

    public init(renderer: ResponsesRenderer) {
        self.renderer = renderer
    }

    private mutating func event(_ type: String, _ pairs: [(String, JSONValue)]) -> JSONValue {
        defer { sequence += 1 }
        return .object([("type", .string(type)), ("sequence_number", .int(Int64(sequence)))] + pairs)
    }

    public mutating func begin() -> [JSONValue] {
        let r = renderer.response(status: "in_progress", output: [], usage: nil)
        return [event("response.created", [("response", r)]), event("response.in_progress", [("response", r)])]
    }

    private var outputIndex: JSONValue { .int(Int64(output.count)) }

    /// Events for one delta (choice 0: the Responses API has one answer).
    public mutating func delta(_ d: CompletionDelta) -> [JSONValue] {
        var events: [JSONValue] = []
        if !d.reasoning.isEmpty {
            if case .reasoning(let id, let text) = open {
                open = .reasoning(id: id, text: text + d.reasoning)
            } else {
                events += close()
                let id = renderer.itemID("rs", output.count)
                events.append(event("response.output_item.added", [
                    ("output_index", outputIndex),
                    ("item", .object([("type", "reasoning"), ("id", .string(id)), ("summary", .array([])), ("content", .array([]))])),
                ]))
                open = .reasoning(id: id, text: d.reasoning)
            }
            if case .reasoning(let id, _) = open {
                events.append(event("response.reasoning_text.delta", [
                    ("item_id", .string(id)), ("output_index", outputIndex), ("content_index", 0), ("delta", .string(d.reasoning)),
                ]))
            }
        }
        if !d.content.isEmpty || (!d.logprobs.isEmpty && d.toolCalls.isEmpty) {
            if case .message(let id, let text, let lp) = open {
                open = .message(id: id, text: text + d.content, logprobs: lp + d.logprobs)
            } else {
                events += close()
                events += openMessage(text: d.content, logprobs: d.logprobs)
            }
            if case .message(let id, _, _) = open {
                events.append(event("response.output_text.delta", [
                    ("item_id", .string(id)), ("output_index", outputIndex), ("content_index", 0), ("delta", .string(d.content)),
                    ("logprobs", .array(renderer.request.logprobs ? d.logprobs.map(ResponsesRenderer.logprob) : [])),
                ]))
            }
        }
        for call in d.toolCalls {
            if case .call(let index, let id, let callID, let name, let arguments) = open, index == call.index {
                open = .call(index: index, id: id, callID: call.id ?? callID, name: name + (call.name ?? ""), arguments: arguments + call.arguments)
            } else {
                events += close()
                let id = renderer.itemID("fc", output.count)
                let callID = call.id ?? "call_\(renderer.itemID("", output.count).dropFirst())"
                events.append(event("response.output_item.added", [
                    ("output_index", outputIndex),
                    ("item", renderer.functionCallItem(id: id, callID: callID, name: call.name ?? "", arguments: "", status: "in_progress")),
                ]))
                open = .call(index: call.index, id: id, callID: callID, name: call.name ?? "", arguments: call.arguments)
            }
            if !call.arguments.isEmpty, case .call(_, let id, _, _, _) = open {
                events.append(event("response.function_call_arguments.delta", [
                    ("item_id", .string(id)), ("output_index", outputIndex), ("delta", .string(call.arguments)),
                ]))
            }
        }
        return events
    }

    /// Opens a message item (its `output_item.added` and `content_part.added`) holding `text` so far.
    private mutating func openMessage(text: String, logprobs: [OpenAITokenLogprob]) -> [JSONValue] {
        let id = renderer.itemID("msg", output.count)
        open = .message(id: id, text: text, logprobs: logprobs)
        return [
            event("response.output_item.added", [
                ("output_index", outputIndex),
                ("item", .object([("type", "message"), ("id", .string(id)), ("status", "in_progress"), ("role", "assistant"),
                                  ("content", .array([]))])),
            ]),
            event("response.content_part.added", [
                ("item_id", .string(id)), ("output_index", outputIndex), ("content_index", 0),
                ("part", renderer.outputText("", logprobs: [])),
            ]),
        ]
    }

    /// The `.done` events of the open item, which joins `output`.
    private mutating func close(status: String = "completed") -> [JSONValue] {
        var events: [JSONValue] = []
        let item: JSONValue
        switch open {
        case .none: return []
        case .reasoning(let id, let text):
            events.append(event("response.reasoning_text.done", [
                ("item_id", .string(id)), ("output_index", outputIndex), ("content_index", 0), ("text", .string(text)),
            ]))
            item = renderer.reasoningItem(id: id, text: text)
        case .message(let id, let text, let logprobs):
            let part = renderer.outputText(text, logprobs: logprobs)
            events.append(event("response.output_text.done", [
                ("item_id", .string(id)), ("output_index", outputIndex), ("content_index", 0), ("text", .string(text)),
                ("logprobs", part["logprobs"] ?? .array([])),
            ]))
            events.append(event("response.content_part.done", [
                ("item_id", .string(id)), ("output_index", outputIndex), ("content_index", 0), ("part", part),
            ]))
            item = renderer.messageItem(id: id, text: text, logprobs: logprobs, status: status)
        case .call(_, let id, let callID, let name, let arguments):
            events.append(event("response.function_call_arguments.done", [
                ("item_id", .string(id)), ("output_index", outputIndex), ("name", .string(name)), ("arguments", .string(arguments)),
            ]))
            item = renderer.functionCallItem(id: id, callID: callID, name: name, arguments: arguments, status: "completed")
        }
        events.append(event("response.output_item.done", [("output_index", outputIndex), ("item", item)]))
        output.append(item)
        open = .none
        return events
    }

    /// The last events: the open item's `.done`s, then `response.completed` / `response.incomplete`,
    /// or `response.failed` when `error` is set. An answer with no output at all gets an empty
    /// message item, as a whole response does.
    public mutating func end(finish: OpenAIFinishReason?, usage: Usage?, error: APIError? = nil) -> [JSONValue] {
        let incomplete = error == nil && finish == .length
        var events: [JSONValue] = []
        if error == nil, output.isEmpty, case .none = open {
            events += openMessage(text: "", logprobs: [])
        }
        events += close(status: incomplete ? "incomplete" : "completed")
        if let error {
            events.append(event("response.failed", [("response", renderer.response(status: "failed", output: output, usage: usage, error: error))]))
        } else {
            let status = incomplete ? "incomplete" : "completed"
            events.append(event("response.\(status)", [("response", renderer.response(status: status, output: output, usage: usage,
                                                                                        incomplete: incomplete))]))
        }
        return events
    }
}
