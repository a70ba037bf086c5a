import TandemCore

/// How a template family writes a function call in the assistant's answer.
public enum ToolCallFormat: Sendable, Equatable {
    /// Each call a JSON object `{"name": …, "arguments": {…}}` between tags, one per line
    /// (`<tool_call>`…`</tool_call>`: Hermes, Qwen; used for every ChatML model).
    case tagged(open: String, close: String)
    /// The whole answer a JSON object `{"name": …, "parameters": {…}}` (Llama 3.1).
    case bareJSON(argumentsKey: String)
    /// All calls one JSON list of `{"name": …, "arguments": {…}}` after `open` (and before
    /// `close` if it is not empty): Mistral `[TOOL_CALLS][…]`, Nemotron `<TOOLCALL>[…]</TOOLCALL>`.
    case list(open: String, close: String)
    /// Each call `open` + name + `separator` + arguments object: Mistral's newer
    /// `[TOOL_CALLS]get_weather[ARGS]{…}`.
    case named(open: String, separator: String)
    /// DeepSeek's special tokens: all calls between `<｜tool▁calls▁begin｜>` and
    /// `<｜tool▁calls▁end｜>`, each between `<｜tool▁call▁begin｜>` and `<｜tool▁call▁end｜>`.
    /// `typed` (R1 and its distills): `function<｜tool▁sep｜>name` + "\n```json\n" + arguments + "\n```";
    /// untyped (V3.1): `name<｜tool▁sep｜>arguments`.
    case deepSeek(typed: Bool)
    /// gpt-oss's harmony messages (`HarmonyParser`): a call is a commentary message to
    /// `functions.NAME` whose body is the arguments, ended by `<|call|>`; reasoning (the analysis
    /// channel) and the answer (final) are messages of their own.
    case harmony

    public static let deepSeekCallsBegin = "<｜tool▁calls▁begin｜>", deepSeekCallsEnd = "<｜tool▁calls▁end｜>"
    public static let deepSeekCallBegin = "<｜tool▁call▁begin｜>", deepSeekCallEnd = "<｜tool▁call▁end｜>"
    public static let deepSeekSeparator = "<｜tool▁sep｜>"

    /// What a DeepSeek call writes before the name, between name and arguments, and after them.
    public var deepSeekFraming: (beforeName: String, afterName: String, afterArguments: String)? {
        guard case .deepSeek(let typed) = self else { return nil }
        return typed ? ("function" + Self.deepSeekSeparator, "\n```json\n", "\n```") : ("", Self.deepSeekSeparator, "")
    }

    /// The key of the arguments object in a call.
    public var argumentsKey: String {
        switch self {
        case .tagged, .list, .named, .deepSeek, .harmony: "arguments"
        case .bareJSON(let key): key
        }
    }

    /// The format a template's own text shows (nil: none Tandem knows).
    public static func shown(in template: String) -> ToolCallFormat? {
        if template.contains("[TOOL_CALLS]") {
            return template.contains("[ARGS]") ? .named(open: "[TOOL_CALLS]", separator: "[ARGS]") : .list(open: "[TOOL_CALLS]", close: "")
        }
        if template.contains("<TOOLCALL>") { return .list(open: "<TOOLCALL>", close: "</TOOLCALL>") }
        if template.contains("<|channel|>"), template.contains("commentary"), template.contains("functions.") { return .harmony }
        if template.contains(deepSeekCallsBegin) { return .deepSeek(typed: template.contains("```json")) }
        if template.contains("<tool_call>") { return .tagged(open: "<tool_call>", close: "</tool_call>") }
        return nil
    }

    /// A call's JSON object, `{"name": …, key: arguments}` (what the tags enclose).
    public func body(name: String, arguments: String) -> String {
        "{\"name\": \(JSONWriter.string(.string(name))), \"\(argumentsKey)\": \(arguments)}"
    }

    /// One call as the model writes it.
    public func call(name: String, arguments: String) -> String {
        let body = body(name: name, arguments: arguments)
        switch self {
        case .tagged(let open, let close): return "\(open)\n\(body)\n\(close)"
        case .bareJSON: return body
        case .list(let open, let close): return "\(open)[\(body)]\(close)"
        case .named(let open, let separator): return "\(open)\(name)\(separator)\(arguments)"
        case .deepSeek:
            let f = deepSeekFraming!
            return Self.deepSeekCallsBegin + Self.deepSeekCallBegin + f.beforeName + name + f.afterName + arguments + f.afterArguments
                + Self.deepSeekCallEnd + Self.deepSeekCallsEnd
        case .harmony: return "<|channel|>commentary to=functions.\(name) <|constrain|>json<|message|>\(arguments)<|call|>"
        }
    }
}

