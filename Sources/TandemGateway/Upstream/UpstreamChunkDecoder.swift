import TandemCore
import TandemAPI

/// Turns an upstream's streamed chunks (`chat.completion.chunk` or `text_completion` JSON) into
/// `CompletionEvent`s, and upstream error bodies and statuses into `BackendError`s. Pure.
public struct UpstreamChunkDecoder: Sendable {
    /// Choices the upstream has finished.
    public private(set) var finishedChoices: Set<Int> = []
    public var sawFinish: Bool { !finishedChoices.isEmpty }
    public private(set) var usage: Usage?
    public private(set) var sawDone = false

    public init() {}

    /// Events for one SSE `data` payload. Usage is held back and reported by `finish()`, so the
    /// stream ends with it whatever chunk the upstream put it in.
    public mutating func decode(_ data: String) throws(BackendError) -> [CompletionEvent] {
        if data == "[DONE]" { sawDone = true; return [] }
        guard let json = try? JSONValue.parse(data), case .object = json else {
            throw BackendError(.internal, "The upstream sent a chunk that is not a JSON object.")
        }
        if let error = json["error"], !error.isNull {
            throw Self.error(fromBody: json, status: nil)
        }
        var events: [CompletionEvent] = []
        if case .array(let choices)? = json["choices"] {
            for (position, choice) in choices.enumerated() {
                let index = try Self.index(choice["index"], default: position, limit: RequestValidator.maxChoicesPerRequest, "choice")
                let delta = try Self.delta(choice, index: index)
                if !delta.isEmpty { events.append(.delta(delta)) }
                if let reason = choice["finish_reason"]?.stringValue {
                    finishedChoices.insert(index)
                    events.append(.finish(OpenAIFinishReason(rawValue: reason), index: index))
                }
            }
        }
        if let u = json["usage"], case .object = u {
            usage = Usage(
                promptTokens: try Self.count(u["prompt_tokens"], "prompt_tokens"),
                completionTokens: try Self.count(u["completion_tokens"], "completion_tokens"),
                cachedTokens: try Self.count(u["prompt_tokens_details"]?["cached_tokens"], "prompt_tokens_details.cached_tokens"),
                reasoningTokens: try Self.count(u["completion_tokens_details"]?["reasoning_tokens"], "completion_tokens_details.reasoning_tokens"),
                acceptedPredictionTokens: try Self.count(u["completion_tokens_details"]?["accepted_prediction_tokens"],
                                                         "completion_tokens_details.accepted_prediction_tokens"),
                rejectedPredictionTokens: try Self.count(u["completion_tokens_details"]?["rejected_prediction_tokens"],
                                                         "completion_tokens_details.rejected_prediction_tokens"))
        }
        return events
    }

    /// An index an upstream sent (a choice's, a tool call's), within `0..<limit`.
    static func index(_ value: JSONValue?, default position: Int, limit: Int, _ what: String) throws(BackendError) -> Int {
        guard let value, !value.isNull else { return position }
        guard let i = value.intValue, i >= 0, i < limit else {
            throw BackendError(.internal, "The upstream sent a \(what) index \(JSONWriter.string(value).prefix(20)) outside 0..<\(limit).")
        }
        return Int(i)
    }

    /// One choice of a chunk: its text (chat `delta` or completion `text`), reasoning, tool calls, logprobs.
    static func delta(_ choice: JSONValue, index: Int) throws(BackendError) -> CompletionDelta {
        var delta = CompletionDelta(index: index)
        if let d = choice["delta"] {
            delta.content = d["content"]?.stringValue ?? ""
            delta.reasoning = d["reasoning_content"]?.stringValue ?? d["reasoning"]?.stringValue ?? ""
            if case .array(let calls)? = d["tool_calls"] {
                for (i, call) in calls.enumerated() {
                    delta.toolCalls.append(ToolCallDelta(
                        index: try Self.index(call["index"], default: i, limit: RequestValidator.maxTools, "tool call"), id: call["id"]?.stringValue,
                        name: call["function"]?["name"]?.stringValue, arguments: call["function"]?["arguments"]?.stringValue ?? ""))
                }
            }
        } else if let text = choice["text"]?.stringValue {
            delta.content = text
        }
        if let lp = choice["logprobs"], !lp.isNull { delta.logprobs = logprobs(lp) }
        return delta
    }

    /// Most tokens one usage field may report; anything above is not a real count.
    public static let maxUsageCount: Int64 = 1 << 40

