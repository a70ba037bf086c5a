import TandemCore

/// Finds function calls in a model's streamed answer, in its family's `ToolCallFormat`, and
/// splits the answer into text and calls as it streams.
///
/// Tagged formats: text outside the tags streams on at once, except a tail that could be the
/// start of the opening tag; a call is reported when its closing tag arrives (or at the end, for
/// a last call the model did not close). A tagged body that is not `{"name": string,
/// "arguments": object}` is given back as text. Whitespace between calls is dropped.
/// Bare JSON: an answer that begins with `{` (or `<|python_tag|>`) is held to the end and is a
/// call if it parses as one (several may be joined by `;`), text otherwise.
/// List formats (`[TOOL_CALLS][…]`, `<TOOLCALL>[…]</TOOLCALL>`) and named ones
/// (`[TOOL_CALLS]name[ARGS]{…}`, repeated): as tagged, the body read as a JSON list of calls, or
/// as name-separator-arguments parts; without a closing text a call runs to the end. DeepSeek: as
/// tagged between `<｜tool▁calls▁begin｜>` and `<｜tool▁calls▁end｜>`, each
/// `<｜tool▁call▁begin｜>`…`<｜tool▁call▁end｜>` part read in either framing (R1's typed one with
/// a fenced JSON block, or V3.1's name-separator-arguments).
public struct ToolCallParser: Sendable {
    public enum Piece: Sendable, Equatable {
        case text(String)
        case call(name: String, arguments: String)
        /// Reasoning the format marks as such (harmony's analysis channel).
        case reasoning(String)
    }

    public let format: ToolCallFormat
    private var buffer = ""
    private var inCall = false
    /// Whitespace held until it is known whether a call follows (then dropped) or text.
    private var pendingSpace = ""
    /// Bare JSON: nil until the first non-space character decides.
    private var holding: Bool?
    private var harmony = HarmonyParser()
    private var calls = 0
    public var callCount: Int { format == .harmony ? harmony.callCount : calls }
    /// Inside a message the format marks as reasoning (harmony's analysis channel).
    public var isInReasoning: Bool { format == .harmony && harmony.isInReasoning }

    public init(format: ToolCallFormat) { self.format = format }

    public mutating func feed(_ text: String) -> [Piece] {
        if format == .harmony { return harmony.feed(text, atEnd: false) }
        buffer += text
        switch format {
        case .tagged(let open, let close), .list(let open, let close): return scanTagged(open: open, close: close, atEnd: false)
        case .named(let open, _): return scanTagged(open: open, close: "", atEnd: false)
        case .deepSeek: return scanTagged(open: ToolCallFormat.deepSeekCallsBegin, close: ToolCallFormat.deepSeekCallsEnd, atEnd: false)
        case .harmony: return []
        case .bareJSON: return scanBare(atEnd: false)
        }
    }

    /// Whatever is left at the end of the answer.
    public mutating func finish() -> [Piece] {
        switch format {
        case .tagged(let open, let close), .list(let open, let close): return scanTagged(open: open, close: close, atEnd: true)
        case .named(let open, _): return scanTagged(open: open, close: "", atEnd: true)
        case .deepSeek: return scanTagged(open: ToolCallFormat.deepSeekCallsBegin, close: ToolCallFormat.deepSeekCallsEnd, atEnd: true)
        case .harmony: return harmony.feed("", atEnd: true)
        case .bareJSON: return scanBare(atEnd: true)
        }
    }

    /// Text goes out with the whitespace held before it; its own trailing whitespace is held.
    private mutating func text(_ s: String, into out: inout [Piece]) {
        let body = s.reversed().drop(while: \.isWhitespace).reversed()
        let trailing = s.dropFirst(body.count)
        if !body.isEmpty {
            out.append(.text(pendingSpace + String(body)))
            pendingSpace = ""
        }
        pendingSpace += trailing
    }

