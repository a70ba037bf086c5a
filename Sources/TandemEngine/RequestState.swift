import TandemCore
import TandemEngineCore
import TandemModel

/// The engine's per-request decoding state: sampler, incremental detokenizer, stop strings,
/// reasoning split and counters. Lives on the engine's step thread only.
struct RequestState {
    let request: EngineRequest
    let continuation: AsyncThrowingStream<EngineEvent, Error>.Continuation
    var sampler: Sampler
    var detokenizer: StreamingDetokenizer
    var stops: StopStringMatcher
    var reasoning: ReasoningSplitter?
    var cachedPromptTokens = 0
    var completionTokens = 0
    /// Tokens to append instead of sampling at the next step (a forced reasoning close tag).
    var forced: [TokenID] = []
    var finished = false

    /// Turns newly generated tokens into events. Returns a stop string if one matched.
    mutating func consume(_ tokens: [TokenID], logprobs: [SampledToken], stopToken: TokenID?,
                          tokenizer: any Tokenizer) -> (event: EngineEvent?, stopString: String?, forceClose: String?) {
        var text = ""
        var visible: [TokenID] = []
        for t in tokens where t != stopToken {
            text += detokenizer.append(t)
            visible.append(t)
        }
        completionTokens += tokens.count
        var stopString: String?
        switch stops.process(text) {
        case .continue(let emit): text = emit
        case .stopped(let emit, let s): text = emit; stopString = s
        }
        if stopString != nil || stopToken != nil { text += detokenizer.flush() }
        return route(text, tokens: visible, logprobs: logprobs, stopString: stopString)
    }

    /// Text still held at the end (incomplete UTF-8, a possible stop-string start).
    mutating func drain() -> EngineEvent? {
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

    private mutating func route(_ text: String, tokens: [TokenID], logprobs: [SampledToken],
                                stopString: String?) -> (event: EngineEvent?, stopString: String?, forceClose: String?) {
        var content = text, thinking = "", forceClose: String?
        if var r = reasoning {
            let out = r.process(text, tokenCount: tokens.count)
            reasoning = r
            content = out.content
            thinking = out.reasoning
            if case .forceClose(let tag) = out.directive { forceClose = tag }
        }
        guard !content.isEmpty || !thinking.isEmpty || !tokens.isEmpty else { return (nil, stopString, forceClose) }
        return (.delta(content: content, reasoning: thinking, tokens: tokens, logprobs: logprobs), stopString, forceClose)
    }

    var usage: EngineUsage {
        EngineUsage(promptTokens: request.promptTokens.count, cachedPromptTokens: cachedPromptTokens,
                    completionTokens: completionTokens, reasoningTokens: reasoning?.reasoningTokenCount ?? 0)
    }
}
