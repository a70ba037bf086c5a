/// One message of a conversation: what the OpenAI API's `messages` are normalised to (text parts
/// joined, `developer` read as `system`) and what a model's chat template renders.
public struct ChatMessage: Sendable, Codable, Equatable, Hashable {
    /// Who wrote the message. A closed set: a role is never client text, so it can never carry
    /// a template's special tokens.
    public enum Role: String, Sendable, Codable, Equatable, Hashable, CaseIterable {
        case system, user, assistant, tool
    }

    /// A function the assistant called (OpenAI's `tool_calls[i]`).
    public struct ToolCall: Sendable, Codable, Equatable, Hashable {
        public var id: String
        public var name: String
        /// The arguments as JSON text, as the model wrote them.
        public var arguments: String

        public init(id: String, name: String, arguments: String) {
            self.id = id
            self.name = name
            self.arguments = arguments
        }
    }

    public var role: Role
    public var content: String
    /// Optional participant name (OpenAI's `name`); chat templates do not render it.
    public var name: String?
    /// The calls an assistant message made.
    public var toolCalls: [ToolCall]
    /// For a `tool` message: the call it answers.
    public var toolCallID: String?

    public init(role: Role, content: String, name: String? = nil, toolCalls: [ToolCall] = [], toolCallID: String? = nil) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
    }
}

/// A function a request offers the model (OpenAI's `tools[i].function`), its parameters as JSON
/// Schema text.
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    public var description: String?
    /// The JSON Schema of the arguments object.
    public var parameters: JSONValue
    public var strict: Bool

    public init(name: String, description: String? = nil, parameters: JSONValue = ["type": "object", "properties": [:]], strict: Bool = false) {
        self.name = name
        self.description = description
        self.parameters = parameters
        self.strict = strict
    }

    /// `{"type": "function", "function": {...}}`, as OpenAI's API and chat templates show it.
    public var json: JSONValue {
        var function: [(String, JSONValue)] = [("name", .string(name))]
        if let description { function.append(("description", .string(description))) }
        function.append(("parameters", parameters))
        return .object([("type", "function"), ("function", .object(function))])
    }
}

/// OpenAI's `tool_choice`.
public enum ToolChoice: Sendable, Equatable, Hashable {
    /// The model decides whether to call (the default when tools are given).
    case auto
    /// No calls: the tools are not shown.
    case none
    /// At least one call.
    case required
    /// A call of this function.
    case function(String)
}
