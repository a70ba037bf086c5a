import Foundation
import TandemCore

/// `POST /v1/responses`, the stateless subset: a Responses API body turned into the equivalent
/// chat-completions body, which `RequestValidator` then checks like any chat request, so both
/// endpoints share one set of rules and bounds. Errors name the Responses field
/// (`max_output_tokens`, `text.format.name`, `tools[0].name`, `input[2].content[0].type`).
///
/// Mapping:
///
/// | Responses | chat completions |
/// | --- | --- |
/// | `input` string | one user message |
/// | `input` message items (`role` user/system/developer/assistant, `content` a string or `input_text`/`output_text` parts) | messages |
/// | `function_call` items (`call_id`, `name`, `arguments`) | an assistant message's `tool_calls` (consecutive calls join one message) |
/// | `function_call_output` items (`call_id`, `output`) | `role: tool` messages |
/// | `reasoning` items | not sent to the model (chat templates drop earlier turns' reasoning too) |
/// | `instructions` | a system message before `input` |
/// | `tools` `{type: function, name, description, parameters, strict}` | `tools` `{type: function, function: {...}}` |
/// | `tool_choice` `{type: function, name}` | `{type: function, function: {name}}` |
/// | `text.format` (`text`, `json_object`, `json_schema` with `name`, `schema`, `strict`) | `response_format` |
/// | `max_output_tokens` | `max_completion_tokens` |
/// | `top_logprobs`, `include: ["message.output_text.logprobs"]` | `logprobs`, `top_logprobs` |
///
/// Passed through as in chat completions: `temperature`, `top_p`, `top_k`, `min_p`,
/// `repetition_penalty`, `seed`, `presence_penalty`, `frequency_penalty`, `logit_bias`,
/// `parallel_tool_calls`, `stream`, `user`, `speculative`, `chat_template_kwargs`.
/// Accepted when they ask for nothing Tandem lacks: `store` (false), `previous_response_id`
/// (null: Tandem keeps no responses, so the client sends the whole conversation), `truncation`
/// (`disabled`), `reasoning` (null or empty), `text.verbosity` (null), `metadata` (echoed).
/// Anything else is refused with a 400 naming it.
public enum ResponsesRequest {
    /// Top-level fields a `/v1/responses` request may carry (also in `gateway/openapi.yaml`).
    public static let acceptedFields: Set<String> = [
        "model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text", "temperature", "top_p",
        "top_k", "min_p", "repetition_penalty", "seed", "presence_penalty", "frequency_penalty", "logit_bias",
        "max_output_tokens", "stream", "user", "speculative", "chat_template_kwargs", "top_logprobs", "include",
        "metadata", "store", "previous_response_id", "truncation", "reasoning",
    ]

    /// Chat fields whose meaning and name are the same in both APIs.
    static let passedThrough = [
        "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "seed", "presence_penalty", "frequency_penalty",
        "logit_bias", "parallel_tool_calls", "stream", "user", "speculative", "chat_template_kwargs",
    ]

    /// The validated request (endpoint `.responses`), or a 400 naming the Responses field.
    public static func validate(_ body: JSONValue) throws(APIError) -> CompletionRequest {
        guard case .object(let pairs) = body else {
            throw .invalidField("", "The request body must be a JSON object, got \(body.typeName).", code: "invalid_type")
        }
        for (key, _) in pairs where !acceptedFields.contains(key) {
            let shown = key.utf8.count <= 64 ? key : String(key.prefix(64)) + "…"
            throw .invalidField(shown, "Unrecognized request argument '\(shown)': Tandem refuses fields it does not honour.", code: "unknown_parameter")
        }
        let fields = FieldReader(body)
        try unservedOptions(fields)
        var chat: [(String, JSONValue)] = []
        if let model = fields.value("model") { chat.append(("model", model)) }
        let instructions = try RequestValidator.bounded(try fields.string("instructions"), "instructions", RequestValidator.maxMessageBytes)
        var messages: [JSONValue] = []
        if let instructions { messages.append(.object([("role", "system"), ("content", .string(instructions))])) }
        messages += try inputMessages(fields)
        chat.append(("messages", .array(messages)))
        for key in passedThrough { if let v = fields.value(key) { chat.append((key, v)) } }
        if let v = fields.value("max_output_tokens") { chat.append(("max_completion_tokens", v)) }
        if let tools = try fields.array("tools") { chat.append(("tools", .array(try self.tools(tools)))) }
        if let choice = fields.value("tool_choice") { chat.append(("tool_choice", try toolChoice(choice))) }
        if let format = try textFormat(fields) { chat.append(("response_format", format)) }
        let logprobs = try includesLogprobs(fields)
        if let top = fields.value("top_logprobs") {
            chat.append(("logprobs", true))
            chat.append(("top_logprobs", top))
        } else if logprobs {
            chat.append(("logprobs", true))
        }
        let metadata = try self.metadata(fields)
        var request: CompletionRequest
        do {
            request = try RequestValidator.validate(.object(chat), endpoint: .chatCompletions)
        } catch {
            throw renamed(error)
        }
        request.endpoint = .responses
        request.responses = CompletionRequest.ResponsesOptions(instructions: instructions, metadata: metadata)
        return request
    }

