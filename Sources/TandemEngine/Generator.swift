import TandemCore
import TandemModel

/// Timing of one generation: prompt processing (prefill, drives time-to-first-token) and
/// decoding (drives time-per-output-token) are measured separately.
public struct GenerationTiming: Sendable {
    public var promptTokens = 0
    public var generatedTokens = 0
    public var prefillSeconds = 0.0
    public var decodeSeconds = 0.0

    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
    /// Decode rate over the tokens after the first (the first comes out of prefill).
    public var decodeTokensPerSecond: Double {
        decodeSeconds > 0 ? Double(max(generatedTokens - 1, 0)) / decodeSeconds : 0
    }
}

/// Why a generation stopped.
public enum StopReason: String, Sendable {
    case stopToken = "stop"
    case maxTokens = "length"
    case contextFull = "context_full"
}

/// Runs one prompt through the reference session and streams the generated text: the single
/// sequence path behind `tandem generate`.
public struct Generator {
    public let model: LoadedModel

    public init(model: LoadedModel) {
        self.model = model
    }

    /// Generates up to `maxTokens` after `prompt`, calling `emit` with each piece of complete
    /// text. `choose` picks the next token from the logits (vocab).
    @discardableResult
    public func generate(prompt: [TokenID], maxTokens: Int,
                         choose: ([Float]) throws -> TokenID,
                         emit: (String) -> Void) throws -> (tokens: [TokenID], reason: StopReason, timing: GenerationTiming) {
        let clock = ContinuousClock()
        let limit = min(model.configuration.contextLength, prompt.count + maxTokens)
        guard prompt.count < limit || maxTokens == 0 else { throw ModelRuntimeError.contextFull(limit: model.configuration.contextLength) }
        let session = LlamaSession(model: model.model, maxPositions: limit)
        var timing = GenerationTiming(promptTokens: prompt.count)
        var out: [TokenID] = []
        var detok = StreamingDetokenizer(tokenizer: model.tokenizer, previous: prompt.last)
        var reason = StopReason.maxTokens
        var logits: UnsafeMutablePointer<Float>!
        let start = clock.now
        for t in prompt { logits = try session.forward(t) }
        timing.prefillSeconds = (clock.now - start).seconds
        let decodeStart = clock.now
        let vocab = model.configuration.vocabSize
        while out.count < maxTokens {
            let next = try choose(Array(UnsafeBufferPointer(start: logits, count: vocab)))
            out.append(next)
            if model.tokenizer.vocabulary.stopTokens.contains(next) { reason = .stopToken; break }
            emit(detok.append(next))
            if out.count == maxTokens { break }
            if session.position >= limit { reason = .contextFull; break }
            logits = try session.forward(next)
        }
        emit(detok.flush())
        timing.generatedTokens = out.count
        timing.decodeSeconds = (clock.now - decodeStart).seconds
        return (out, reason, timing)
    }
}
