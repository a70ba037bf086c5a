import TandemCore

/// gpt-oss's "harmony" answer, split into reasoning, text and function calls as it streams.
///
/// An answer is a run of messages, each a header, `<|message|>`, a body and an end token:
/// `<|channel|>analysis<|message|>…<|end|>` (reasoning), `<|start|>assistant<|channel|>final<|message|>…<|return|>`
/// (the answer's text), and `<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{…}<|call|>`
/// (a call; the recipient may also stand in the role part, `<|start|>assistant to=functions.NAME<|channel|>…`).
/// Bodies stream as they come (a tail that may begin an end token held back); a call is reported
/// at its end token, or at the end of the answer when the model stopped on it. A call whose
/// arguments are not a JSON object is given back as text, and so is an answer that does not
/// begin with a header (a model that ignored the format); a header the answer ends in is dropped.
struct HarmonyParser: Sendable {
    static let message = "<|message|>", channel = "<|channel|>"
    static let ends = ["<|end|>", "<|call|>", "<|return|>"]

    private enum State: Sendable { case header, body(channel: String, recipient: String?), plain }
    private var state = State.header
    private var buffer = ""
    private var header = ""
    private var callBody = ""
    private(set) var callCount = 0

    /// Inside an analysis message's body.
    var isInReasoning: Bool {
        if case .body(let channel, nil) = state { return channel == "analysis" }
        return false
    }

    mutating func feed(_ text: String, atEnd: Bool) -> [ToolCallParser.Piece] {
        buffer += text
        var out: [ToolCallParser.Piece] = []
        scanning: while true {
            switch state {
            case .plain:
                if !buffer.isEmpty { out.append(.text(buffer)) }
                buffer = ""
                break scanning
            case .header:
                header += buffer
                buffer = ""
                if let r = header.range(of: Self.message) {
                    buffer = String(header[r.upperBound...])
                    state = Self.parse(header: String(header[..<r.lowerBound]))
                    header = ""
                    continue
                }
                // Not a header at all: the text is the answer. (A header may begin with the
                // role part's recipient: the prompt ends at `<|start|>assistant`.)
                let trimmed = header.drop(while: \.isWhitespace)
                if !trimmed.isEmpty, !["<|", "to="].contains(where: { trimmed.hasPrefix($0) || $0.hasPrefix(trimmed) }) {
                    state = .plain
                    buffer = header
                    header = ""
                    continue
                }
                // At the end, a header without its message (`<|end|><|start|>assistant`, then the
                // model stopped) is markup: dropped.
                header = atEnd ? "" : header
                break scanning
            case .body(let channel, let recipient):
                let end = Self.ends.compactMap { buffer.range(of: $0) }.min { $0.lowerBound < $1.lowerBound }
                let upto = end?.lowerBound ?? buffer.index(buffer.endIndex, offsetBy: -(atEnd ? 0 : Self.heldTail(buffer)))
                let part = String(buffer[..<upto])
                if let recipient {
                    callBody += part
                } else if !part.isEmpty {
                    out.append(channel == "analysis" ? .reasoning(part) : .text(part))
                }
                if let end {
                    buffer = String(buffer[end.upperBound...])
                } else {
                    buffer = String(buffer[upto...])
                }
                if end != nil || atEnd {
                    if let recipient { emitCall(recipient, into: &out) }
                    state = .header
                    if end != nil { continue }
                }
                break scanning
            }
        }
        return out
    }

    /// The length of the longest tail of `s` that may begin an end token.
    static func heldTail(_ s: String) -> Int {
        for n in stride(from: min(9, s.count), through: 1, by: -1) where ends.contains(where: { $0.hasPrefix(s.suffix(n)) }) {
            return n
        }
        return 0
    }

    /// A message header: its channel (after `<|channel|>`, up to a space or `<|`) and a
    /// `to=functions.NAME` recipient wherever it stands.
    private static func parse(header: String) -> State {
        func word(after marker: String) -> String? {
            guard let r = header.range(of: marker) else { return nil }
            let rest = header[r.upperBound...]
            let w = rest.prefix { !$0.isWhitespace && $0 != "<" }
            return w.isEmpty ? nil : String(w)
        }
        let channel = word(after: channel) ?? "final"
        let recipient = word(after: "to=functions.")
        return .body(channel: channel, recipient: recipient)
    }

    private mutating func emitCall(_ name: String, into out: inout [ToolCallParser.Piece]) {
        defer { callBody = "" }
        let body = callBody.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let args = try? JSONValue.parse(Array(body.utf8)), case .object = args else {
            out.append(.text(ToolCallFormat.harmony.call(name: name, arguments: callBody)))
            return
        }
        out.append(.call(name: name, arguments: JSONWriter.string(args)))
        callCount += 1
    }
}
