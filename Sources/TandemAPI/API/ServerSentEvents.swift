import TandemCore
/// Server-sent events framing as OpenAI uses it: `data: <json>\n\n` per chunk, `data: [DONE]\n\n` last.
public enum SSEEncoder {
    public static func event(_ json: JSONValue) -> [UInt8] {
        var out = Array("data: ".utf8)
        JSONWriter.write(json, into: &out)
        out.append(contentsOf: [10, 10])
        return out
    }

    /// A named event (`event: <name>` then its data), as the Responses API streams them.
    public static func event(_ json: JSONValue, name: String) -> [UInt8] {
        Array("event: \(name)\n".utf8) + event(json)
    }

    public static let done: [UInt8] = Array("data: [DONE]\n\n".utf8)

    /// A comment line; clients ignore it (used as a keep-alive).
    public static func comment(_ text: String) -> [UInt8] { Array(": \(text)\n\n".utf8) }
}

/// Incremental parser of a server-sent event stream: feed it bytes as they arrive, get back the
/// `data` payload of every complete event. Handles `\n`, `\r\n` and `\r` line ends, multi-line
/// data, comments and fields other than `data` (ignored). A pure value: no I/O.
public struct SSEDecoder: Sendable {
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var lastWasCR = false
    /// Longest accepted event, so a peer that never sends a newline cannot exhaust memory.
    public var maxEventBytes: Int

    public init(maxEventBytes: Int = 16 << 20) {
        self.maxEventBytes = maxEventBytes
    }

    /// Thrown when one event grows past `maxEventBytes`.
    public struct EventTooLarge: Error, Sendable {}

    /// Consumes `bytes`; returns the data of each event they complete.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws -> [String] {
        var events: [String] = []
        for byte in bytes {
            if byte == 10, lastWasCR { lastWasCR = false; continue }
            lastWasCR = byte == 13
            if byte == 10 || byte == 13 {
                if let event = endLine() { events.append(event) }
            } else {
                line.append(byte)
                if line.count + data.count > maxEventBytes { throw EventTooLarge() }
            }
        }
        return events
    }

    /// Ends the stream: an event still pending without its blank line is returned.
    public mutating func finish() -> String? {
        if !line.isEmpty { _ = endLine() }
        return dispatch()
    }

    private mutating func endLine() -> String? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty { return dispatch() }
        if line.first == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        guard line[..<colon].elementsEqual("data".utf8) else { return nil }
        var value = line[colon...].dropFirst()
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        if hasData { data.append(10) }
        data.append(contentsOf: value)
        hasData = true
        return nil
    }

    private mutating func dispatch() -> String? {
        guard hasData else { return nil }
        defer { data.removeAll(keepingCapacity: true); hasData = false }
        return String(decoding: data, as: UTF8.self)
    }
}
