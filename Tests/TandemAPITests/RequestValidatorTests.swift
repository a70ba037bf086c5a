import Testing
import TandemCore
@testable import TandemAPI

@Suite struct RequestValidatorTests {
    func chat(_ json: String) throws -> CompletionRequest {
        try RequestValidator.validate(JSONValue.parse(json), endpoint: .chatCompletions)
    }

    func completion(_ json: String) throws -> CompletionRequest {
        try RequestValidator.validate(JSONValue.parse(json), endpoint: .completions)
    }

    /// The 400 a body gets, or nil if it is accepted.
    func error(_ json: String, endpoint: CompletionRequest.Endpoint = .chatCompletions) -> APIError? {
        do {
            _ = try RequestValidator.validate(JSONValue.parse(json), endpoint: endpoint)
            return nil
        } catch let e as APIError {
            return e
        } catch {
            return nil
        }
    }

    @Test func chatShouldNormaliseFieldsAndApplyDefaults() throws {
        let r = try chat(#"""
        {"model": "m", "messages": [{"role": "developer", "content": "Be brief."},
                                    {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]}],
         "temperature": 0.5, "top_p": 0.9, "seed": -1, "max_completion_tokens": 20, "max_tokens": 5,
         "stop": "END", "presence_penalty": 1, "frequency_penalty": -1, "stream": true,
         "stream_options": {"include_usage": true}, "logprobs": true, "top_logprobs": 3,
         "response_format": {"type": "json_object"}, "user": "u1", "metadata": {"x": "1"}}
        """#)
        #expect(r.model == "m")
        #expect(r.input == .chat([ChatMessage(role: .system, content: "Be brief."), ChatMessage(role: .user, content: "Hi there")]))
        #expect(r.sampling.temperature == 0.5)
        #expect(r.sampling.topP == 0.9)
        #expect(r.sampling.seed == UInt64.max)
        #expect(r.maxTokens == 20)
        #expect(r.stop == ["END"])
        #expect(r.presencePenalty == 1 && r.frequencyPenalty == -1)
        #expect(r.stream && r.includeUsage)
        #expect(r.logprobs && r.topLogprobs == 3)
        #expect(r.responseFormat == .jsonObject)
        #expect(r.user == "u1")
    }

    @Test func samplingFieldsShouldBeReadAndOmittedOnesMarked() throws {
        let r = try chat(#"""
        {"model": "m", "messages": [{"role": "user", "content": "x"}], "top_k": -1, "min_p": 0.05,
         "repetition_penalty": 1.1, "logit_bias": {"7": -100, "12": 2.5}, "temperature": null}
        """#)
        #expect(r.sampling.topK == 0 && r.sampling.minP == 0.05 && r.repetitionPenalty == 1.1)
        #expect(r.logitBias == [7: -100, 12: 2.5])
        #expect(r.omittedSampling == [.temperature, .topP])
        let d = r.applying(SamplingDefaults(temperature: 0.2, topP: 0.9, topK: 40, minP: 0.5))
        #expect(d.sampling.temperature == 0.2 && d.sampling.topP == 0.9 && d.sampling.topK == 0 && d.sampling.minP == 0.05)
    }

    @Test func chatShouldDefaultTemperatureToOneAndTreatNullAsAbsent() throws {
        let r = try chat(#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": null, "stop": null}"#)
        #expect(r.sampling.temperature == 1)
        #expect(r.stop.isEmpty)
        #expect(r.maxTokens == nil)
        #expect(!r.stream)
    }

    @Test(arguments: [
        (#"{"messages": [{"role": "user", "content": "x"}]}"#, "model"),
        (#"{"model": 3, "messages": [{"role": "user", "content": "x"}]}"#, "model"),
        (#"{"model": "m"}"#, "messages"),
        (#"{"model": "m", "messages": []}"#, "messages"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": "robot", "content": "y"}]}"#, "messages[1].role"),
        (#"{"model": "m", "messages": [{"role": "user"}]}"#, "messages[0].content"),
        (#"{"model": "m", "messages": [{"role": "user", "content": 5}]}"#, "messages[0].content"),
        (#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}"#, "messages[0].content[0].type"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3}"#, "temperature"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}"#, "temperature"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": 1.5}"#, "top_p"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}"#, "max_tokens"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 2.5}"#, "max_tokens"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 17}"#, "n"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]}"#, "stop"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": [1]}"#, "stop[0]"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 2}"#, "top_logprobs"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}}"#, "stream_options"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}"#, "stream"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}}"#, "response_format.type"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}}"#, "response_format.json_schema"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "presence_penalty": -3}"#, "presence_penalty"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 1e30}"#, "seed"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}"#, "tools[0].function"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "functions": [{"name": "f"}]}"#, "functions"),
        (#"{"model": "m", "messages": [{"role": "tool", "content": "x"}]}"#, "messages[0].tool_call_id"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}"#, "tool_choice"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "logit_bias": {"x1": 5}}"#, "logit_bias.x1"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "logit_bias": {"-1": 5}}"#, "logit_bias.-1"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "logit_bias": {"1": 100.5}}"#, "logit_bias.1"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "top_k": -2}"#, "top_k"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "top_k": 2.5}"#, "top_k"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "min_p": 1.01}"#, "min_p"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "repetition_penalty": 0}"#, "repetition_penalty"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "some_future_field": {"x": 1}}"#, "some_future_field"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "store": true}"#, "store"),
    ])
    func invalidChatFieldShouldBeRejectedNamingTheField(json: String, field: String) {
        let e = error(json)
        #expect(e?.status == 400)
        #expect(e?.param == field, "\(e?.message ?? "accepted")")
        #expect(e?.type == "invalid_request_error")
    }

    @Test("prediction (OpenAI Predicted Outputs): a string or text parts, read; anything else a 400 naming the field")
    func predictionShouldBeReadOrRefused() throws {
        let base = #"{"model": "m", "messages": [{"role": "user", "content": "x"}], "#
        #expect(try chat(base + #""prediction": {"type": "content", "content": "def f(): pass"}}"#).prediction == "def f(): pass")
        #expect(try chat(base + #""prediction": {"type": "content", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}"#).prediction == "ab")
        #expect(try chat(base + #""speculative": false}"#).speculative == false)
        #expect(try chat(#"{"model": "m", "messages": [{"role": "user", "content": "x"}]}"#).prediction == nil)
        #expect(error(base + #""prediction": {"type": "tokens", "content": "a"}}"#)?.param == "prediction.type")
        #expect(error(base + #""prediction": {"type": "content", "content": 3}}"#)?.param == "prediction.content")
        #expect(error(base + #""prediction": {"type": "content", "content": [{"type": "image_url"}]}}"#)?.param == "prediction.content[0]")
        #expect(error(base + #""prediction": {"type": "content", "content": "a", "extra": 1}}"#)?.param == "prediction.extra")
        #expect(error(base + #""prediction": "a"}"#)?.param == "prediction")
    }

    @Test func bodyThatIsNotAnObjectShouldBeRejected() {
        #expect(error("[1, 2]")?.status == 400)
    }

    @Test func completionPromptShouldAcceptStringsAndTokenIDs() throws {
        #expect(try completion(#"{"model": "m", "prompt": "Once"}"#).input == .text("Once"))
        #expect(try completion(#"{"model": "m", "prompt": ["Once"]}"#).input == .text("Once"))
        #expect(try completion(#"{"model": "m", "prompt": [1, 2, 3]}"#).input == .tokens([1, 2, 3]))
        #expect(try completion(#"{"model": "m", "prompt": [[4, 5]]}"#).input == .tokens([4, 5]))
        let r = try completion(#"{"model": "m", "prompt": "x", "logprobs": 2, "echo": true, "max_tokens": 9}"#)
        #expect(r.logprobs && r.topLogprobs == 2 && r.echo && r.maxTokens == 9)
    }

    @Test func completionPromptShouldRejectBatchesAndBadTokens() {
        #expect(error(#"{"model": "m", "prompt": ["a", "b"]}"#, endpoint: .completions)?.param == "prompt")
        #expect(error(#"{"model": "m", "prompt": [1, -2]}"#, endpoint: .completions)?.param == "prompt[1]")
        #expect(error(#"{"model": "m"}"#, endpoint: .completions)?.param == "prompt")
        #expect(error(#"{"model": "m", "prompt": "x", "logprobs": 6}"#, endpoint: .completions)?.param == "logprobs")
        #expect(error(#"{"model": "m", "prompt": "x", "best_of": 3}"#, endpoint: .completions)?.param == "best_of")
        // Echo needs the prompt's text; token ids are refused rather than echoed as nothing.
        #expect(error(#"{"model": "m", "prompt": [1, 2], "echo": true}"#, endpoint: .completions)?.param == "echo")
    }
}