    /// `store`, `previous_response_id`, `truncation`, `reasoning`: accepted only where they ask for
    /// what a stateless server does anyway.
    static func unservedOptions(_ fields: FieldReader) throws(APIError) {
        if try fields.bool("store") == true {
            throw .invalidField("store", "'store' must be false: Tandem keeps no responses.", code: "unsupported_value")
        }
        if try fields.string("previous_response_id") != nil {
            throw .invalidField("previous_response_id", "'previous_response_id' is not supported: Tandem keeps no responses, so send the whole conversation in 'input'.", code: "unsupported_parameter")
        }
        if let t = try fields.string("truncation"), t != "disabled" {
            throw .invalidField("truncation", "'truncation' must be 'disabled': Tandem does not drop parts of the input.", code: "unsupported_value")
        }
        if let r = try fields.object("reasoning"), case .object(let pairs) = r.object,
           let (key, _) = pairs.first(where: { !$0.1.isNull }) {
            throw .invalidField(r.name(key), "'\(r.name(key))' is not supported: pass the model's own template variables in 'chat_template_kwargs'.", code: "unsupported_parameter")
        }
    }

    /// `include`: only `message.output_text.logprobs` (whether to return log-probabilities).
    static func includesLogprobs(_ fields: FieldReader) throws(APIError) -> Bool {
        guard let items = try fields.array("include") else { return false }
        var logprobs = false
        for (i, item) in items.enumerated() {
            guard item.stringValue == "message.output_text.logprobs" else {
                throw .invalidField("include[\(i)]", "'include[\(i)]' must be 'message.output_text.logprobs', the only extra output Tandem has.", code: "unsupported_value")
            }
            logprobs = true
        }
        return logprobs
    }

    /// `metadata`: at most 16 pairs of strings (keys up to 64 bytes, values up to 512).
    static func metadata(_ fields: FieldReader) throws(APIError) -> JSONValue {
        guard let m = try fields.object("metadata"), case .object(let pairs) = m.object else { return .object([]) }
        guard pairs.count <= 16 else { throw .invalidField("metadata", "'metadata' holds \(pairs.count) pairs; at most 16 are accepted.") }
        for (key, value) in pairs {
            guard key.utf8.count <= 64, let s = value.stringValue, s.utf8.count <= 512 else {
                throw .invalidField(m.name(key), "'metadata' maps keys of at most 64 bytes to strings of at most 512 bytes.")
            }
        }
        return m.object
    }

    // MARK: input

