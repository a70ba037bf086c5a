/// Why a schema, regular expression or grammar cannot be used for constrained decoding.
/// `keyword` names what to change (a JSON Schema keyword, `pattern`, a rule name); `path` says
/// where (`#/properties/tags`, a character offset, a line).
public struct GrammarError: Error, Sendable, Equatable, CustomStringConvertible {
    public var keyword: String
    public var path: String
    public var message: String
    /// The automaton would exceed `ByteNFA.maxStates` (a smaller rendering may fit).
    public var isSizeLimit = false

    public init(keyword: String, path: String, _ message: String, isSizeLimit: Bool = false) {
        self.keyword = keyword
        self.path = path
        self.message = message
        self.isSizeLimit = isSizeLimit
    }

    public var description: String { path.isEmpty ? message : "\(message) (at \(path))" }
}
