import TandemCore
/// Collects a backend's events into the parts of a complete (non-streamed) answer and checks that
/// the stream was well formed.
public struct CompletionAccumulator: Sendable {
    /// One choice's answer.
    public struct Choice: Sendable, Equatable {
        public var content = ""
        public var reasoning = ""
        public var logprobs: [OpenAITokenLogprob] = []
        /// Function calls, their deltas joined by index.
        public var toolCalls: [ChatMessage.ToolCall] = []
        public var finishReason: OpenAIFinishReason?
    }

    /// The choices by index (at least one).
    public private(set) var choices: [Choice] = [Choice()]
    public private(set) var usage: Usage?
    /// Number of non-empty deltas seen (a proxy for generated tokens when no usage arrives).
    public private(set) var deltaCount = 0

    public init() {}

    // Choice 0, for single-choice answers.
    public var content: String { choices[0].content }
    public var reasoning: String { choices[0].reasoning }
    public var logprobs: [OpenAITokenLogprob] { choices[0].logprobs }
    public var toolCalls: [ChatMessage.ToolCall] { choices[0].toolCalls }
    public var finishReason: OpenAIFinishReason? { choices[0].finishReason }

    /// Whether the first `count` choices have all finished.
    public func finished(count: Int) -> Bool {
        choices.count >= count && choices.prefix(count).allSatisfy { $0.finishReason != nil }
    }

    private mutating func grow(to index: Int) {
        while choices.count <= index { choices.append(Choice()) }
    }

    public mutating func add(_ event: CompletionEvent) {
        switch event {
        case .delta(let d):
            grow(to: d.index)
            var c = choices[d.index]
            c.content += d.content
            c.reasoning += d.reasoning
            c.logprobs += d.logprobs
            for call in d.toolCalls {
                while c.toolCalls.count <= call.index { c.toolCalls.append(ChatMessage.ToolCall(id: "", name: "", arguments: "")) }
                if let id = call.id { c.toolCalls[call.index].id = id }
                if let name = call.name { c.toolCalls[call.index].name += name }
                c.toolCalls[call.index].arguments += call.arguments
            }
            choices[d.index] = c
            if !d.isEmpty { deltaCount += 1 }
        case .finish(let reason, let index):
            grow(to: index)
            choices[index].finishReason = reason
        case .usage(let u): usage = u
        }
    }

    /// Why a choice's final text breaks the request's `response_format`, or nil when all conform.
    ///
    /// Only a finished answer (`finish_reason` `stop`) is checked: a `length` finish is truncated
    /// by definition and the client is told so by the finish reason, as OpenAI does.
    public func responseFormatProblem(_ format: ResponseFormat) -> String? {
        for c in choices {
            guard format.requiresJSON, c.finishReason == .stop, c.toolCalls.isEmpty else { continue }
            guard let value = try? JSONValue.parse(c.content) else {
                return "The model's output is not valid JSON although response_format asked for JSON."
            }
            if case .jsonObject = format, case .object = value {} else if case .jsonObject = format {
                return "The model's output is JSON but not an object although response_format is json_object."
            }
        }
        return nil
    }
}
