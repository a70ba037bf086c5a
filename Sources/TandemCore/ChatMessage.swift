/// One message of a conversation: what the OpenAI API's `messages` are normalised to (text parts
/// joined, `developer` read as `system`) and what a model's chat template renders.
public struct ChatMessage: Sendable, Codable, Equatable, Hashable {
    /// Who wrote the message. A closed set: a role is never client text, so it can never carry
    /// a template's special tokens.
    public enum Role: String, Sendable, Codable, Equatable, Hashable, CaseIterable {
        case system, user, assistant, tool
    }

    public var role: Role
    public var content: String
    /// Optional participant name (OpenAI's `name`); chat templates do not render it.
    public var name: String?

    public init(role: Role, content: String, name: String? = nil) {
        self.role = role
        self.content = content
        self.name = name
    }
}
