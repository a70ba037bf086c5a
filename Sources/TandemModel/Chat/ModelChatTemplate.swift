import TandemCore
import TandemJinja

/// A model's own Jinja `chat_template`, rendered by `TandemJinja` as Hugging Face renders it:
/// the conversation in OpenAI's message shape (assistant `tool_calls` with their arguments as
/// objects, `tool` messages with `tool_call_id`), the offered `tools`, `add_generation_prompt`,
/// the special tokens, and the request's `chat_template_kwargs`. Strings from the request are
/// data: special tokens are parsed only in the template's own text.
///
/// Where the template has no way to show tools (it never mentions them) and the request uses
/// them, the built-in family rendering (`family`) shows them instead.
public struct ModelChatTemplate: Sendable, Equatable {
    public let jinja: JinjaTemplate
    /// The built-in family the template was recognised as (tool fallback and call format).
    public let family: ChatTemplate?
    /// `bos_token`, `eos_token` and the like, as template text.
    public let specialTokens: [(String, JSONValue)]
    /// The tokenizer adds BOS itself: a BOS the template writes first is dropped (not doubled).
    public let dropLeadingBOS: String?
    /// Whether the template shows tools and calls itself (read from its text once).
    public let rendersTools: Bool
    /// The call format the model writes: the one its template shows, else its family's.
    public let toolCallFormat: ToolCallFormat?

    public init(jinja: JinjaTemplate, family: ChatTemplate?, specialTokens: [(String, JSONValue)], dropLeadingBOS: String?) {
        self.jinja = jinja
        self.family = family
        self.specialTokens = specialTokens
        self.dropLeadingBOS = dropLeadingBOS
        rendersTools = jinja.mentions("tools") && jinja.mentions("tool_calls")
        toolCallFormat = ToolCallFormat.shown(in: jinja.source) ?? family?.toolCallFormat
    }

    public static func == (a: ModelChatTemplate, b: ModelChatTemplate) -> Bool {
        a.jinja.source == b.jinja.source && a.family == b.family && a.dropLeadingBOS == b.dropLeadingBOS
            && a.specialTokens.elementsEqual(b.specialTokens) { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public func prompt(_ messages: [ChatMessage], tools: [ToolDefinition], addGenerationPrompt: Bool,
                       options: [(String, JSONValue)] = []) throws -> PromptText {
        let usesTools = !tools.isEmpty || messages.contains { $0.role == .tool || !$0.toolCalls.isEmpty }
        if usesTools, !rendersTools, let family {
            return try family.prompt(messages, tools: tools, addGenerationPrompt: addGenerationPrompt)
        }
        var data: [(String, JSONValue)] = [("messages", .array(messages.map(Self.json)))]
        if !tools.isEmpty { data.append(("tools", .array(tools.map(\.json)))) }
        data.append(("add_generation_prompt", .bool(addGenerationPrompt)))
        for (k, v) in options where !["messages", "tools", "add_generation_prompt"].contains(k) { data.append((k, v)) }
        let text = try jinja.render(data: data, template: specialTokens)
        var p = PromptText()
        var parts = text.parts[...]
        if let bos = dropLeadingBOS, let first = parts.first, !first.isData, first.text.hasPrefix(bos) {
            p.appendTemplate(String(first.text.dropFirst(bos.count)))
            parts = parts.dropFirst()
        }
        for part in parts {
            if part.isData { p.appendContent(part.text) } else { p.appendTemplate(part.text) }
        }
        return p
    }

    /// A message in the shape chat templates read (OpenAI's, arguments parsed to an object
    /// where they are JSON, as vLLM and transformers pass them).
    static func json(_ m: ChatMessage) -> JSONValue {
        var o: [(String, JSONValue)] = [("role", .string(m.role.rawValue)), ("content", .string(m.content))]
        if let name = m.name { o.append(("name", .string(name))) }
        if !m.toolCalls.isEmpty {
            o.append(("tool_calls", .array(m.toolCalls.map { call in
                let args = (try? JSONValue.parse(call.arguments)) ?? .string(call.arguments)
                return .object([("id", .string(call.id)), ("type", "function"),
                                ("function", .object([("name", .string(call.name)), ("arguments", args)]))])
            })))
        }
        if let id = m.toolCallID { o.append(("tool_call_id", .string(id))) }
        return .object(o)
    }
}

extension ChatTemplate {
    /// The template for a model's own `chat_template`: rendered by the Jinja interpreter; if the
    /// interpreter cannot parse it (a construct it lacks, such as `include`), the built-in
    /// family it is recognised as (nil if none: the chat endpoint then answers 400), with what
    /// went wrong (the parse error and what chat requests get instead) for the loader to say out
    /// loud. `tandem chat-template --model` shows which rendering a model gets.
    public static func fromModelReporting(jinja: String, tokenizer: any Tokenizer) -> (template: ChatTemplate?, problem: String?) {
        let family = ChatTemplate(jinja: jinja)
        let template: JinjaTemplate
        do {
            template = try JinjaTemplate(jinja)
        } catch {
            let instead = family.map { "chat requests use the built-in \($0.familyName) template it resembles" }
                ?? "chat requests are refused (no template Tandem recognises); completions still work"
            return (family, "the model's chat template cannot be parsed (\(error)); \(instead)")
        }
        let v = tokenizer.vocabulary
        var special: [(String, JSONValue)] = []
        var bos: String?
        if let b = v.bos, Int(b) < v.pieces.count {
            bos = v.pieces[Int(b)]
            special.append(("bos_token", .string(v.pieces[Int(b)])))
        }
        if let e = v.eos, Int(e) < v.pieces.count { special.append(("eos_token", .string(v.pieces[Int(e)]))) }
        return (.model(ModelChatTemplate(jinja: template, family: family, specialTokens: special,
                                         dropLeadingBOS: tokenizer.addsBOS ? bos : nil)), nil)
    }
}