    /// The calls in one body (between the opening and closing texts); false if it is not calls.
    private mutating func call(_ body: Substring, into out: inout [Piece]) -> Bool {
        var calls: [(String, String)] = []
        switch format {
        case .tagged, .bareJSON:
            guard let c = Self.parseCall(body, argumentsKey: format.argumentsKey) else { return false }
            calls = [c]
        case .list:
            guard let value = try? JSONValue.parse(Array(body.utf8)), case .array(let items) = value, !items.isEmpty else { return false }
            for item in items {
                guard let c = Self.parseCall(Substring(JSONWriter.string(item)), argumentsKey: "arguments") else { return false }
                calls.append(c)
            }
        case .named(let open, let separator):
            for part in body.components(separatedBy: open) where !part.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                guard let r = part.range(of: separator) else { return false }
                let name = part[..<r.lowerBound].trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty, let args = try? JSONValue.parse(Array(part[r.upperBound...].utf8)), case .object = args else { return false }
                calls.append((name, JSONWriter.string(args)))
            }
            guard !calls.isEmpty else { return false }
        case .deepSeek:
            for part in body.components(separatedBy: ToolCallFormat.deepSeekCallBegin) {
                let trimmed = part.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { continue }
                // The last call of an answer cut short may lack its end token.
                let inner = trimmed.hasSuffix(ToolCallFormat.deepSeekCallEnd) ? String(trimmed.dropLast(ToolCallFormat.deepSeekCallEnd.count)) : trimmed
                guard let c = Self.parseDeepSeekCall(inner) else { return false }
                calls.append(c)
            }
            guard !calls.isEmpty else { return false }
        case .harmony: return false // HarmonyParser reads its own messages
        }
        pendingSpace = ""
        for (name, arguments) in calls { out.append(.call(name: name, arguments: arguments)) }
        self.calls += calls.count
        return true
    }

    /// `{"name": string, key: object}` → the name and the arguments as compact JSON.
    static func parseCall(_ body: Substring, argumentsKey: String) -> (String, String)? {
        guard let value = try? JSONValue.parse(Array(body.utf8)), case .object(let pairs) = value,
              let name = value["name"]?.stringValue, !name.isEmpty else { return nil }
        let arguments = value[argumentsKey] ?? value["arguments"] ?? value["parameters"] ?? .object([])
        // At most name, arguments and an id (Mistral's lists carry one).
        guard case .object = arguments, pairs.count <= 3 else { return nil }
        return (name, JSONWriter.string(arguments))
    }

    /// One DeepSeek call between its begin and end tokens: `function<｜tool▁sep｜>name` then a
    /// ```json fenced object (R1), or `name<｜tool▁sep｜>object` (V3.1).
    static func parseDeepSeekCall(_ inner: String) -> (String, String)? {
        guard let sep = inner.range(of: ToolCallFormat.deepSeekSeparator) else { return nil }
        var name = inner[..<sep.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        var rest = inner[sep.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
        if name == "function", let fence = rest.range(of: "```json") {
            name = rest[..<fence.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
            rest = rest[fence.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
            guard rest.hasSuffix("```") else { return nil }
            rest = String(rest.dropLast(3))
        }
        guard !name.isEmpty, !name.contains("\n"), let args = try? JSONValue.parse(Array(rest.utf8)), case .object = args else { return nil }
        return (name, JSONWriter.string(args))
    }

    private mutating func scanTagged(open: String, close: String, atEnd: Bool) -> [Piece] {
        var out: [Piece] = []
        while true {
            if inCall {
                if !close.isEmpty, let r = buffer.range(of: close) {
                    let body = buffer[..<r.lowerBound]
                    if !call(body, into: &out) { text(open + body + close, into: &out) }
                    buffer = String(buffer[r.upperBound...])
                    inCall = false
                    continue
                }
                if atEnd {
                    if !call(buffer[...], into: &out) { text(open + buffer, into: &out) }
                    buffer = ""
                    inCall = false
                }
                break
            }
            if let r = buffer.range(of: open) {
                text(String(buffer[..<r.lowerBound]), into: &out)
                buffer = String(buffer[r.upperBound...])
                inCall = true
                continue
            }
            // Hold back a tail that may be the beginning of the opening tag.
            var keep = 0
            if !atEnd {
                for n in stride(from: min(open.count - 1, buffer.count), through: 1, by: -1) where open.hasPrefix(buffer.suffix(n)) {
                    keep = n
                    break
                }
            }
            text(String(buffer.dropLast(keep)), into: &out)
            buffer = String(buffer.suffix(keep))
            break
        }
        if atEnd, callCount == 0, !pendingSpace.isEmpty {
            out.append(.text(pendingSpace))
            pendingSpace = ""
        }
        return out
    }

    private mutating func scanBare(atEnd: Bool) -> [Piece] {
        let start = buffer.drop(while: \.isWhitespace)
        if holding == nil, !start.isEmpty, !(start.count < 14 && "<|python_tag|>".hasPrefix(start)) || atEnd {
            holding = start.hasPrefix("{") || start.hasPrefix("<|python_tag|>")
        }
        if holding == false || (holding == nil && atEnd) {
            defer { buffer = "" }
            return buffer.isEmpty ? [] : [.text(buffer)]
        }
        guard atEnd else { return [] }
        var body = buffer.drop(while: \.isWhitespace)
        if body.hasPrefix("<|python_tag|>") { body = body.dropFirst("<|python_tag|>".count) }
        var calls: [Piece] = []
        for part in body.split(separator: ";") {
            guard let (name, arguments) = Self.parseCall(part, argumentsKey: format.argumentsKey) else {
                defer { buffer = "" }
                return [.text(buffer)]
            }
            calls.append(.call(name: name, arguments: arguments))
        }
        self.calls += calls.count
        buffer = ""
        return calls
    }
}
