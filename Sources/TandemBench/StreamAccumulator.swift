import Foundation

/// Splits a server-sent-events byte stream into `data:` payloads (one per event; multi-line data
/// joined with "\n"). Accepts LF and CRLF line endings; comments and other fields are ignored.
public struct SSEParser: Sendable {
    private var line: [UInt8] = []
    private var data: [String] = []
    private var sawData = false

    public init() {}

    public mutating func feed<S: Sequence>(_ bytes: S) -> [String] where S.Element == UInt8 {
        var out: [String] = []
        for b in bytes {
            if b == UInt8(ascii: "\n") {
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                endLine(into: &out)
            } else {
                line.append(b)
            }
        }
        return out
    }

    /// Flushes an event left without its blank line at the end of the stream.
    public mutating func finish() -> [String] {
        var out: [String] = []
        if !line.isEmpty { endLine(into: &out) }
        if sawData { out.append(data.joined(separator: "\n")) }
        data = []
        sawData = false
        return out
    }

    private mutating func endLine(into out: inout [String]) {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            if sawData { out.append(data.joined(separator: "\n")) }
            data = []
            sawData = false
            return
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("data:") else { return }
        var value = text.dropFirst(5)
        if value.first == " " { value = value.dropFirst() }
        data.append(String(value))
        sawData = true
    }
}

/// Turns the timed SSE payloads of one streamed completion into a `RequestRecord`'s measurements.
/// Pure: the caller supplies the arrival time (seconds since the request was sent) of each payload.
public struct StreamAccumulator: Sendable {
    public private(set) var ttft: Double?
    public private(set) var itl: [Double] = []
    public private(set) var chunks = 0
    public private(set) var promptTokens: Int?
    public private(set) var cachedTokens = 0
    public private(set) var outputTokens: Int?
    public private(set) var finishReason: String?
    public private(set) var acceptedDraftTokens: Int?
    public private(set) var rejectedDraftTokens: Int?
    public private(set) var reasoningTokens: Int?
    /// Characters of answer text and of reasoning text seen.
    public private(set) var contentCharacters = 0
    /// The answer's text (content, not reasoning), kept when the request asks for it.
    public private(set) var answer = ""
    public private(set) var reasoningCharacters = 0
    public private(set) var sawDone = false
    public private(set) var error: (type: String, message: String)?
    private var lastText: Double?

    public init() {}

    public mutating func consume(_ payload: String, at t: Double) {
        if payload == "[DONE]" {
            sawDone = true
            return
        }
        guard let obj = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any] else {
            if error == nil { error = ("bad_chunk", "unparsable SSE data: \(payload.prefix(200))") }
            return
        }
        if let err = obj["error"] as? [String: Any] {
            let type = (err["type"] as? String) ?? (err["code"] as? String) ?? "stream_error"
            error = ("stream_\(type)", (err["message"] as? String) ?? "error event")
            return
        }
        if let usage = obj["usage"] as? [String: Any] {
            promptTokens = usage["prompt_tokens"] as? Int
            outputTokens = usage["completion_tokens"] as? Int
            if let details = usage["prompt_tokens_details"] as? [String: Any], let c = details["cached_tokens"] as? Int {
                cachedTokens = c
            }
            // Speculative decoding (OpenAI's names for its predicted outputs); 0 and 0: none drafted.
            if let details = usage["completion_tokens_details"] as? [String: Any] {
                reasoningTokens = details["reasoning_tokens"] as? Int
                let a = details["accepted_prediction_tokens"] as? Int, r = details["rejected_prediction_tokens"] as? Int
                if (a ?? 0) + (r ?? 0) > 0 {
                    acceptedDraftTokens = a ?? 0
                    rejectedDraftTokens = r ?? 0
                }
            }
        }
        guard let choices = obj["choices"] as? [[String: Any]], let choice = choices.first else { return }
        var text = ""
        if let t = choice["text"] as? String { text += t; contentCharacters += t.count; answer += t }
        if let delta = choice["delta"] as? [String: Any] {
            for key in ["content", "reasoning_content", "reasoning"] {
                if let t = delta[key] as? String {
                    text += t
                    if key == "content" { contentCharacters += t.count; answer += t } else { reasoningCharacters += t.count }
                }
            }
            if let calls = delta["tool_calls"] as? [Any], !calls.isEmpty { contentCharacters += 1 }
        }
        if let f = choice["finish_reason"] as? String { finishReason = f }
        if !text.isEmpty {
            if let last = lastText { itl.append(t - last) } else { ttft = t }
            lastText = t
            chunks += 1
        }
    }

    /// The record for a stream that ended at `end` seconds.
    public func record(index: Int, level: String, tag: String, start: Double, end: Double) -> RequestRecord {
        var r = RequestRecord(index: index, level: level, tag: tag, start: start, ttft: ttft, e2e: end, itl: itl,
                              promptTokens: promptTokens ?? 0, cachedTokens: cachedTokens,
                              outputTokens: outputTokens ?? 0, chunks: chunks, finishReason: finishReason)
        r.tpot = RequestRecord.tpot(ttft: ttft, e2e: end, outputTokens: r.outputTokens)
        r.acceptedDraftTokens = acceptedDraftTokens
        r.rejectedDraftTokens = rejectedDraftTokens
        r.reasoningTokens = reasoningTokens
        r.emptyAnswer = contentCharacters == 0
        if let error {
            r.error = error.type
            r.errorMessage = error.message
        } else if !sawDone {
            r.error = "incomplete"
            r.errorMessage = "the stream ended without [DONE]"
        } else if outputTokens == nil {
            r.error = "no_usage"
            r.errorMessage = "no usage chunk (stream_options.include_usage)"
        }
        return r
    }
}
