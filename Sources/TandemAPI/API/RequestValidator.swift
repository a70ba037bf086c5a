import TandemCore

/// Turns a parsed request body into a `CompletionRequest`, or a 400 that names the field.
///
/// Follows OpenAI's rules: `null` means "not given", ranges are OpenAI's (vLLM's for `top_k`,
/// `min_p`, `repetition_penalty`). A field outside `acceptedFields` and features Tandem does not
/// serve (`suffix`, `best_of` above 1, the legacy `functions`) are refused rather than silently
/// dropped.
///
/// Everything a client controls is bounded (400 naming the field above the bound):
///
/// | field | bound |
/// | --- | --- |
/// | `model`, `user`, `messages[i].name` | 256 bytes |
/// | `messages` | 1024 messages |
/// | `messages[i].content` | 512 KiB (all its parts together), at most 256 parts |
/// | `prompt` | 512 KiB of text, or 131072 token ids |
/// | `stop` | 4 sequences of at most 256 bytes each |
/// | `logit_bias` | 1024 entries |
/// | `n` | 16 |
/// | `tools`, an assistant message's `tool_calls` | 128 |
/// | `guided_regex` | 16 KiB |
/// | `grammar`, `guided_grammar` | 64 KiB |
/// | `guided_choice` | 256 strings of at most 1 KiB |
/// | `response_format.json_schema.name` | 64 bytes |
///
/// The body size, header sizes, content type and nesting depth are bounded before this runs
/// (`ServerLimits`, `RequestBounds`).
public enum RequestValidator {
    /// Largest accepted `max_tokens`.
    public static let maxTokensLimit: Int64 = 1_000_000
    public static let maxNameBytes = 256
    public static let maxMessages = 1024
    public static let maxMessageBytes = 512 << 10
    public static let maxContentParts = 256
    public static let maxPromptTokenIDs = 131_072
    public static let maxStopSequences = 4
    public static let maxStopBytes = 256
    /// Largest `n`.
    public static let maxChoicesPerRequest = 16

    /// Refuses a string field longer than `limit` bytes.
    static func bounded(_ value: String?, _ param: String, _ limit: Int) throws(APIError) -> String? {
        if let value, value.utf8.count > limit {
            throw .invalidField(param, "'\(param)' is \(value.utf8.count) bytes; at most \(limit) are accepted.", code: "value_too_long")
        }
        return value
    }

    public static func validate(_ body: JSONValue, endpoint: CompletionRequest.Endpoint) throws(APIError) -> CompletionRequest {
        if endpoint == .responses { return try ResponsesRequest.validate(body) }
        guard case .object = body else {
            throw .invalidField("", "The request body must be a JSON object, got \(body.typeName).", code: "invalid_type")
        }
        let fields = FieldReader(body)
        guard let model = try fields.string("model") else {
            throw .invalidField("model", "'model' is required.", code: "missing_required_parameter")
        }
        guard !model.isEmpty else { throw .invalidField("model", "'model' must not be empty.") }
        _ = try bounded(model, "model", maxNameBytes)

        let input: CompletionRequest.Input
        switch endpoint {
        case .chatCompletions, .responses: input = .chat(try messages(fields))
        case .completions: input = try prompt(fields)
        }

        var request = CompletionRequest(endpoint: endpoint, model: model, input: input)
        try unknownFields(fields, endpoint: endpoint)
        try sampling(fields, into: &request)
        if let seed = try fields.integer("seed", in: Int64.min...Int64.max) {
            request.sampling.seed = UInt64(bitPattern: seed)
        }
        request.presencePenalty = Float(try fields.number("presence_penalty", in: -2...2) ?? 0)
        request.frequencyPenalty = Float(try fields.number("frequency_penalty", in: -2...2) ?? 0)
        request.n = Int(try fields.integer("n", in: 1...Int64(maxChoicesPerRequest)) ?? 1)
        request.speculative = try fields.bool("speculative") ?? true
        request.prediction = try prediction(fields)
        // max_completion_tokens supersedes the deprecated max_tokens.
        let maxCompletion = try fields.integer("max_completion_tokens", in: 1...maxTokensLimit)
        let maxTokens = try fields.integer("max_tokens", in: 1...maxTokensLimit)
        request.maxTokens = (maxCompletion ?? maxTokens).map { Int($0) }
        request.stop = try stop(fields)
        try logprobs(fields, endpoint: endpoint, into: &request)
        request.responseFormat = try responseFormat(fields)
        request.guided = try guided(fields, responseFormat: request.responseFormat)
        if endpoint.isChat {
            try tools(fields, into: &request)
            request.chatTemplateKwargs = try chatTemplateKwargs(fields)
        } else {
            for key in ["tools", "tool_choice", "functions", "function_call"] where fields.value(key).map({ !$0.isNull }) ?? false {
                throw .invalidField(key, "'\(key)' is for /v1/chat/completions.", code: "unsupported_parameter")
            }
        }
        if (request.toolChoice == .required || { if case .function = request.toolChoice { true } else { false } }()),
           request.guided != nil || request.responseFormat.requiresJSON {
            throw .invalidField("tool_choice", "A required tool call cannot be combined with another output constraint.", code: "conflicting_parameters")
        }
        request.stream = try fields.bool("stream") ?? false
        if let options = try fields.object("stream_options") {
            guard request.stream else {
                throw .invalidField("stream_options", "'stream_options' is only allowed when 'stream' is true.")
            }
            request.includeUsage = try options.bool("include_usage") ?? false
        }
        request.user = try bounded(try fields.string("user"), "user", maxNameBytes)
        try unsupported(fields, endpoint: endpoint, into: &request)
        return request
    }