    /// `input` as chat messages.
    static func inputMessages(_ fields: FieldReader) throws(APIError) -> [JSONValue] {
        guard let input = fields.value("input") else {
            throw .invalidField("input", "'input' is required.", code: "missing_required_parameter")
        }
        switch input {
        case .string(let text):
            return [.object([("role", "user"), ("content", .string(text))])]
        case .array(let items):
            guard !items.isEmpty else { throw .invalidField("input", "'input' must hold at least one item.") }
            guard items.count <= RequestValidator.maxMessages else {
                throw .invalidField("input", "'input' holds \(items.count) items; at most \(RequestValidator.maxMessages) are accepted.", code: "too_many_messages")
            }
            var messages: [(role: String, pairs: [(String, JSONValue)], calls: [JSONValue])] = []
            for (i, item) in items.enumerated() {
                let it = FieldReader(item, path: "input[\(i)]")
                guard case .object = item else {
                    throw .invalidField(it.path, "'\(it.path)' must be an object, got \(item.typeName).", code: "invalid_type")
                }
                switch try it.string("type") ?? "message" {
                case "message":
                    try onlyKeys(it, ["type", "role", "content", "id", "status"])
                    guard let role = try it.string("role") else {
                        throw .invalidField(it.name("role"), "'\(it.name("role"))' is required.", code: "missing_required_parameter")
                    }
                    guard ["user", "system", "developer", "assistant"].contains(role) else {
                        throw .invalidField(it.name("role"), "'\(it.name("role"))' must be one of user, system, developer, assistant; got '\(role)'.")
                    }
                    messages.append((role, [("role", .string(role)), ("content", .string(try content(it)))], []))
                case "function_call":
                    try onlyKeys(it, ["type", "id", "call_id", "name", "arguments", "status"])
                    let call: JSONValue = .object([
                        ("id", .string(try required(it, "call_id"))), ("type", "function"),
                        ("function", .object([("name", .string(try required(it, "name"))), ("arguments", .string(try required(it, "arguments")))])),
                    ])
                    // Calls made in one turn (consecutive items) are one assistant message.
                    if let last = messages.last, last.role == "assistant" {
                        messages[messages.count - 1].calls.append(call)
                    } else {
                        messages.append(("assistant", [("role", "assistant"), ("content", "")], [call]))
                    }
                case "function_call_output":
                    try onlyKeys(it, ["type", "id", "call_id", "output", "status"])
                    let output: String
                    switch it.value("output") {
                    case .string(let s)?: output = s
                    case .array?: output = try content(it, key: "output")
                    case let v?: throw it.typeError("output", expected: "a string or an array of input_text parts", got: v)
                    case nil: throw .invalidField(it.name("output"), "'\(it.name("output"))' is required.", code: "missing_required_parameter")
                    }
                    messages.append(("tool", [("role", "tool"), ("tool_call_id", .string(try required(it, "call_id"))), ("content", .string(output))], []))
                case "reasoning":
                    try onlyKeys(it, ["type", "id", "summary", "content", "encrypted_content", "status"])
                case let other:
                    throw .invalidField(it.name("type"), "'\(it.name("type"))' must be message, function_call, function_call_output or reasoning; got '\(other)' (Tandem keeps no items to reference).", code: "unsupported_value")
                }
            }
            return messages.map { m in
                .object(m.calls.isEmpty ? m.pairs : m.pairs + [("tool_calls", .array(m.calls))])
            }
        default:
            throw fields.typeError("input", expected: "a string or an array of items", got: input)
        }
    }

    static func required(_ it: FieldReader, _ key: String) throws(APIError) -> String {
        guard let s = try RequestValidator.bounded(try it.string(key), it.name(key), RequestValidator.maxMessageBytes) else {
            throw .invalidField(it.name(key), "'\(it.name(key))' is required.", code: "missing_required_parameter")
        }
        return s
    }

    /// Refuses keys of an item outside `keys`.
    static func onlyKeys(_ it: FieldReader, _ keys: Set<String>) throws(APIError) {
        guard case .object(let pairs) = it.object else { return }
        for (key, _) in pairs where !keys.contains(key) {
            let shown = key.utf8.count <= 64 ? key : String(key.prefix(64)) + "…"
            throw .invalidField(it.name(shown), "Unknown parameter '\(it.name(shown))'.", code: "unknown_parameter")
        }
    }

    /// A message's `content`: a string, or text parts (`input_text`, `output_text`) joined.
    static func content(_ it: FieldReader, key: String = "content") throws(APIError) -> String {
        guard let value = it.value(key) else {
            throw .invalidField(it.name(key), "'\(it.name(key))' is required.", code: "missing_required_parameter")
        }
        switch value {
        case .string(let s): return s
        case .array(let parts):
            guard parts.count <= RequestValidator.maxContentParts else {
                throw .invalidField(it.name(key), "'\(it.name(key))' has \(parts.count) parts; at most \(RequestValidator.maxContentParts) are accepted.")
            }
            var text = ""
            for (j, part) in parts.enumerated() {
                let p = FieldReader(part, path: "\(it.name(key))[\(j)]")
                guard case .object = part else {
                    throw .invalidField(p.path, "'\(p.path)' must be an object, got \(part.typeName).", code: "invalid_type")
                }
                let type = try p.string("type")
                guard type == "input_text" || type == "output_text" else {
                    throw .invalidField(p.name("type"), "'\(p.name("type"))' must be input_text or output_text (Tandem's models read text only); got '\(type ?? "nothing")'.", code: "unsupported_value")
                }
                try onlyKeys(p, ["type", "text", "annotations", "logprobs"])
                guard let t = try p.string("text") else {
                    throw .invalidField(p.name("text"), "'\(p.name("text"))' is required.", code: "missing_required_parameter")
                }
                text += t
            }
            return text
        default:
            throw it.typeError(key, expected: "a string or an array of content parts", got: value)
        }
    }

