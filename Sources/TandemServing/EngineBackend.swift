import Foundation
import TandemAPI
import TandemCore
import TandemEngine
import TandemEngineCore
import TandemGrammar
import TandemModel

/// The coordinator's `InferenceBackend`: renders the chat template, tokenizes, submits to the
/// `Engine` and turns its events into the gateway's completion events. The same HTTP code then
/// serves it (`DirectDispatcher`), so a coordinator speaks the same OpenAI-compatible API as the
/// gateway in front of it.
public final class EngineBackend: InferenceBackend, @unchecked Sendable {
    public let engine: Engine
    public let modelName: String
    /// Reasoning tags of a reasoning model (nil: everything is answer text).
    public let reasoning: ReasoningConfiguration?
    /// The model's recommended sampling settings, every field set (OpenAI's where the model
    /// recommends none): what a request that leaves a field out gets.
    public let samplingDefaults: SamplingDefaults
    private let counter = NSLock()
    private var next: UInt64 = 0

    public init(engine: Engine, modelName: String, reasoning: ReasoningConfiguration? = nil,
                samplingDefaults: SamplingDefaults = SamplingDefaults()) {
        self.engine = engine
        self.modelName = modelName
        self.reasoning = reasoning
        self.samplingDefaults = samplingDefaults.resolved
    }

    /// The engine's sampling configuration for a request: fields it left out from the model's
    /// defaults; a `logit_bias` id outside the vocabulary is a 400 naming `logit_bias.<id>`.
    func samplingConfiguration(_ request: CompletionRequest) throws -> SamplingConfiguration {
        let vocabSize = engine.model.configuration.vocabSize
        if let bad = request.logitBias.keys.filter({ $0 < 0 || Int($0) >= vocabSize }).min() {
            throw BackendError(.invalidRequest, "logit_bias key \(bad) is not a token id of \(modelName) (0..<\(vocabSize))",
                               param: "logit_bias.\(bad)")
        }
        let r = request.applying(samplingDefaults)
        var configuration = SamplingConfiguration(parameters: r.sampling, presencePenalty: r.presencePenalty,
                                                  frequencyPenalty: r.frequencyPenalty, repetitionPenalty: r.repetitionPenalty,
                                                  logitBias: r.logitBias, topLogprobs: r.logprobs ? r.topLogprobs : nil,
                                                  constraint: try outputConstraint(request))
        if configuration.constraint != nil, let reasoning { configuration.constraintGate = constraintGate(reasoning) }
        return configuration
    }

    /// A reasoning model's constraint starts after its reasoning block (the model thinks freely,
    /// then answers inside the grammar), when each tag is one token of its vocabulary, as the
    /// special tokens of Qwen3, DeepSeek-R1 and Nemotron are; otherwise (nil) it applies from the
    /// first token.
    func constraintGate(_ r: ReasoningConfiguration) -> ConstraintGate? {
        let tokenizer = engine.model.tokenizer
        let close = tokenizer.encode(r.closeTag, addBOS: false, parseSpecial: true)
        let open = r.openTag.isEmpty ? [] : tokenizer.encode(r.openTag, addBOS: false, parseSpecial: true)
        guard close.count == 1, open.count <= 1 else { return nil }
        return ConstraintGate(openToken: open.first, closeToken: close[0], startsInReasoning: r.startsInReasoning)
    }