    static func messages(_ fields: FieldReader) throws(APIError) -> [ChatMessage] {
        guard let items = try fields.array("messages") else {
            throw .invalidField("messages", "'messages' is required.", code: "missing_required_parameter")
        }
        guard !items.isEmpty else { throw .invalidField("messages", "'messages' must contain at least one message.") }
        guard items.count <= maxMessages else {
            throw .invalidField("messages", "'messages' holds \(items.count) messages; at most \(maxMessages) are accepted.", code: "too_many_messages")
        }
        var messages: [ChatMessage] = []
        messages.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            let path = "messages[\(i)]"
            guard case .object = item else {
                throw .invalidField(path, "'\(path)' must be an object, got \(item.typeName).", code: "invalid_type")
            }
            let m = FieldReader(item, path: path)
            guard let roleName = try m.string("role") else {
                throw .invalidField(m.name("role"), "'\(m.name("role"))' is required.", code: "missing_required_parameter")
            }
            let role: ChatMessage.Role
            switch roleName {
            case "developer": role = .system
            default:
                guard let r = ChatMessage.Role(rawValue: roleName) else {
                    throw .invalidField(m.name("role"), "'\(m.name("role"))' must be one of system, developer, user, assistant, tool; got '\(roleName)'.")
                }
                role = r
            }
            var toolCalls: [ChatMessage.ToolCall] = []
            if let calls = try m.array("tool_calls"), !calls.isEmpty {
                guard role == .assistant else {
                    throw .invalidField(m.name("tool_calls"), "'\(m.name("tool_calls"))' is allowed on assistant messages only.")
                }
                toolCalls = try messageToolCalls(calls, path: m.name("tool_calls"))
            }
            var toolCallID: String?
            if role == .tool {
                guard let id = try bounded(try m.string("tool_call_id"), m.name("tool_call_id"), maxNameBytes) else {
                    throw .invalidField(m.name("tool_call_id"), "'\(m.name("tool_call_id"))' is required for role 'tool'.", code: "missing_required_parameter")
                }
                toolCallID = id
            }
            let content = try bounded(try messageContent(m), m.name("content"), maxMessageBytes)
            if content == nil, role != .assistant {
                throw .invalidField(m.name("content"), "'\(m.name("content"))' is required for role '\(roleName)'.", code: "missing_required_parameter")
            }
            messages.append(ChatMessage(role: role, content: content ?? "", name: try bounded(try m.string("name"), m.name("name"), maxNameBytes),
                                        toolCalls: toolCalls, toolCallID: toolCallID))
        }
        return messages
    }

    /// An assistant message's `tool_calls`: `{id, type: "function", function: {name, arguments}}`.
    static func messageToolCalls(_ calls: [JSONValue], path: String) throws(APIError) -> [ChatMessage.ToolCall] {
        guard calls.count <= maxTools else {
            throw .invalidField(path, "'\(path)' holds \(calls.count) calls; at most \(maxTools) are accepted.")
        }
        var out: [ChatMessage.ToolCall] = []
        for (i, call) in calls.enumerated() {
            let c = FieldReader(call, path: "\(path)[\(i)]")
            guard case .object = call else { throw .invalidField(c.path, "'\(c.path)' must be an object.", code: "invalid_type") }
            if let type = try c.string("type"), type != "function" {
                throw .invalidField(c.name("type"), "'\(c.name("type"))' must be 'function'.", code: "unsupported_value")
            }
            guard let function = try c.object("function"), let name = try function.string("name") else {
                throw .invalidField(c.name("function"), "'\(c.name("function"))' with a 'name' is required.", code: "missing_required_parameter")
            }
            let arguments = try bounded(try function.string("arguments"), function.name("arguments"), maxMessageBytes) ?? "{}"
            out.append(ChatMessage.ToolCall(id: try bounded(try c.string("id"), c.name("id"), maxNameBytes) ?? "call_\(i)",
                                            name: try bounded(name, function.name("name"), maxNameBytes)!, arguments: arguments))
        }
        return out
    }

    public static let maxTools = 128

    /// vLLM's `chat_template_kwargs`: further variables for the model's own chat template (e.g.
    /// `{"enable_thinking": false}` for Qwen3). The conversation's own variables cannot be
    /// replaced through it.
    static func chatTemplateKwargs(_ fields: FieldReader) throws(APIError) -> JSONValue {
        guard let kw = try fields.object("chat_template_kwargs") else { return .object([]) }
        let pairs = kw.object.objectPairs
        guard pairs.count <= 32 else { throw .invalidField(kw.path, "'\(kw.path)' holds \(pairs.count) entries; at most 32 are accepted.") }
        for (key, _) in pairs {
            if ["messages", "tools", "add_generation_prompt", "bos_token", "eos_token", "documents"].contains(key) {
                throw .invalidField(kw.name(key), "'\(kw.name(key))' is set from the request itself and cannot be passed here.", code: "unsupported_parameter")
            }
            guard !key.isEmpty, key.utf8.count <= 64, key.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }) else {
                throw .invalidField(kw.path, "'\(kw.path)' keys must be template variable names (a-z, A-Z, 0-9, _).")
            }
        }
        guard JSONWriter.string(kw.object).utf8.count <= maxMessageBytes else {
            throw .invalidField(kw.path, "'\(kw.path)' is larger than \(maxMessageBytes) bytes.")
        }
        return kw.object
    }

    /// OpenAI's `prediction`: `{"type": "content", "content": "text" | [{"type": "text", "text": …}]}`.
    static func prediction(_ fields: FieldReader) throws(APIError) -> String? {
        guard let p = try fields.object("prediction") else { return nil }
        guard try p.string("type") == "content" else {
            throw .invalidField(p.name("type"), "'\(p.name("type"))' must be \"content\".")
        }
        for (key, _) in p.object.objectPairs where key != "type" && key != "content" {
            throw .invalidField(p.name(key), "Unknown parameter '\(p.name(key))'.", code: "unknown_parameter")
        }
        let text: String
        switch p.value("content") {
        case .string(let s)?: text = s
        case .array(let parts)?:
            var joined = ""
            for (i, part) in parts.enumerated() {
                let at = "\(p.name("content"))[\(i)]"
                guard case .object = part, part["type"]?.stringValue == "text", let t = part["text"]?.stringValue else {
                    throw .invalidField(at, "'\(at)' must be {\"type\": \"text\", \"text\": \"...\"}.")
                }
                joined += t
            }
            text = joined
        default:
            throw .invalidField(p.name("content"), "'\(p.name("content"))' must be a string or an array of text parts.")
        }
        return try bounded(text, p.name("content"), maxMessageBytes)
    }

    /// `tools`, `tool_choice`, `parallel_tool_calls`; the legacy `functions`/`function_call` are
    /// refused with a pointer to `tools`.
    static func tools(_ fields: FieldReader, into request: inout CompletionRequest) throws(APIError) {
        for key in ["functions", "function_call"] where fields.value(key).map({ !$0.isNull }) ?? false {
            throw .invalidField(key, "'\(key)' is deprecated and not supported: send 'tools' and 'tool_choice'.", code: "unsupported_parameter")
        }
        let items = try fields.array("tools") ?? []
        guard items.count <= maxTools else {
            throw .invalidField("tools", "'tools' holds \(items.count) tools; at most \(maxTools) are accepted.")
        }
        var tools: [ToolDefinition] = []
        for (i, item) in items.enumerated() {
            let t = FieldReader(item, path: "tools[\(i)]")
            guard case .object = item else { throw .invalidField(t.path, "'\(t.path)' must be an object.", code: "invalid_type") }
            guard try t.string("type") == "function" else {
                throw .invalidField(t.name("type"), "'\(t.name("type"))' must be 'function'.", code: "unsupported_value")
            }
            guard let f = try t.object("function"), let name = try f.string("name") else {
                throw .invalidField(t.name("function"), "'\(t.name("function"))' with a 'name' is required.", code: "missing_required_parameter")
            }
            guard !name.isEmpty, name.utf8.count <= 64,
                  name.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F || $0 == 0x2D }) else {
                throw .invalidField(f.name("name"), "'\(f.name("name"))' must be 1 to 64 characters of a-z, A-Z, 0-9, _ and -.")
            }
            guard !tools.contains(where: { $0.name == name }) else {
                throw .invalidField(f.name("name"), "Tool '\(name)' is defined twice.")
            }
            var parameters: JSONValue = ["type": "object", "properties": [:]]
            if let p = try f.object("parameters") { parameters = p.object }
            tools.append(ToolDefinition(name: name, description: try bounded(try f.string("description"), f.name("description"), maxMessageBytes),
                                        parameters: parameters, strict: try f.bool("strict") ?? false))
        }
        request.tools = tools
        request.parallelToolCalls = try fields.bool("parallel_tool_calls") ?? true
        guard let choice = fields.value("tool_choice"), !choice.isNull else {
            request.toolChoice = tools.isEmpty ? .none : .auto
            return
        }
        switch choice {
        case .string("auto"): request.toolChoice = .auto
        case .string("none"): request.toolChoice = .none
        case .string("required"): request.toolChoice = .required
        case .object:
            let c = FieldReader(choice, path: "tool_choice")
            guard try c.string("type") == "function", let f = try c.object("function"), let name = try f.string("name") else {
                throw .invalidField("tool_choice", "'tool_choice' must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": ...}}.")
            }
            guard tools.contains(where: { $0.name == name }) else {
                throw .invalidField("tool_choice.function.name", "'tool_choice' names '\(name)', which is not among 'tools'.")
            }
            request.toolChoice = .function(name)
        default:
            throw .invalidField("tool_choice", "'tool_choice' must be auto, none, required or {\"type\": \"function\", \"function\": {\"name\": ...}}.")
        }
        if tools.isEmpty, request.toolChoice != .none {
            throw .invalidField("tool_choice", "'tool_choice' needs 'tools'.")
        }
    }

    /// A string, or an array of `{"type": "text", "text": ...}` parts joined together.
    static func messageContent(_ m: FieldReader) throws(APIError) -> String? {
        guard let value = m.value("content") else { return nil }
        switch value {
        case .string(let s): return s
        case .array(let parts):
            guard parts.count <= maxContentParts else {
                throw .invalidField(m.name("content"), "'\(m.name("content"))' has \(parts.count) parts; at most \(maxContentParts) are accepted.")
            }
            var text = ""
            for (j, part) in parts.enumerated() {
                let path = "\(m.name("content"))[\(j)]"
                guard case .object = part else {
                    throw .invalidField(path, "'\(path)' must be an object, got \(part.typeName).", code: "invalid_type")
                }
                let p = FieldReader(part, path: path)
                guard let type = try p.string("type") else {
                    throw .invalidField(p.name("type"), "'\(p.name("type"))' is required.", code: "missing_required_parameter")
                }
                guard type == "text" else {
                    throw .invalidField(p.name("type"), "Only 'text' content parts are supported, got '\(type)'.", code: "unsupported_value")
                }
                guard let t = try p.string("text") else {
                    throw .invalidField(p.name("text"), "'\(p.name("text"))' is required.", code: "missing_required_parameter")
                }
                text += t
            }
            return text
        default:
            throw m.typeError("content", expected: "a string or an array of content parts", got: value)
        }
    }

    /// `prompt`: a string, a one-element array of strings, an array of token ids, or a one-element
    /// array of such arrays.
    static func prompt(_ fields: FieldReader) throws(APIError) -> CompletionRequest.Input {
        guard let value = fields.value("prompt") else {
            throw .invalidField("prompt", "'prompt' is required.", code: "missing_required_parameter")
        }
        switch value {
        case .string(let s): return .text(try bounded(s, "prompt", maxMessageBytes)!)
        case .array(let items):
            if items.isEmpty { throw .invalidField("prompt", "'prompt' must not be an empty array.") }
            if items.count == 1, let s = items[0].stringValue { _ = try bounded(s, "prompt[0]", maxMessageBytes) }
            if items.allSatisfy({ $0.stringValue != nil }) {
                guard items.count == 1 else {
                    throw .invalidField("prompt", "Only one prompt per request is supported, got \(items.count).", code: "unsupported_value")
                }
                return .text(items[0].stringValue!)
            }
            if items.allSatisfy({ if case .int = $0 { true } else { false } }) {
                return .tokens(try tokenIDs(items, path: "prompt"))
            }
            if items.count == 1, case .array(let inner) = items[0], !inner.isEmpty {
                return .tokens(try tokenIDs(inner, path: "prompt[0]"))
            }
            throw .invalidField("prompt", "'prompt' must be a string, an array with one string, or an array of token ids.", code: "invalid_type")
        default:
            throw fields.typeError("prompt", expected: "a string or an array", got: value)
        }
    }

    static func tokenIDs(_ items: [JSONValue], path: String) throws(APIError) -> [TokenID] {
        guard items.count <= maxPromptTokenIDs else {
            throw .invalidField(path, "'\(path)' holds \(items.count) token ids; at most \(maxPromptTokenIDs) are accepted.")
        }
        var ids: [TokenID] = []
        ids.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard let v = item.intValue, v >= 0, v <= Int64(TokenID.max) else {
                throw .invalidField("\(path)[\(i)]", "'\(path)[\(i)]' must be a token id (a non-negative integer).")
            }
            ids.append(TokenID(v))
        }
        return ids
    }

    static func stop(_ fields: FieldReader) throws(APIError) -> [String] {
        guard let value = fields.value("stop") else { return [] }
        let items: [JSONValue]
        switch value {
        case .string: items = [value]
        case .array(let a): items = a
        default: throw fields.typeError("stop", expected: "a string or an array of strings", got: value)
        }
        guard items.count <= maxStopSequences else {
            throw .invalidField("stop", "'stop' may hold at most \(maxStopSequences) sequences, got \(items.count).")
        }
        var result: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = item.stringValue else {
                throw .invalidField("stop[\(i)]", "'stop[\(i)]' must be a string, got \(item.typeName).", code: "invalid_type")
            }
            guard !s.isEmpty else { throw .invalidField("stop", "Stop sequences must not be empty.") }
            _ = try bounded(s, value.stringValue != nil ? "stop" : "stop[\(i)]", maxStopBytes)
            result.append(s)
        }
        return result
    }

    static func logprobs(_ fields: FieldReader, endpoint: CompletionRequest.Endpoint,
                         into request: inout CompletionRequest) throws(APIError) {
        switch endpoint {
        case .chatCompletions, .responses:
            request.logprobs = try fields.bool("logprobs") ?? false
            if let top = try fields.integer("top_logprobs", in: 0...20) {
                guard request.logprobs else {
                    throw .invalidField("top_logprobs", "'top_logprobs' requires 'logprobs' to be true.")
                }
                request.topLogprobs = Int(top)
            }
        case .completions:
            // In the legacy API `logprobs` is the number of alternatives (0...5).
            if let n = try fields.integer("logprobs", in: 0...5) {
                request.logprobs = true
                request.topLogprobs = Int(n)
            }
        }
    }

    static func responseFormat(_ fields: FieldReader) throws(APIError) -> ResponseFormat {
        guard let format = try fields.object("response_format") else { return .text }
        guard let type = try format.string("type") else {
            throw .invalidField(format.name("type"), "'response_format.type' is required.", code: "missing_required_parameter")
        }
        switch type {
        case "text": return .text
        case "json_object": return .jsonObject
        case "json_schema":
            guard let spec = try format.object("json_schema") else {
                throw .invalidField(format.name("json_schema"), "'response_format.json_schema' is required for type json_schema.", code: "missing_required_parameter")
            }
            guard let name = try spec.string("name"), !name.isEmpty else {
                throw .invalidField(spec.name("name"), "'response_format.json_schema.name' is required.", code: "missing_required_parameter")
            }
            _ = try bounded(name, spec.name("name"), 64)
            let schema = try spec.object("schema")?.object ?? .object([])
            return .jsonSchema(name: name, schema: schema, strict: try spec.bool("strict") ?? false)
        default:
            throw .invalidField(format.name("type"), "'response_format.type' must be one of text, json_object, json_schema; got '\(type)'.")
        }
    }

    public static let maxRegexBytes = 16 << 10
    public static let maxGrammarBytes = 64 << 10
    public static let maxChoices = 256

    /// The extension constraint fields (vLLM's `guided_*`, llama.cpp's `grammar`): at most one,
    /// and not beside a JSON `response_format`.
    static func guided(_ fields: FieldReader, responseFormat: ResponseFormat) throws(APIError) -> GuidedDecoding? {
        var found: [GuidedDecoding] = []
        if let v = fields.value("guided_json") {
            switch v {
            case .object: found.append(.json(v))
            case .string(let text):
                guard let parsed = try? JSONValue.parse(text), case .object = parsed else {
                    throw .invalidField("guided_json", "'guided_json' must be a JSON Schema object (or its JSON text).")
                }
                found.append(.json(parsed))
            default: throw fields.typeError("guided_json", expected: "a JSON Schema object", got: v)
            }
        }
        if let r = try bounded(try fields.string("guided_regex"), "guided_regex", maxRegexBytes) { found.append(.regex(r)) }
        for key in ["grammar", "guided_grammar"] {
            if let g = try bounded(try fields.string(key), key, maxGrammarBytes) {
                guard !g.isEmpty else { throw .invalidField(key, "'\(key)' must not be empty.") }
                found.append(.grammar(g))
            }
        }
        if let items = try fields.array("guided_choice") {
            guard !items.isEmpty, items.count <= maxChoices else {
                throw .invalidField("guided_choice", "'guided_choice' must hold 1 to \(maxChoices) strings, got \(items.count).")
            }
            var choices: [String] = []
            for (i, item) in items.enumerated() {
                guard let s = item.stringValue, !s.isEmpty else {
                    throw .invalidField("guided_choice[\(i)]", "'guided_choice[\(i)]' must be a non-empty string.", code: "invalid_type")
                }
                choices.append(try bounded(s, "guided_choice[\(i)]", maxStopBytes * 4)!)
            }
            found.append(.choice(choices))
        }
        if found.count > 1 || (!found.isEmpty && responseFormat.requiresJSON) {
            let names = found.map(\.field) + (responseFormat.requiresJSON ? ["response_format"] : [])
            throw .invalidField(names[1], "Only one output constraint per request: got \(names.joined(separator: ", ")).", code: "conflicting_parameters")
        }
        return found.first
    }

    /// Top-level fields a request may carry, per endpoint (also listed in `gateway/openapi.yaml`).
    /// Any other field is refused with a 400 naming it, so nothing a client sends is dropped
    /// silently. `metadata` and `store: false` are accepted and change nothing.
    public static func acceptedFields(_ endpoint: CompletionRequest.Endpoint) -> Set<String> {
        let common: Set<String> = [
            "model", "temperature", "top_p", "top_k", "min_p", "repetition_penalty", "seed",
            "presence_penalty", "frequency_penalty", "logit_bias", "n", "max_tokens", "stop", "stream",
            "stream_options", "user", "tools", "functions", "tool_choice", "function_call",
            "parallel_tool_calls", "response_format", "metadata", "store",
            "guided_json", "guided_regex", "guided_choice", "guided_grammar", "grammar", "speculative", "prediction",
        ]
        switch endpoint {
        case .chatCompletions: return common.union(["messages", "max_completion_tokens", "logprobs", "top_logprobs", "chat_template_kwargs"])
        case .completions: return common.union(["prompt", "logprobs", "echo", "suffix", "best_of"])
        case .responses: return ResponsesRequest.acceptedFields
        }
    }

    /// Refuses a top-level field outside `acceptedFields` (and `store: true`).
    static func unknownFields(_ fields: FieldReader, endpoint: CompletionRequest.Endpoint) throws(APIError) {
        guard case .object(let pairs) = fields.object else { return }
        let accepted = acceptedFields(endpoint)
        for (key, _) in pairs where !accepted.contains(key) {
            let shown = key.utf8.count <= 64 ? key : String(key.prefix(64)) + "…"
            throw .invalidField(shown, "Unrecognized request argument '\(shown)': Tandem refuses fields it does not honour.", code: "unknown_parameter")
        }
        if try fields.bool("store") == true {
            throw .invalidField("store", "'store' must be false: Tandem keeps no completions.", code: "unsupported_value")
        }
        _ = try fields.object("metadata")
    }

    /// Temperature, top_p, top_k, min_p, repetition_penalty, seed, penalties and logit_bias. A
    /// field left out gets OpenAI's default and is marked in `omittedSampling`, so a backend can
    /// use the model's own recommendation instead.
    static func sampling(_ fields: FieldReader, into request: inout CompletionRequest) throws(APIError) {
        var omitted: SamplingFields = []
        if let t = try fields.number("temperature", in: 0...2) { request.sampling.temperature = Float(t) } else {
            request.sampling.temperature = 1
            omitted.insert(.temperature)
        }
        if let p = try fields.number("top_p", in: 0...1) { request.sampling.topP = Float(p) } else {
            request.sampling.topP = 1
            omitted.insert(.topP)
        }
        // vLLM: -1 (or 0) turns top-k off.
        if let k = try fields.integer("top_k", in: -1...Int64(Int32.max)) { request.sampling.topK = Int(max(0, k)) } else {
            omitted.insert(.topK)
        }
        if let m = try fields.number("min_p", in: 0...1) { request.sampling.minP = Float(m) } else { omitted.insert(.minP) }
        if let r = try fields.number("repetition_penalty", in: 0...Double(SamplingDefaults.maxRepetitionPenalty)) {
            guard r > 0 else {
                throw .invalidField("repetition_penalty", "'repetition_penalty' must be greater than 0 (1 = off), got 0.")
            }
            request.repetitionPenalty = Float(r)
        } else {
            omitted.insert(.repetitionPenalty)
        }
        request.omittedSampling = omitted
        request.logitBias = try logitBias(fields)
    }

    /// Most entries accepted in `logit_bias`.
    public static let maxLogitBiasEntries = 1024

    /// `logit_bias`: token-id strings → −100…100. A key that is not a non-negative integer is
    /// refused here as `logit_bias.<key>`; ids past the vocabulary by the backend.
    static func logitBias(_ fields: FieldReader) throws(APIError) -> [TokenID: Float] {
        guard let bias = try fields.object("logit_bias"), case .object(let pairs) = bias.object else { return [:] }
        guard pairs.count <= maxLogitBiasEntries else {
            throw .invalidField("logit_bias", "'logit_bias' holds \(pairs.count) entries; at most \(maxLogitBiasEntries) are accepted.")
        }
        var result: [TokenID: Float] = [:]
        for (key, _) in pairs {
            let shown = key.utf8.count <= 64 ? key : String(key.prefix(64)) + "…"
            guard !key.isEmpty, key.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let id = TokenID(key) else {
                throw .invalidField("logit_bias.\(shown)", "'logit_bias' keys must be token ids (non-negative integers), got '\(shown)'.")
            }
            guard let value = try bias.number(key, in: -100...100) else { continue }
            result[id] = Float(value)
        }
        return result
    }

    /// Fields OpenAI knows that Tandem cannot honour: refused when they would change the answer.
    static func unsupported(_ fields: FieldReader, endpoint: CompletionRequest.Endpoint,
                            into request: inout CompletionRequest) throws(APIError) {
        guard endpoint == .completions else { return }
        request.echo = try fields.bool("echo") ?? false
        if request.echo, case .tokens = request.input {
            // The prompt's text is known only where the tokenizer is; echoing nothing would drop
            // the field silently.
            throw .invalidField("echo", "'echo' is supported for text prompts only, not for token ids.", code: "unsupported_value")
        }
        if let suffix = try fields.string("suffix"), !suffix.isEmpty {
            throw .invalidField("suffix", "'suffix' is not supported.", code: "unsupported_parameter")
        }
        if let bestOf = try fields.integer("best_of", in: 0...20), bestOf != 1 {
            throw .invalidField("best_of", "'best_of' must be 1.", code: "unsupported_value")
        }
    }
}