extension ChatTemplate {
    /// The family's tool-call format; nil for templates without one (Llama 2).
    public var toolCallFormat: ToolCallFormat? {
        switch self {
        case .model(let m): m.toolCallFormat
        case .chatML: .tagged(open: "<tool_call>", close: "</tool_call>")
        case .llama3: .bareJSON(argumentsKey: "parameters")
        case .llama2: nil
        }
    }

    /// The tools block: what the tools are and how to call them.
    static func toolsInstructions(_ tools: [ToolDefinition], format: ToolCallFormat) -> String {
        let list = tools.map { JSONWriter.string($0.json) }.joined(separator: "\n")
        switch format {
        case .tagged(let open, let close):
            return "# Tools\n\nYou can call the functions whose signatures are listed in <tools></tools> tags:\n<tools>\n\(list)\n</tools>\n\n"
                + "To call a function, write a JSON object with its name and arguments between \(open)\(close) tags:\n"
                + "\(open)\n{\"name\": <function-name>, \"arguments\": <arguments-object>}\n\(close)"
        case .bareJSON(let key):
            return "These functions are available:\n\n\(list)\n\n"
                + "To call one, answer with only a JSON object {\"name\": <function-name>, \"\(key)\": <arguments-object>}."
        case .list, .named, .deepSeek, .harmony:
            return "These functions are available:\n\n\(list)\n\nTo call one, write "
                + format.call(name: "<function-name>", arguments: "<arguments-object>")
        }
    }

    /// ChatML with tools: the tools block ends the system message (made if there is none), an
    /// assistant's calls follow its text, consecutive `tool` results form one user turn of
    /// `<tool_response>` blocks.
    func chatMLWithTools(_ messages: [ChatMessage], tools: [ToolDefinition], defaultSystem: String?,
                         addGenerationPrompt: Bool) -> PromptText {
        let format = toolCallFormat!
        var p = PromptText()
        var rest = messages[...]
        var system: String? = defaultSystem
        if let first = rest.first, first.role == .system {
            system = first.content
            rest = rest.dropFirst()
        }
        if system != nil || !tools.isEmpty {
            p.appendTemplate("<|im_start|>system\n")
            if let system { p.appendContent(system) }
            if !tools.isEmpty {
                if system != nil { p.appendTemplate("\n\n") }
                p.appendContent(Self.toolsInstructions(tools, format: format))
            }
            p.appendTemplate("<|im_end|>\n")
        }
        var i = rest.startIndex
        while i < rest.endIndex {
            let m = rest[i]
            if m.role == .tool {
                p.appendTemplate("<|im_start|>user")
                while i < rest.endIndex, rest[i].role == .tool {
                    p.appendTemplate("\n<tool_response>\n")
                    p.appendContent(rest[i].content)
                    p.appendTemplate("\n</tool_response>")
                    i += 1
                }
                p.appendTemplate("<|im_end|>\n")
                continue
            }
            p.appendTemplate("<|im_start|>")
            p.appendContent(m.role.rawValue)
            p.appendTemplate("\n")
            p.appendContent(m.content)
            for (k, call) in m.toolCalls.enumerated() {
                if k > 0 || !m.content.isEmpty { p.appendTemplate("\n") }
                if case .tagged(let open, let close) = format {
                    // Tags as template text, the call's JSON as content.
                    p.appendTemplate("\(open)\n")
                    p.appendContent(format.body(name: call.name, arguments: call.arguments))
                    p.appendTemplate("\n\(close)")
                }
            }
            p.appendTemplate("<|im_end|>\n")
            i += 1
        }
        if addGenerationPrompt { p.appendTemplate("<|im_start|>assistant\n") }
        return p
    }

    /// Llama 3 with tools: the tools block opens the first user message, a call is the
    /// assistant's whole answer, results come back in `ipython` turns.
    func llama3WithTools(_ messages: [ChatMessage], tools: [ToolDefinition], addGenerationPrompt: Bool) -> PromptText {
        let format = toolCallFormat!
        var p = PromptText()
        p.appendTemplate("<|begin_of_text|>")
        var shown = tools.isEmpty
        for m in messages {
            p.appendTemplate("<|start_header_id|>")
            p.appendContent(m.role == .tool ? "ipython" : m.role.rawValue)
            p.appendTemplate("<|end_header_id|>\n\n")
            if m.role == .user, !shown {
                p.appendContent(Self.toolsInstructions(tools, format: format) + "\n\n")
                shown = true
            }
            if m.toolCalls.isEmpty {
                p.appendContent(m.content)
            } else {
                p.appendContent(m.toolCalls.map { format.call(name: $0.name, arguments: $0.arguments) }.joined(separator: "; "))
            }
            p.appendTemplate("<|eot_id|>")
        }
        if addGenerationPrompt { p.appendTemplate("<|start_header_id|>assistant<|end_header_id|>\n\n") }
        return p
    }
}
