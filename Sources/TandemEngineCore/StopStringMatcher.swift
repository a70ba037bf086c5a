/// Finds stop strings in streamed, detokenized text (OpenAI `stop`), holding back any tail that
/// could be the start of a stop string until the next chunk decides it.
///
/// Algorithm: one Knuth–Morris–Pratt automaton per stop string, fed scalar by scalar. A
/// pattern's state is the length of the longest suffix of the text so far that is a prefix of
/// it, so the first scalar that completes any pattern is the earliest-ending occurrence (ties:
/// the longer pattern, which starts earlier), and the largest state is exactly the tail to hold
/// back. Each scalar costs O(number of stop strings) amortised, whatever their length, and the
/// result does not depend on how the text is split into chunks. The stop string itself is never
/// emitted, nor anything after it.
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
    /// KMP failure function per pattern: `failure[p][i]` is the length of the longest proper
    /// border of `patterns[p][0...i]`.
    private let failure: [[Int]]
    private var states: [Int]
    private var held: [Unicode.Scalar] = []
    public private(set) var isStopped = false

    /// Empty stop strings are ignored.
    public init(stopStrings: [String]) {
        self.stopStrings = stopStrings.filter { !$0.isEmpty }
        patterns = self.stopStrings.map { Array($0.unicodeScalars) }
        failure = patterns.map(Self.failureFunction)
        states = [Int](repeating: 0, count: patterns.count)
    }

    static func failureFunction(_ p: [Unicode.Scalar]) -> [Int] {
        var f = [Int](repeating: 0, count: p.count)
        var k = 0
        for i in 1..<max(p.count, 1) {
            while k > 0 && p[i] != p[k] { k = f[k - 1] }
            if p[i] == p[k] { k += 1 }
            f[i] = k
        }
        return f
    }

    /// Text held back so far (a possible start of a stop string).
    public var heldText: String { PartialMatching.string(held) }

    public mutating func process(_ chunk: String) -> Outcome {
        guard !isStopped else { return .continue(emit: "") }
        for scalar in chunk.unicodeScalars {
            held.append(scalar)
            var matched: Int?
            for p in patterns.indices {
                let pattern = patterns[p]
                var k = states[p]
                while k > 0 && pattern[k] != scalar { k = failure[p][k - 1] }
                if pattern[k] == scalar { k += 1 }
                if k == pattern.count {
                    if matched == nil || pattern.count > patterns[matched!].count { matched = p }
                    k = failure[p][k - 1]
                }
                states[p] = k
            }
            if let m = matched {
                isStopped = true
                let emit = PartialMatching.string(held[..<(held.count - patterns[m].count)])
                held = []
                return .stopped(emit: emit, stopString: stopStrings[m])
            }
        }
        let keep = min(states.max() ?? 0, held.count)
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