    // MARK: tools and output format

    /// Responses' flat function tools as chat tools.
    static func tools(_ items: [JSONValue]) throws(APIError) -> [JSONValue] {
        var out: [JSONValue] = []
        for (i, item) in items.enumerated() {
            let t = FieldReader(item, path: "tools[\(i)]")
            guard case .object(let pairs) = item else { throw .invalidField(t.path, "'\(t.path)' must be an object.", code: "invalid_type") }
            guard let type = try t.string("type"), type == "function" else {
                throw .invalidField(t.name("type"), "'\(t.name("type"))' must be 'function': Tandem runs no hosted tools.", code: "unsupported_value")
            }
            try onlyKeys(t, ["type", "name", "description", "parameters", "strict"])
            out.append(.object([("type", "function"), ("function", .object(pairs.filter { $0.0 != "type" }))]))
        }
        return out
    }

    static func toolChoice(_ choice: JSONValue) throws(APIError) -> JSONValue {
        switch choice {
        case .string: return choice
        case .object:
            let c = FieldReader(choice, path: "tool_choice")
            guard try c.string("type") == "function", let name = try c.string("name") else {
                throw .invalidField("tool_choice", "'tool_choice' must be auto, none, required or {\"type\": \"function\", \"name\": ...}.")
            }
            return .object([("type", "function"), ("function", .object([("name", .string(name))]))])
        default:
            throw .invalidField("tool_choice", "'tool_choice' must be auto, none, required or {\"type\": \"function\", \"name\": ...}.")
        }
    }

    /// `text.format` as a chat `response_format` (nil: plain text).
    static func textFormat(_ fields: FieldReader) throws(APIError) -> JSONValue? {
        guard let text = try fields.object("text") else { return nil }
        try onlyKeys(text, ["format", "verbosity"])
        if try text.string("verbosity") != nil {
            throw .invalidField(text.name("verbosity"), "'text.verbosity' is not supported.", code: "unsupported_parameter")
        }
        guard let format = try text.object("format") else { return nil }
        switch try format.string("type") {
        case "text"?, "json_object"?:
            try onlyKeys(format, ["type"])
            return format.object
        case "json_schema"?:
            try onlyKeys(format, ["type", "name", "schema", "description", "strict"])
            guard format.value("schema") != nil else {
                throw .invalidField(format.name("schema"), "'text.format.schema' is required for type json_schema.", code: "missing_required_parameter")
            }
            var spec: [(String, JSONValue)] = []
            for key in ["name", "schema", "description", "strict"] { if let v = format.value(key) { spec.append((key, v)) } }
            return .object([("type", "json_schema"), ("json_schema", .object(spec))])
        case let other:
            throw .invalidField(format.name("type"), "'text.format.type' must be one of text, json_object, json_schema; got '\(other ?? "nothing")'.")
        }
    }

    /// A chat validator's error with the chat field names put back as the Responses names.
    static func renamed(_ error: APIError) -> APIError {
        var e = error
        let names = [
            ("response_format.json_schema.", "text.format."), ("response_format", "text.format"),
            ("max_completion_tokens", "max_output_tokens"), ("tool_choice.function.name", "tool_choice.name"),
        ]
        func rename(_ s: String) -> String {
            var s = s
            for (from, to) in names { s = s.replacingOccurrences(of: from, with: to) }
            // tools[i].function.x → tools[i].x; messages[...] → input (instructions come first).
            s = s.replacingOccurrences(of: ".function.", with: ".").replacingOccurrences(of: ".function'", with: "'")
            return s.replacingOccurrences(of: "'messages'", with: "'input'")
        }
        e.param = e.param.map { $0.hasPrefix("messages") ? "input" : rename($0) }
        e.message = rename(e.message)
        return e
    }
}
