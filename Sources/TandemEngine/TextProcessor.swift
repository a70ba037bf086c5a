import Foundation
import TandemCore
import TandemEngineCore
import TandemModel

/// The text side of one request, in front of the token engine: streaming detokenisation
/// (UTF-8 safe), stop strings (held back until they cannot match, never emitted), the reasoning
/// split and its budget. Runs on the engine's text thread (`TextFront`), never on the step thread.
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

/// The engine's text side: one thread (not the step thread, not Swift's cooperative pool, whose
/// few threads a busy process can hold for long) that runs each `submit`ted request's
/// `TextProcessor` on its token events as the step thread posts them, and streams the text.
final class TextFront: @unchecked Sendable {
    weak var engine: Engine?
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [(RequestID, Item)] = []
    private var entries: [RequestID: Entry] = [:]
    private var thread: Thread?
    private var stopped = false

    enum Item {
        case event(TokenEvent)
        case end((any Error)?)
    }

    struct Entry {
        var processor: TextProcessor
        let continuation: AsyncThrowingStream<EngineEvent, Error>.Continuation
        let tokenizer: any Tokenizer
        /// The engine waits for `acknowledge` after each `.tokens` event of this request.
        let steered: Bool
    }

    func register(_ id: RequestID, _ entry: Entry) {
        condition.lock()
        entries[id] = entry
        if thread == nil && !stopped {
            let t = Thread { [weak self] in self?.run() }
            t.name = "tandem-text"
            thread = t
            t.start()
        }
        condition.unlock()
    }

    /// Forgets a request (its client went away or it was never admitted).
    func drop(_ id: RequestID) {
        condition.lock()
        entries.removeValue(forKey: id)
        condition.unlock()
    }

    func post(_ id: RequestID, _ item: Item) {
        condition.lock()
        queue.append((id, item))
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        let open = entries
        entries.removeAll()
        condition.broadcast()
        condition.unlock()
        for (_, e) in open { e.continuation.finish(throwing: EngineError(.shutDown, "the engine is shutting down")) }
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopped { condition.wait() }
            if stopped { condition.unlock(); return }
            let (id, item) = queue.removeFirst()
            let taken = entries.removeValue(forKey: id)
            condition.unlock()
            guard var entry = taken else { continue }
            if handle(id, item, &entry) {
                condition.lock()
                if !stopped { entries[id] = entry }
                condition.unlock()
            }
        }
    }

    /// Runs one item through the request's processor; returns whether the request goes on.
    private func handle(_ id: RequestID, _ item: Item, _ entry: inout Entry) -> Bool {
        let c = entry.continuation
        switch item {
        case .event(.tokens(let t, let logprobs, let cached)):
            let step = entry.processor.consume(t, logprobs: logprobs, cachedPromptTokens: cached)
            if let e = step.event { c.yield(e) }
            if let s = step.stopString {
                // The engine frees the sequence now; its sink's end comes here and is ignored.
                engine?.cancel(id, reason: .stopString(s))
                if let tail = entry.processor.drain() { c.yield(tail) }
                c.yield(.finished(reason: .stopString(s), usage: entry.processor.usageSoFar))
                c.finish()
                return false
            }
            if let tag = step.forceClose {
                engine?.force(id, tokens: entry.tokenizer.encode(tag, addBOS: false, parseSpecial: true))
            }
            if entry.steered { engine?.acknowledge(id) }
            return true
        case .event(.finished(let reason, let usage)):
            if let tail = entry.processor.drain() { c.yield(tail) }
            c.yield(.finished(reason: reason, usage: entry.processor.usage(usage)))
            c.finish()
            return false
        case .end(let error):
            if let error { c.finish(throwing: error) } else { c.finish() }
            return false
        }
    }
}

extension Engine {
    /// Queues `request` and streams text: its token events go through a `TextProcessor` on the
    /// engine's text thread (`TextFront`), never on the step thread. A stop string ends the
    /// request in the engine (`cancel(_, reason: .stopString)`); a reasoning budget forces the
    /// close tag (`force`); either makes the request acknowledged, so the engine stays at most a
    /// step ahead of its text. Throws `EngineError.rejected` at once when it cannot be accepted.
    public func submit(_ request: EngineRequest) throws -> AsyncThrowingStream<EngineEvent, Error> {
        try submit(request, choices: 1)[0]
    }

    /// `choices` answers to one prompt (`n`), one stream each: choice 0 is `request`, choice i
    /// has the id `<id>/<i>` and, when the request set a seed, the seed + i. The prompt is
    /// prefilled once: the other choices start from choice 0's K/V when its prompt is computed.
    public func submit(_ request: EngineRequest, choices: Int) throws -> [AsyncThrowingStream<EngineEvent, Error>] {
        guard choices > 1 else { return [try submitOne(request, forks: [])] }
        var forks: [EngineRequest] = []
        for i in 1..<choices {
            var r = request
            r.id = RequestID("\(request.id)/\(i)")
            if let seed = request.sampling.parameters.seed { r.sampling.parameters.seed = seed &+ UInt64(i) }
            forks.append(r)
        }
        var streams: [AsyncThrowingStream<EngineEvent, Error>] = []
        var sinks: [(request: EngineRequest, sink: TokenSink)] = []
        for r in forks {
            let (stream, sink) = textStream(r)
            streams.append(stream)
            sinks.append((r, sink))
        }
        do {
            return [try submitOne(request, forks: sinks)] + streams
        } catch {
            for r in forks { text.drop(r.id) }
            throw error
        }
    }

    /// The text front's stream and token sink for one request.
    private func textStream(_ request: EngineRequest) -> (AsyncThrowingStream<EngineEvent, Error>, TokenSink) {
        let (stream, continuation) = AsyncThrowingStream<EngineEvent, Error>.makeStream()
        let front = text, id = request.id
        front.register(id, TextFront.Entry(processor: TextProcessor(request: request, tokenizer: model.tokenizer),
                                           continuation: continuation, tokenizer: model.tokenizer, steered: Self.steered(request)))
        continuation.onTermination = { [weak self] termination in
            if case .cancelled = termination {
                front.drop(id)
                self?.cancel(id)
            }
        }
        return (stream, TokenSink(yield: { front.post(id, .event($0)) }, finish: { front.post(id, .end($0)) }))
    }

    private func submitOne(_ request: EngineRequest, forks: [(request: EngineRequest, sink: TokenSink)]) throws -> AsyncThrowingStream<EngineEvent, Error> {
        let (stream, sink) = textStream(request)
        do {
            try enqueue(request, acknowledged: Self.steered(request), sink: sink, forks: forks)
        } catch {
            text.drop(request.id)
            throw error
        }
        return stream
    }

    /// Text can end or steer the request (stop strings, a reasoning budget): its token events
    /// are acknowledged, so the text front runs at most one step behind.
    static func steered(_ request: EngineRequest) -> Bool {
        !request.stopStrings.isEmpty || request.reasoning?.budgetTokens != nil
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
