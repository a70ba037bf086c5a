import TandemCore
import TandemAPI

/// Writes a `CompletionRequest` as the OpenAI request body an upstream receives. Upstream calls
/// always stream (with usage), whatever the client asked: one decoder serves both cases and the
/// gateway sees tokens as they come.
public enum UpstreamRequestEncoder {
    /// `/v1/responses` requests go upstream as chat completions (the gateway renders the answer).
    public static func path(for endpoint: CompletionRequest.Endpoint) -> String {
        endpoint.isChat ? "/v1/chat/completions" : "/v1/completions"
    }

    public static func body(_ r: CompletionRequest, model: String) -> JSONValue {
        var f: [(String, JSONValue)] = [("model", .string(model))]
        switch r.input {
        case .chat(let messages):
            f.append(("messages", .array(messages.map { m in
                var pairs: [(String, JSONValue)] = [("role", .string(m.role.rawValue)), ("content", .string(m.content))]
                if let name = m.name { pairs.append(("name", .string(name))) }
                if !m.toolCalls.isEmpty {
                    pairs.append(("tool_calls", .array(m.toolCalls.map { c in
                        .object([("id", .string(c.id)), ("type", "function"),
                                 ("function", .object([("name", .string(c.name)), ("arguments", .string(c.arguments))]))])
                    })))
                }
                if let id = m.toolCallID { pairs.append(("tool_call_id", .string(id))) }
                return .object(pairs)
            })))
        case .text(let text): f.append(("prompt", .string(text)))
        case .tokens(let ids): f.append(("prompt", .array(ids.map { .int(Int64($0)) })))
        }
        // A sampling field the client left out stays out, so the upstream applies its model's
        // own defaults; top_k, min_p and repetition_penalty (vLLM's names) only when given.
        let omitted = r.omittedSampling
        if !omitted.contains(.temperature) { f.append(("temperature", .double(Double(r.sampling.temperature)))) }
        if !omitted.contains(.topP) { f.append(("top_p", .double(Double(r.sampling.topP)))) }
        if !omitted.contains(.topK) { f.append(("top_k", .int(Int64(r.sampling.topK)))) }
        if !omitted.contains(.minP) { f.append(("min_p", .double(Double(r.sampling.minP)))) }
        if !omitted.contains(.repetitionPenalty) { f.append(("repetition_penalty", .double(Double(r.repetitionPenalty)))) }
        if !r.logitBias.isEmpty {
            f.append(("logit_bias", .object(r.logitBias.sorted { $0.key < $1.key }.map { ("\($0.key)", .double(Double($0.value))) })))
        }
        if let seed = r.sampling.seed { f.append(("seed", .int(Int64(bitPattern: seed)))) }
        if r.presencePenalty != 0 { f.append(("presence_penalty", .double(Double(r.presencePenalty)))) }
        if r.frequencyPenalty != 0 { f.append(("frequency_penalty", .double(Double(r.frequencyPenalty)))) }
        if let maxTokens = r.maxTokens {
            f.append((r.endpoint.isChat ? "max_completion_tokens" : "max_tokens", .int(Int64(maxTokens))))
        }
        if r.n > 1 { f.append(("n", .int(Int64(r.n)))) }
        if !r.speculative { f.append(("speculative", .bool(false))) }
        if let p = r.prediction { f.append(("prediction", .object([("type", .string("content")), ("content", .string(p))]))) }
        if !r.stop.isEmpty { f.append(("stop", .array(r.stop.map(JSONValue.string)))) }
        if r.logprobs {
            switch r.endpoint {
            case .chatCompletions, .responses:
                f.append(("logprobs", true))
                if r.topLogprobs > 0 { f.append(("top_logprobs", .int(Int64(r.topLogprobs)))) }
            case .completions:
                f.append(("logprobs", .int(Int64(r.topLogprobs))))
            }
        }
        switch r.responseFormat {
        case .text: break
        case .jsonObject: f.append(("response_format", .object([("type", "json_object")])))
        case .jsonSchema(let name, let schema, let strict):
            f.append(("response_format", .object([
                ("type", "json_schema"),
                ("json_schema", .object([("name", .string(name)), ("schema", schema), ("strict", .bool(strict))])),
            ])))
        }
        if !r.tools.isEmpty {
            f.append(("tools", .array(r.tools.map(\.json))))
            switch r.toolChoice {
            case .auto: f.append(("tool_choice", "auto"))
            case .none: f.append(("tool_choice", "none"))
            case .required: f.append(("tool_choice", "required"))
            case .function(let name):
                f.append(("tool_choice", .object([("type", "function"), ("function", .object([("name", .string(name))]))])))
            }
            if !r.parallelToolCalls { f.append(("parallel_tool_calls", false)) }
        }
        if !r.chatTemplateKwargs.objectPairs.isEmpty { f.append(("chat_template_kwargs", r.chatTemplateKwargs)) }
        switch r.guided {
        case nil: break
        case .json(let schema): f.append(("guided_json", schema))
        case .regex(let source): f.append(("guided_regex", .string(source)))
        case .choice(let options): f.append(("guided_choice", .array(options.map(JSONValue.string))))
        case .grammar(let source): f.append(("grammar", .string(source)))
        }
        if let user = r.user { f.append(("user", .string(user))) }
        f.append(("stream", true))
        f.append(("stream_options", .object([("include_usage", true)])))
        return .object(f)
    }
}