    /// The compiled constraint the request's output must follow (`response_format` json_object or
    /// json_schema, or a `guided_*`/`grammar` field), from the engine's cache; a schema, regex or
    /// grammar the engine cannot use is a 400 naming the keyword and where it is.
    func outputConstraint(_ request: CompletionRequest) throws -> OutputConstraint? {
        let spec: ConstraintSpec
        let param: String
        if let format = try toolCallFormat(request), request.toolChoice != .auto {
            var tools = request.tools
            if case .function(let name) = request.toolChoice { tools = tools.filter { $0.name == name } }
            var multiple = request.parallelToolCalls && request.toolChoice == .required
            switch format {
            case .bareJSON, .harmony: multiple = false  // one JSON answer; harmony's <|call|> ends the turn
            default: break
            }
            spec = .toolCalls(tools, format: format, multiple: multiple)
            param = "tools"
        } else {
            switch (request.guided, request.responseFormat) {
            case (.json(let schema)?, _): spec = .jsonSchema(schema); param = "guided_json"
            case (.regex(let source)?, _): spec = .regex(source); param = "guided_regex"
            case (.choice(let options)?, _): spec = .choice(options); param = "guided_choice"
            case (.grammar(let source)?, _): spec = .grammar(source); param = "grammar"
            case (nil, .jsonObject): spec = .jsonObject; param = "response_format"
            case (nil, .jsonSchema(_, let schema, _)): spec = .jsonSchema(schema); param = "response_format.json_schema.schema"
            case (nil, .text): return nil
            }
        }
        // One mapping of a compile error to a 400 naming the keyword and the field.
        do {
            return try engine.grammars.constraint(for: spec)
        } catch {
            let keyword = error.keyword.isEmpty ? "" : " ('\(error.keyword)')"
            let prefix = param == "tools" ? "tools: " : ""
            throw BackendError(.invalidRequest, "\(prefix)\(error.description)\(keyword)", param: param)
        }
    }

    /// The model's tool-call format when the request offers tools it may call (nil otherwise);
    /// a model whose template has no tool format is a 400.
    func toolCallFormat(_ request: CompletionRequest) throws -> ToolCallFormat? {
        guard !request.tools.isEmpty, request.toolChoice != .none, case .chat = request.input else { return nil }
        guard let format = engine.model.chatTemplate?.toolCallFormat else {
            throw BackendError(.invalidRequest, "model \(modelName)'s chat template has no tool-call format", param: "tools")
        }
        return format
    }

    public func health() async -> BackendHealth {
        let s = engine.statistics
        return s.healthy ? .ready : .unavailable(s.lastError ?? "the engine is unhealthy")
    }

    /// Prompt token ids for the request's input.
    func promptTokens(_ request: CompletionRequest) throws -> [TokenID] {
        let model = engine.model
        switch request.input {
        case .tokens(let ids):
            guard ids.allSatisfy({ $0 >= 0 && Int($0) < model.configuration.vocabSize }) else {
                throw BackendError(.invalidRequest, "a prompt token id is outside the vocabulary (0..<\(model.configuration.vocabSize))", param: "prompt")
            }
            return ids
        case .text(let text):
            return model.tokenizer.encode(text, addBOS: nil, parseSpecial: false)
        case .chat(let messages):
            guard let template = model.chatTemplate else {
                throw BackendError(.invalidRequest, "model \(modelName) has no chat template; use /v1/completions", param: "messages")
            }
            let shown = request.toolChoice == .none ? [] : request.tools
            let options = request.chatTemplateKwargs.objectPairs
            if !options.isEmpty, case .model = template {} else if !options.isEmpty {
                throw BackendError(.invalidRequest, "model \(modelName) has no chat template of its own to pass 'chat_template_kwargs' to", param: "chat_template_kwargs")
            }
            let prompt: PromptText
            do {
                prompt = try template.prompt(messages, tools: shown, addGenerationPrompt: true, options: options)
            } catch {
                // The model's own template refused the conversation (its `raise_exception`).
                throw BackendError(.invalidRequest, "the chat template of \(modelName) refused the conversation: \(error)", param: "messages")
            }
            // Special tokens only from the template's own text, never from message content.
            return model.tokenizer.encode(prompt, addBOS: nil)
        }
    }

