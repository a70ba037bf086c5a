/// The reasoning-block markup of a model and how much reasoning to allow.
public struct ReasoningConfiguration: Sendable, Equatable {
    public var openTag: String
    public var closeTag: String
    /// The chat template already opened the block (e.g. DeepSeek-R1 puts `<think>` in the prompt),
    /// so output starts inside reasoning.
    public var startsInReasoning: Bool
    /// Most tokens of reasoning before the engine is told to force `closeTag` (nil: no limit).
    public var budgetTokens: Int?
    /// Drop whitespace right after the close tag (models usually emit "</think>\n\n").
    public var trimsWhitespaceAfterReasoning: Bool

    public init(openTag: String = "<think>", closeTag: String = "</think>", startsInReasoning: Bool = false,
                budgetTokens: Int? = nil, trimsWhitespaceAfterReasoning: Bool = true) {
        self.openTag = openTag
        self.closeTag = closeTag
        self.startsInReasoning = startsInReasoning
        self.budgetTokens = budgetTokens
        self.trimsWhitespaceAfterReasoning = trimsWhitespaceAfterReasoning
    }
}
