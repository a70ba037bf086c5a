/// Splits a reasoning model's streamed text into reasoning and answer content, and enforces a
/// reasoning budget in tokens.
///
/// A three-state machine (before reasoning → reasoning → answer) over Unicode scalars. The open
/// tag is recognised only at the start of the output (after optional whitespace); the first close
/// tag ends reasoning, and everything after it is answer content, tags included. Text that may be
/// the start of a tag is held back until the next chunk decides it, so tags split across chunks
/// are handled. When the reasoning has used `budgetTokens`, the output carries
/// `.forceClose` once: the engine should append the close tag's tokens as if sampled (and feed
/// their text back through `process`) so the answer is not starved.
public struct ReasoningSplitter: Sendable {
    /// Where the stream is: undecided, inside the reasoning block, or in the answer.
    public enum Phase: Hashable, Sendable {
        /// Nothing decided yet: the output may still open a reasoning block.
        case beforeReasoning
        case reasoning
        case answer
    }

    /// Something the engine must do.
    public enum Directive: Hashable, Sendable {
        /// Append the tokens of `text` (the close tag) to the request now.
        case forceClose(text: String)
    }

    /// The text of one chunk, routed.
    public struct Output: Hashable, Sendable {
        public var reasoning: String
        public var content: String
        public var directive: Directive?

        public init(reasoning: String = "", content: String = "", directive: Directive? = nil) {
            self.reasoning = reasoning
            self.content = content
            self.directive = directive
        }
    }

    public let configuration: ReasoningConfiguration
    public private(set) var phase: Phase
    /// Tokens counted as reasoning so far (chunks that began inside the reasoning block).
    public private(set) var reasoningTokenCount = 0
    public private(set) var hasRequestedClose = false
    private let openTag: [Unicode.Scalar]
    private let closeTag: [Unicode.Scalar]
    private var held: [Unicode.Scalar] = []
    private var trimmingAnswer = false

    public init(configuration: ReasoningConfiguration = ReasoningConfiguration()) {
        self.configuration = configuration
        openTag = Array(configuration.openTag.unicodeScalars)
        closeTag = Array(configuration.closeTag.unicodeScalars)
        phase = configuration.startsInReasoning ? .reasoning : .beforeReasoning
    }

    /// Routes one chunk of detokenized text, produced by `tokenCount` tokens.
    public mutating func process(_ text: String, tokenCount: Int = 1) -> Output {
        if phase == .reasoning { reasoningTokenCount += max(0, tokenCount) }
        held.append(contentsOf: text.unicodeScalars)
        var reasoning: [Unicode.Scalar] = []
        var content: [Unicode.Scalar] = []
        scanning: while true {
            switch phase {
            case .beforeReasoning:
                let leading = held.prefix { $0.properties.isWhitespace }.count
                let rest = held[leading...]
                if !openTag.isEmpty, rest.starts(with: openTag) {
                    held.removeFirst(leading + openTag.count)
                    phase = .reasoning
                } else if !openTag.isEmpty, rest.count < openTag.count, openTag.starts(with: rest) {
                    break scanning
                } else {
                    phase = .answer
                }
            case .reasoning:
                if let match = PartialMatching.earliestMatch(in: held, patterns: [closeTag]) {
                    reasoning += held[..<match.start]
                    held.removeFirst(match.end)
                    phase = .answer
                    trimmingAnswer = configuration.trimsWhitespaceAfterReasoning
                } else {
                    let keep = PartialMatching.heldSuffixLength(of: held, patterns: [closeTag])
                    reasoning += held[..<(held.count - keep)]
                    held.removeFirst(held.count - keep)
                    break scanning
                }
            case .answer:
                if trimmingAnswer {
                    held.removeFirst(held.prefix { $0.properties.isWhitespace }.count)
                    if !held.isEmpty { trimmingAnswer = false }
                }
                content += held
                held = []
                break scanning
            }
        }
        var output = Output(reasoning: PartialMatching.string(reasoning), content: PartialMatching.string(content))
        if phase == .reasoning, !hasRequestedClose, let budget = configuration.budgetTokens,
           reasoningTokenCount >= budget {
            hasRequestedClose = true
            output.directive = .forceClose(text: configuration.closeTag)
        }
        return output
    }

    /// End of stream: releases held-back text to the channel it belongs to.
    public mutating func finish() -> Output {
        let rest = PartialMatching.string(held)
        held = []
        switch phase {
        case .reasoning: return Output(reasoning: rest)
        case .beforeReasoning, .answer: return Output(content: rest)
        }
    }
}