    /// A usage count: absent or null is 0; a negative, fractional, non-numeric or absurdly large
    /// value is an error (it would go into token budgets and counters, which must not go negative
    /// or overflow).
    static func count(_ value: JSONValue?, _ field: String) throws(BackendError) -> Int {
        guard let value, !value.isNull else { return 0 }
        guard let n = value.intValue, n >= 0, n <= maxUsageCount else {
            throw BackendError(.internal, "The upstream reported an invalid usage.\(field): \(JSONWriter.string(value).prefix(40)).")
        }
        return Int(n)
    }

    /// The events due at the end of the stream; throws if it ended before a finish reason.
    public func finish() throws(BackendError) -> [CompletionEvent] {
        guard sawFinish else {
            throw BackendError(.upstreamUnavailable, "The upstream closed the stream before the answer was finished.")
        }
        return usage.map { [.usage($0)] } ?? []
    }

    /// Log-probabilities in either the chat shape (`content: [...]`) or the legacy completions shape.
    static func logprobs(_ lp: JSONValue) -> [OpenAITokenLogprob] {
        if case .array(let content)? = lp["content"] {
            return content.compactMap { item in
                guard let token = item["token"]?.stringValue else { return nil }
                let top: [OpenAITokenLogprob.Alternative]
                if case .array(let alts)? = item["top_logprobs"] {
                    top = alts.compactMap { a in
                        guard let t = a["token"]?.stringValue else { return nil }
                        return .init(token: t, logprob: a["logprob"]?.doubleValue ?? -.infinity, bytes: bytes(a["bytes"]))
                    }
                } else { top = [] }
                return OpenAITokenLogprob(token: token, logprob: item["logprob"]?.doubleValue ?? -.infinity,
                                    bytes: bytes(item["bytes"]), top: top)
            }
        }
        guard case .array(let tokens)? = lp["tokens"] else { return [] }
        let values: [JSONValue]
        if case .array(let v)? = lp["token_logprobs"] { values = v } else { values = [] }
        let tops: [JSONValue]
        if case .array(let t)? = lp["top_logprobs"] { tops = t } else { tops = [] }
        return tokens.enumerated().map { i, t in
            var top: [OpenAITokenLogprob.Alternative] = []
            if i < tops.count, case .object(let pairs) = tops[i] {
                top = pairs.map { .init(token: $0.0, logprob: $0.1.doubleValue ?? -.infinity) }.sorted { $0.logprob > $1.logprob }
            }
            return OpenAITokenLogprob(token: t.stringValue ?? "", logprob: i < values.count ? values[i].doubleValue ?? -.infinity : -.infinity, top: top)
        }
    }

    static func bytes(_ v: JSONValue?) -> [UInt8]? {
        guard case .array(let items)? = v else { return nil }
        return items.compactMap { $0.intValue.flatMap { UInt8(exactly: $0) } }
    }

    /// A `BackendError` for an upstream error: from the HTTP status when there is one (non-200
    /// answers) and the OpenAI error body when it parses.
    public static func error(fromBody body: JSONValue?, status: Int?, retryAfter: Int? = nil) -> BackendError {
        let e = body?["error"]
        let message = e?["message"]?.stringValue ?? e?.stringValue ?? "The upstream answered with status \(status.map(String.init) ?? "error")."
        let code = e?["code"]?.stringValue ?? ""
        let type = e?["type"]?.stringValue ?? ""
        let param = e?["param"]?.stringValue
        if code == "context_length_exceeded" || status == 413 {
            return BackendError(.contextTooLong, message, param: param)
        }
        switch status {
        case 400?, 422?: return BackendError(.invalidRequest, message, param: param)
        case 404?: return BackendError(.upstreamUnavailable, "The upstream does not serve this model: \(message)")
        case 408?, 504?: return BackendError(.timeout, message)
        case 429?, 503?: return BackendError(.overCapacity, message, retryAfterSeconds: retryAfter)
        case 502?: return BackendError(.upstreamUnavailable, message)
        case nil: break
        default: return BackendError(.internal, "Upstream error \(status!): \(message)")
        }
        // An error event inside a stream: read its code and type.
        switch code.isEmpty ? type : code {
        case "over_capacity", "overloaded", "overloaded_error", "rate_limit_exceeded": return BackendError(.overCapacity, message)
        case "timeout", "upstream_timeout", "timeout_error": return BackendError(.timeout, message)
        case "model_unavailable", "service_unavailable_error": return BackendError(.upstreamUnavailable, message)
        default: return BackendError(.internal, message)
        }
    }
}