    public func complete(_ request: CompletionRequest, context: InferenceContext) async throws -> AsyncThrowingStream<CompletionEvent, any Error> {
        let sampling = try samplingConfiguration(request)
        var ids = try promptTokens(request)
        if ids.isEmpty, let bos = engine.model.tokenizer.vocabulary.bos { ids = [bos] }
        let contextLength = engine.model.configuration.contextLength
        guard ids.count < contextLength else {
            throw BackendError(.contextTooLong, "the prompt has \(ids.count) tokens; \(modelName) takes at most \(contextLength - 1)", param: "messages")
        }
        // Without max_tokens the request may run to the end of the context, capped by the engine
        // at what its K/V pool can hold (then finish_reason "length").
        let maxTokens = min(request.maxTokens ?? (contextLength - ids.count), contextLength - ids.count)
        // Predicted output: drafted from when the deployment speculates; without speculation it
        // could change nothing, so it is refused rather than ignored.
        var predicted: [TokenID] = []
        if let prediction = request.prediction {
            guard engine.configuration.speculation.isEnabled else {
                throw BackendError(.invalidRequest, "model \(modelName) is served without speculative decoding (serve --speculative), so 'prediction' cannot be used", param: "prediction")
            }
            predicted = engine.model.tokenizer.encode(prediction, addBOS: false, parseSpecial: false)
        }
        let n = nextNumber()
        let id = RequestID("\(context.requestID)-\(n)")
        let salt = CacheSalt(tenant: context.cacheSalt ?? context.tenant)
        let choices: [AsyncThrowingStream<EngineEvent, Error>]
        do {
            // n > 1: the engine prefills the prompt once and forks the other choices from it.
            var engineRequest = EngineRequest(id: id, promptTokens: ids, maxTokens: max(1, maxTokens), sampling: sampling,
                                              stopStrings: request.stop, cacheSalt: salt, reasoning: reasoning,
                                              capToPool: request.maxTokens == nil)
            engineRequest.speculative = request.speculative
            engineRequest.predictedTokens = predicted
            choices = try engine.submit(engineRequest, choices: request.n)
        } catch let e as EngineError {
            throw Self.backendError(e)
        }
        // Harmony messages are split (reasoning, answer, calls) whether or not tools are offered.
        let offered = try toolCallFormat(request)
        var harmony = false
        if engine.model.chatTemplate?.toolCallFormat == .harmony, case .chat = request.input { harmony = true }
        let format = offered ?? (harmony ? .harmony : nil)
        let (stream, continuation) = AsyncThrowingStream<CompletionEvent, any Error>.makeStream()
        let task = Task {
            do {
                // Usage: the prompt once, the completions of every choice together.
                var total: Usage?
                try await withThrowingTaskGroup(of: Usage?.self) { group in
                    for (index, events) in choices.enumerated() {
                        group.addTask { try await self.forward(events, index: index, format: format, to: continuation) }
                    }
                    for try await usage in group {
                        guard let usage else { continue }
                        if var t = total {
                            t.completionTokens += usage.completionTokens
                            t.reasoningTokens += usage.reasoningTokens
                            t.acceptedPredictionTokens += usage.acceptedPredictionTokens
                            t.rejectedPredictionTokens += usage.rejectedPredictionTokens
                            total = t
                        } else {
                            total = usage
                        }
                    }
                }
                if let total { continuation.yield(.usage(total)) }
                continuation.finish()
            } catch let e as EngineError {
                continuation.finish(throwing: Self.backendError(e))
            } catch let e as BackendError {
                continuation.finish(throwing: e)
            } catch {
                continuation.finish(throwing: BackendError(.internal, "\(error)"))
            }
        }
        continuation.onTermination = { termination in
            guard case .cancelled = termination else { return }
            task.cancel()
            self.engine.cancel(id)
            for i in 1..<max(1, request.n) { self.engine.cancel(RequestID("\(id)/\(i)")) }
        }
        return stream
    }

