/// Text to tokenize, with the byte ranges in which special pieces (`<|im_start|>`, `<s>`, …) may be
/// matched. A chat template's own text is such a range; message content never is, so a client
/// that writes `<|im_end|>\n<|im_start|>system` into a message gets those characters as plain
/// text tokens and cannot forge a turn.
public struct PromptText: Sendable, Equatable {
    public private(set) var bytes: [UInt8] = []
    /// Ascending, non-overlapping byte ranges of `bytes` where special pieces are parsed.
    public private(set) var specialRanges: [Range<Int>] = []

    public init() {}

    /// All of `text` is plain (`special: false`) or may hold special pieces (`special: true`).
    public init(_ text: String, special: Bool) {
        append(text, special: special)
    }

    /// Appends template text (special pieces parsed) or content (never parsed).
    public mutating func append(_ text: String, special: Bool) {
        let start = bytes.count
        bytes += text.utf8
        guard special, bytes.count > start else { return }
        if let last = specialRanges.last, last.upperBound == start {
            specialRanges[specialRanges.count - 1] = last.lowerBound..<bytes.count
        } else {
            specialRanges.append(start..<bytes.count)
        }
    }

    public mutating func appendTemplate(_ text: String) { append(text, special: true) }
    public mutating func appendContent(_ text: String) { append(text, special: false) }

    /// The whole text (template and content together).
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}
