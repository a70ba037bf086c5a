import TandemCore
import TandemEngineCore
import TandemModel

/// The text side of one request, in front of the token engine: streaming detokenisation
/// (UTF-8 safe), stop strings (held back until they cannot match, never emitted), the reasoning
/// split and its budget. Runs on the consumer's side, never on the step thread.
public struct TextProcessor {
    public let request: EngineRequest
    private var detokenizer: StreamingDetokenizer
    private var stops: StopStringMatcher
    private var reasoning: ReasoningSplitter?
    /// Tokens consumed (what `usage.completion_tokens` counts when a stop string ends the request).
    public private(set) var completionTokens = 0
    public private(set) var cachedPromptTokens = 0

    public init(request: EngineRequest, tokenizer: any Tokenizer) {
        self.request = request
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer, previous: request.promptTokens.last)
        stops = StopStringMatcher(stopStrings: request.stopStrings)
        reasoning = request.reasoning.map { ReasoningSplitter(configuration: $0) }
    }

    /// What one batch of new tokens gives: a text event (nil when all of it is held back), the
    /// stop string that matched (the request must end there), and a close tag to force.
    public struct Step {
        public var event: EngineEvent?
        public var stopString: String?
        public var forceClose: String?
    }

    /// Turns newly generated tokens into a text event.
    public mutating func consume(_ tokens: [TokenID], logprobs: [SampledToken], cachedPromptTokens cached: Int) -> Step {
        cachedPromptTokens = cached
        completionTokens += tokens.count
        var text = ""
        for t in tokens { text += detokenizer.append(t) }
        var stopString: String?
        switch stops.process(text) {
        case .continue(let emit): text = emit
        case .stopped(let emit, let s): text = emit; stopString = s
        }
        if stopString != nil { text += detokenizer.flush() }
        return route(text, tokens: tokens, logprobs: logprobs, stopString: stopString)
    }

    /// Text still held at the end (incomplete UTF-8, a possible stop-string start).
    public mutating func drain() -> EngineEvent? {
        var text = detokenizer.flush()
        text += stops.finish()
        var event = route(text, tokens: [], logprobs: [], stopString: nil).event
        if var r = reasoning {
            let out = r.finish()
            reasoning = r
            if !out.reasoning.isEmpty || !out.content.isEmpty {
                if case .delta(let c, let rs, let t, let l) = event ?? .delta(content: "", reasoning: "", tokens: [], logprobs: []) {
                    event = .delta(content: c + out.content, reasoning: rs + out.reasoning, tokens: t, logprobs: l)
                }
            }
        }
        return event
    }

    /// The engine's usage with the reasoning tokens counted here.
    public func usage(_ engine: EngineUsage) -> EngineUsage {
        var u = engine
        u.reasoningTokens = reasoning?.reasoningTokenCount ?? 0
        return u
    }

    /// Usage of a request this processor ended (a stop string): the tokens it consumed.
    public var usageSoFar: EngineUsage {
        EngineUsage(promptTokens: request.promptTokens.count, cachedPromptTokens: cachedPromptTokens,
                    completionTokens: completionTokens, reasoningTokens: reasoning?.reasoningTokenCount ?? 0)
    }

    private mutating func route(_ text: String, tokens: [TokenID], logprobs: [SampledToken], stopString: String?) -> Step {
        var content = text, thinking = "", forceClose: String?
        if var r = reasoning {
            let out = r.process(text, tokenCount: tokens.count)
            reasoning = r
            content = out.content
            thinking = out.reasoning
            if case .forceClose(let tag) = out.directive { forceClose = tag }
        }
        guard !content.isEmpty || !thinking.isEmpty || !tokens.isEmpty else { return Step(stopString: stopString, forceClose: forceClose) }
        return Step(event: .delta(content: content, reasoning: thinking, tokens: tokens, logprobs: logprobs),
                    stopString: stopString, forceClose: forceClose)
    }
}

extension Engine {
    /// Queues `request` and streams text: the token stream of `submitTokens` through a
    /// `TextProcessor`, on a task of its own (never the step thread). A stop string ends the
    /// request in the engine (`cancel(_, reason: .stopString)`); a reasoning budget forces the
    /// close tag (`force`). Throws `EngineError.rejected` at once when it cannot be accepted.
    public func submit(_ request: EngineRequest) throws -> AsyncThrowingStream<EngineEvent, Error> {
        // Text that can end or steer the request keeps the engine at most a step ahead of it.
        let steered = !request.stopStrings.isEmpty || request.reasoning?.budgetTokens != nil
        let tokens = try submitTokens(request, acknowledged: steered)
        let (stream, continuation) = AsyncThrowingStream<EngineEvent, Error>.makeStream()
        let tokenizer = model.tokenizer
        let task = Task.detached { [weak self] in
            var text = TextProcessor(request: request, tokenizer: tokenizer)
            do {
                for try await event in tokens {
                    switch event {
                    case .tokens(let t, let logprobs, let cached):
                        let step = text.consume(t, logprobs: logprobs, cachedPromptTokens: cached)
                        if let e = step.event { continuation.yield(e) }
                        if let tag = step.forceClose, step.stopString == nil {
                            self?.force(request.id, tokens: tokenizer.encode(tag, addBOS: false, parseSpecial: true))
                        }
                        if steered, step.stopString == nil { self?.acknowledge(request.id) }
                        if let s = step.stopString {
                            self?.cancel(request.id, reason: .stopString(s))
                            if let tail = text.drain() { continuation.yield(tail) }
                            continuation.yield(.finished(reason: .stopString(s), usage: text.usageSoFar))
                            continuation.finish()
                            return
                        }
                    case .finished(let reason, let usage):
                        if let tail = text.drain() { continuation.yield(tail) }
                        continuation.yield(.finished(reason: reason, usage: text.usage(usage)))
                        continuation.finish()
                        return
                    }
                }
                // Cancelled, or the engine shut down.
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination {
                task.cancel()
                self?.cancel(request.id)
            }
        }
        return stream
    }

    /// Runs `request` to completion and returns the tokens, text and usage (tests, CLI).
    public func generate(_ request: EngineRequest) async throws -> (tokens: [TokenID], text: String, reasoning: String,
                                                                     reason: FinishReason, usage: EngineUsage) {
        var tokens: [TokenID] = [], text = "", thinking = ""
        for try await e in try submit(request) {
            switch e {
            case .delta(let c, let r, let t, _): text += c; thinking += r; tokens += t
            case .finished(let reason, let usage): return (tokens, text, thinking, reason, usage)
            }
        }
        throw EngineError(.shutDown, "the stream ended without a result")
    }
}
