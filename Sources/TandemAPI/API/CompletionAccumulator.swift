import TandemCore
/// Collects a backend's events into the parts of a complete (non-streamed) answer and checks that
/// the stream was well formed.
public struct CompletionAccumulator: Sendable {
    public private(set) var content = ""
    public private(set) var reasoning = ""
    public private(set) var logprobs: [OpenAITokenLogprob] = []
    /// Function calls, their deltas joined by index.
    public private(set) var toolCalls: [ChatMessage.ToolCall] = []
    public private(set) var finishReason: OpenAIFinishReason?
    public private(set) var usage: Usage?
    /// Number of non-empty deltas seen (a proxy for generated tokens when no usage arrives).
    public private(set) var deltaCount = 0

    public init() {}

    public mutating func add(_ event: CompletionEvent) {
        switch event {
        case .delta(let d):
            content += d.content
            reasoning += d.reasoning
            logprobs += d.logprobs
            for call in d.toolCalls {
                while toolCalls.count <= call.index { toolCalls.append(ChatMessage.ToolCall(id: "", name: "", arguments: "")) }
                if let id = call.id { toolCalls[call.index].id = id }
                if let name = call.name { toolCalls[call.index].name += name }
                toolCalls[call.index].arguments += call.arguments
            }
            if !d.isEmpty { deltaCount += 1 }
        case .finish(let reason): finishReason = reason
        case .usage(let u): usage = u
        }
    }

    /// Why the final text breaks the request's `response_format`, or nil when it conforms.
    ///
    /// Only a finished answer (`finish_reason` `stop`) is checked: a `length` finish is truncated
    /// by definition and the client is told so by the finish reason, as OpenAI does.
    public func responseFormatProblem(_ format: ResponseFormat) -> String? {
        guard format.requiresJSON, finishReason == .stop, toolCalls.isEmpty else { return nil }
        guard let value = try? JSONValue.parse(content) else {
            return "The model's output is not valid JSON although response_format asked for JSON."
        }
        if case .jsonObject = format, case .object = value {} else if case .jsonObject = format {
            return "The model's output is JSON but not an object although response_format is json_object."
        }
        return nil
    }
}
