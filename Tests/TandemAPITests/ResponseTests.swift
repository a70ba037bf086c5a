import TandemCore
import Testing
@testable import TandemAPI

/// How backend errors become OpenAI-shaped HTTP errors.
@Suite struct APIErrorTests {
    @Test(arguments: [
        (BackendError.Category.overCapacity, 503, "over_capacity"),
        (.contextTooLong, 413, "context_length_exceeded"),
        (.timeout, 504, "upstream_timeout"),
        (.upstreamUnavailable, 503, "model_unavailable"),
        (.invalidRequest, 400, "invalid_value"),
        (.internal, 500, "internal_error"),
    ])
    func backendErrorShouldMapToStatusAndCode(category: BackendError.Category, status: Int, code: String) {
        let e = APIError(BackendError(category, "boom"))
        #expect(e.status == status)
        #expect(e.code == code)
        #expect(e.message == "boom")
        #expect((e.retryAfterSeconds != nil) == (status == 503))
    }

    @Test func bodyShouldHaveOpenAIsShape() throws {
        let e = APIError.invalidField("temperature", "bad")
        #expect(JSONWriter.string(e.body) == #"{"error":{"message":"bad","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}"#)
        #expect(APIError.invalidAPIKey().body["error"]?["param"] == .null)
    }
}

@Suite struct ResponseRendererTests {
    let chat = ResponseRenderer(id: "chatcmpl-1", created: 100, model: "small", endpoint: .chatCompletions)

    @Test func completionShouldCarryContentReasoningUsageAndFinish() {
        var acc = CompletionAccumulator()
        acc.add(.delta(CompletionDelta(reasoning: "think")))
        acc.add(.delta(CompletionDelta(content: "Hi")))
        acc.add(.finish(.length))
        acc.add(.usage(Usage(promptTokens: 3, completionTokens: 2, cachedTokens: 1, reasoningTokens: 1)))
        let doc = chat.completion(acc)
        #expect(doc["object"] == "chat.completion")
        #expect(doc["model"] == "small")
        #expect(doc["choices"] == [[
            "index": 0,
            "message": ["role": "assistant", "content": "Hi", "reasoning_content": "think", "refusal": nil],
            "logprobs": nil, "finish_reason": "length",
        ]])
        #expect(doc["usage"] == ["prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
                                 "prompt_tokens_details": ["cached_tokens": 1],
                                 "completion_tokens_details": ["reasoning_tokens": 1, "accepted_prediction_tokens": 0,
                                                               "rejected_prediction_tokens": 0]])
    }

    @Test func chunksShouldFollowOpenAIsStreamingShape() {
        #expect(chat.roleChunk()["choices"] == [["index": 0, "delta": ["role": "assistant", "content": ""], "logprobs": nil, "finish_reason": nil]])
        #expect(chat.chunk(CompletionDelta(content: "a"), logprobsRequested: false)["choices"]
                == [["index": 0, "delta": ["content": "a"], "logprobs": nil, "finish_reason": nil]])
        #expect(chat.chunk(CompletionDelta(), finish: .stop, logprobsRequested: false)["choices"]
                == [["index": 0, "delta": [:], "logprobs": nil, "finish_reason": "stop"]])
        #expect(chat.usageChunk(Usage(promptTokens: 1))["choices"] == [])
        let text = ResponseRenderer(id: "cmpl-1", created: 1, model: "m", endpoint: .completions)
        #expect(text.chunk(CompletionDelta(content: "x"), logprobsRequested: false)["object"] == "text_completion")
    }

    @Test func responseFormatShouldFlagNonJSONOnlyWhenFinished() {
        var acc = CompletionAccumulator()
        acc.add(.delta(CompletionDelta(content: "{\"a\": ")))
        acc.add(.finish(.length))
        #expect(acc.responseFormatProblem(.jsonObject) == nil)
        var stopped = CompletionAccumulator()
        stopped.add(.delta(CompletionDelta(content: "not json")))
        stopped.add(.finish(.stop))
        #expect(stopped.responseFormatProblem(.jsonObject) != nil)
        #expect(stopped.responseFormatProblem(.text) == nil)
        var array = CompletionAccumulator()
        array.add(.delta(CompletionDelta(content: "[1]")))
        array.add(.finish(.stop))
        #expect(array.responseFormatProblem(.jsonObject) != nil)
        #expect(array.responseFormatProblem(.jsonSchema(name: "x", schema: [:], strict: false)) == nil)
    }
}
