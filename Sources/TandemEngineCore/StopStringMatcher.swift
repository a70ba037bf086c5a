/// Finds stop strings in streamed, detokenized text (OpenAI `stop`), holding back any tail that
/// could be the start of a stop string until the next chunk decides it.
///
/// Algorithm: keep the undecided tail; on each chunk search tail + chunk for the occurrence that
/// ends earliest, else emit everything but the longest suffix that is a proper prefix of a stop
/// string. The result does not depend on how the text is split into chunks. The stop string
/// itself is never emitted, nor anything after it.
public struct StopStringMatcher: Sendable {
    /// What to do with one chunk.
    public enum Outcome: Hashable, Sendable {
        /// Send `emit` to the client and keep going.
        case `continue`(emit: String)
        /// Send `emit`, then end the request (`FinishReason.stopString(stopString)`).
        case stopped(emit: String, stopString: String)
    }

    public let stopStrings: [String]
    private let patterns: [[Unicode.Scalar]]
    private var held: [Unicode.Scalar] = []
    public private(set) var isStopped = false

    /// Empty stop strings are ignored.
    public init(stopStrings: [String]) {
        self.stopStrings = stopStrings.filter { !$0.isEmpty }
        patterns = self.stopStrings.map { Array($0.unicodeScalars) }
    }

    /// Text held back so far (a possible start of a stop string).
    public var heldText: String { PartialMatching.string(held) }

    public mutating func process(_ chunk: String) -> Outcome {
        guard !isStopped else { return .continue(emit: "") }
        held.append(contentsOf: chunk.unicodeScalars)
        if let match = PartialMatching.earliestMatch(in: held, patterns: patterns) {
            isStopped = true
            let emit = PartialMatching.string(held[..<match.start])
            held = []
            return .stopped(emit: emit, stopString: stopStrings[match.pattern])
        }
        let keep = PartialMatching.heldSuffixLength(of: held, patterns: patterns)
        let emit = PartialMatching.string(held[..<(held.count - keep)])
        held.removeFirst(held.count - keep)
        return .continue(emit: emit)
    }

    /// End of stream without a stop: returns the held-back text, which was not a stop string.
    public mutating func finish() -> String {
        guard !isStopped else { return "" }
        let rest = PartialMatching.string(held)
        held = []
        return rest
    }
}