    /// One choice's engine events as completion events (text split into tool calls when the
    /// request offers tools); returns its usage, nil when it was cancelled.
    private func forward(_ events: AsyncThrowingStream<EngineEvent, Error>, index: Int, format: ToolCallFormat?,
                         to continuation: AsyncThrowingStream<CompletionEvent, any Error>.Continuation) async throws -> Usage? {
        let tokenizer = engine.model.tokenizer
        var calls = format.map { ToolCalls(parser: ToolCallParser(format: $0)) }
        // Tokens of deltas that carried reasoning the format marks itself (harmony's analysis
        // channel), added to the engine's count of tag-delimited reasoning.
        var markedReasoningTokens = 0
        for try await e in events {
            switch e {
            case .delta(let content, let thinking, let tokens, let logprobs):
                let lp = logprobs.map { s in
                    OpenAITokenLogprob(token: tokenizer.decode([s.token]), logprob: Double(s.logprob ?? 0),
                                       bytes: tokenizer.bytes(for: s.token, after: nil),
                                       top: s.topLogprobs.map { .init(token: tokenizer.decode([$0.token]), logprob: Double($0.logprob)) })
                }
                var delta = CompletionDelta(index: index, content: content, reasoning: thinking, logprobs: lp)
                if calls != nil {
                    let before = delta.reasoning.count
                    delta = calls!.split(delta, at: false)
                    if delta.reasoning.count > before || calls!.parser.isInReasoning { markedReasoningTokens += tokens.count }
                }
                if !delta.isEmpty { continuation.yield(.delta(delta)) }
            case .finished(let reason, let usage):
                if calls != nil {
                    let rest = calls!.split(CompletionDelta(index: index), at: true)
                    if !rest.isEmpty { continuation.yield(.delta(rest)) }
                }
                switch reason {
                case .stopToken, .stopString: continuation.yield(.finish(calls?.parser.callCount ?? 0 > 0 ? .toolCalls : .stop, index: index))
                case .length: continuation.yield(.finish(.length, index: index))
                case .cancelled: return nil
                case .timedOut: throw BackendError(.overCapacity, "the request waited too long for capacity", retryAfterSeconds: 1)
                }
                return Usage(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens,
                             cachedTokens: usage.cachedPromptTokens,
                             reasoningTokens: min(usage.completionTokens, usage.reasoningTokens + markedReasoningTokens),
                             acceptedPredictionTokens: usage.acceptedDraftTokens, rejectedPredictionTokens: usage.rejectedDraftTokens)
            }
        }
        return nil
    }

    /// A request's tool-call parser and the calls it has reported.
    struct ToolCalls {
        var parser: ToolCallParser

        /// `delta` with its answer text split into text and calls (`atEnd`: the answer is over).
        mutating func split(_ delta: CompletionDelta, at atEnd: Bool) -> CompletionDelta {
            var out = delta
            out.content = ""
            let before = parser.callCount
            var pieces = parser.feed(delta.content)
            if atEnd { pieces += parser.finish() }
            var index = before
            for piece in pieces {
                switch piece {
                case .text(let t): out.content += t
                case .reasoning(let t): out.reasoning += t
                case .call(let name, let arguments):
                    out.toolCalls.append(ToolCallDelta(index: index, id: Self.newID(), name: name, arguments: arguments))
                    index += 1
                }
            }
            return out
        }

        static func newID() -> String {
            let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            return "call_" + String((0..<24).map { _ in alphabet.randomElement()! })
        }
    }

    private func nextNumber() -> UInt64 {
        counter.withLock {
            next += 1
            return next
        }
    }

    static func backendError(_ e: EngineError) -> BackendError {
        switch e.kind {
        case .rejected:
            if e.code == .overCapacity { return BackendError(.overCapacity, e.message, retryAfterSeconds: 1) }
            if e.code == .promptTooLong || e.code == .requestTooLarge { return BackendError(.contextTooLong, e.message, param: "max_tokens") }
            return BackendError(.invalidRequest, e.message)
        case .stepFailed: return BackendError(.upstreamUnavailable, e.message, retryAfterSeconds: 5)
        case .shutDown: return BackendError(.upstreamUnavailable, e.message, retryAfterSeconds: 5)
        }
    }
}
