import Foundation
import TandemCore

/// Renders a conversation into the prompt text a chat model was trained on: the model's own
/// Jinja `chat_template` (`model`, through `TandemJinja`), or one of three built-in families
/// for models without one and for tools where a model's template cannot show them (the tests
/// compare both against Python's `jinja2` rendering of the real templates).
public indirect enum ChatTemplate: Sendable, Equatable {
    /// The model's own template.
    case model(ModelChatTemplate)
    /// `<|im_start|>role\ncontent<|im_end|>\n` (SmolLM2, Qwen). `defaultSystem` is inserted when
    /// the conversation does not start with a system message, if the template does that.
    case chatML(defaultSystem: String?)
    /// `<s>[INST] <<SYS>>\n…\n<</SYS>>\n\nuser [/INST] assistant </s>` (Llama 2).
    case llama2
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` (Llama 3).
    case llama3

    public static let styleNames = ["chatml", "llama2", "llama3"]

    /// The family's name as `--template` spells it ("model" for a model's own template).
    public var familyName: String {
        switch self {
        case .model: "model"
        case .chatML: "chatml"
        case .llama2: "llama2"
        case .llama3: "llama3"
        }
    }

    /// A template chosen by name (`--template`).
    public init?(name: String) {
        switch name.lowercased() {
        case "chatml": self = .chatML(defaultSystem: nil)
        case "llama2", "llama-2": self = .llama2
        case "llama3", "llama-3": self = .llama3
        default: return nil
        }
    }

    /// Recognises the family of a Jinja `chat_template`; nil when it is none of ours.
    public init?(jinja: String) {
        if jinja.contains("<|im_start|>") {
            self = .chatML(defaultSystem: Self.chatMLDefaultSystem(jinja))
        } else if jinja.contains("<|start_header_id|>") {
            self = .llama3
        } else if jinja.contains("[INST]") {
            self = .llama2
        } else {
            return nil
        }
    }

    /// The literal default system prompt of templates written like SmolLM2's:
    /// `{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n…<|im_end|>\n' }}`.
    static func chatMLDefaultSystem(_ jinja: String) -> String? {
        guard jinja.contains("!= 'system'") || jinja.contains("!= \"system\"") else { return nil }
        // The template's string literal may hold a real newline or an escaped one.
        guard let start = jinja.range(of: "'<|im_start|>system\n") ?? jinja.range(of: "'<|im_start|>system\\n") else { return nil }
        let rest = jinja[start.upperBound...]
        guard let end = rest.range(of: "<|im_end|>") else { return nil }
        return String(rest[..<end.lowerBound]).replacing("\\n", with: "\n")
    }

    /// The prompt text (template and content together), as the Jinja template renders it.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) throws -> String {
        try prompt(messages, addGenerationPrompt: addGenerationPrompt).text
    }

    /// The prompt with the template's own text marked as the only place where special tokens may
    /// be parsed: roles and contents are plain text, whatever they contain.
    /// `tools` are shown to the model in the family's tool format (`ChatTemplate+Tools.swift`);
    /// assistant calls and `tool` results are written the same way. `options` are further
    /// variables for a model's own template (`chat_template_kwargs`, e.g. `enable_thinking`).
    /// Throws `JinjaError` when a model's template refuses the conversation (`raise_exception`).
    public func prompt(_ messages: [ChatMessage], tools: [ToolDefinition] = [], addGenerationPrompt: Bool = true,
                       options: [(String, JSONValue)] = []) throws -> PromptText {
        var p = PromptText()
        switch self {
        case .model(let m):
            return try m.prompt(messages, tools: tools, addGenerationPrompt: addGenerationPrompt, options: options)
        case .chatML(let defaultSystem):
            if !tools.isEmpty || messages.contains(where: { $0.role == .tool || !$0.toolCalls.isEmpty }) {
                return chatMLWithTools(messages, tools: tools, defaultSystem: defaultSystem, addGenerationPrompt: addGenerationPrompt)
            }
            if let sys = defaultSystem, messages.first?.role != .system {
                p.appendTemplate("<|im_start|>system\n\(sys)<|im_end|>\n")
            }
            for m in messages {
                p.appendTemplate("<|im_start|>")
                p.appendContent(m.role.rawValue)
                p.appendTemplate("\n")
                p.appendContent(m.content)
                p.appendTemplate("<|im_end|>\n")
            }
            if addGenerationPrompt { p.appendTemplate("<|im_start|>assistant\n") }
        case .llama2:
            var system: String?
            var rest = messages[...]
            if let first = rest.first, first.role == .system { system = first.content; rest = rest.dropFirst() }
            for m in rest {
                if m.role == .assistant {
                    p.appendTemplate(" ")
                    p.appendContent(m.content)
                    p.appendTemplate(" </s>")
                } else {
                    p.appendTemplate("<s>[INST] ")
                    if let sys = system {
                        p.appendTemplate("<<SYS>>\n")
                        p.appendContent(sys)
                        p.appendTemplate("\n<</SYS>>\n\n")
                        system = nil
                    }
                    p.appendContent(m.content)
                    p.appendTemplate(" [/INST]")
                }
            }
        case .llama3:
            if !tools.isEmpty || messages.contains(where: { $0.role == .tool || !$0.toolCalls.isEmpty }) {
                return llama3WithTools(messages, tools: tools, addGenerationPrompt: addGenerationPrompt)
            }
            p.appendTemplate("<|begin_of_text|>")
            for m in messages {
                p.appendTemplate("<|start_header_id|>")
                p.appendContent(m.role.rawValue)
                p.appendTemplate("<|end_header_id|>\n\n")
                p.appendContent(m.content)
                p.appendTemplate("<|eot_id|>")
            }
            if addGenerationPrompt { p.appendTemplate("<|start_header_id|>assistant<|end_header_id|>\n\n") }
        }
        return p
    }
}
