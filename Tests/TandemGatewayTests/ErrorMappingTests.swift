import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import TandemAPI
import TandemCore
@testable import TandemGateway

/// How upstream answers map to `BackendError` categories.
@Suite struct ErrorMappingTests {
    @Test(arguments: [
        (400, nil, BackendError.Category.invalidRequest),
        (400, "context_length_exceeded", .contextTooLong),
        (413, nil, .contextTooLong),
        (404, nil, .upstreamUnavailable),
        (429, nil, .overCapacity),
        (503, nil, .overCapacity),
        (504, nil, .timeout),
        (502, nil, .upstreamUnavailable),
        (500, nil, .internal),
        (401, nil, .internal),
    ] as [(Int, String?, BackendError.Category)])
    func upstreamStatusShouldMapToCategory(status: Int, code: String?, category: BackendError.Category) {
        let body: JSONValue? = code.map { ["error": ["message": "m", "code": .string($0)]] }
        #expect(UpstreamChunkDecoder.error(fromBody: body, status: status).category == category)
    }

    @Test func upstreamRetryAfterShouldBeKept() {
        #expect(UpstreamChunkDecoder.error(fromBody: nil, status: 429, retryAfter: 7).retryAfterSeconds == 7)
    }
}

@Suite struct UpstreamCodecTests {
    @Test func decoderShouldTurnChatChunksIntoEvents() throws {
        var d = UpstreamChunkDecoder()
        #expect(try d.decode(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#) == [])
        #expect(try d.decode(#"{"choices":[{"delta":{"reasoning_content":"hmm"}}]}"#) == [.delta(CompletionDelta(reasoning: "hmm"))])
        let lp = #"{"content":[{"token":"Hi","logprob":-0.5,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.5},{"token":"Yo","logprob":-1.5}]}]}"#
        #expect(try d.decode(#"{"choices":[{"delta":{"content":"Hi"},"logprobs":\#(lp)}]}"#) == [
            .delta(CompletionDelta(content: "Hi", logprobs: [OpenAITokenLogprob(token: "Hi", logprob: -0.5, bytes: [72, 105],
                                                                          top: [.init(token: "Hi", logprob: -0.5), .init(token: "Yo", logprob: -1.5)])])),
        ])
        #expect(try d.decode(#"{"choices":[{"delta":{},"finish_reason":"length"}]}"#) == [.finish(.length)])
        #expect(try d.decode(#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":3}}}"#) == [])
        #expect(try d.decode("[DONE]") == [])
        #expect(d.sawDone)
        #expect(try d.finish() == [.usage(Usage(promptTokens: 5, completionTokens: 2, cachedTokens: 3))])
    }

    @Test func decoderShouldReadLegacyCompletionChunks() throws {
        var d = UpstreamChunkDecoder()
        let events = try d.decode(#"{"choices":[{"text":" there","logprobs":{"tokens":[" there"],"token_logprobs":[-0.25],"top_logprobs":[{" there":-0.25," here":-2}]},"finish_reason":"stop"}]}"#)
        #expect(events == [
            .delta(CompletionDelta(content: " there", logprobs: [OpenAITokenLogprob(token: " there", logprob: -0.25,
                                                                            top: [.init(token: " there", logprob: -0.25), .init(token: " here", logprob: -2)])])),
            .finish(.stop),
        ])
    }

    @Test func decoderShouldThrowForErrorEventsAndEarlyEnds() {
        var d = UpstreamChunkDecoder()
        #expect(throws: BackendError.self) { try d.decode(#"{"error":{"message":"KV cache full","code":"over_capacity"}}"#) }
        #expect((try? d.decode("not json")) == nil)
        #expect(throws: BackendError(.upstreamUnavailable, "The upstream closed the stream before the answer was finished.")) {
            try UpstreamChunkDecoder().finish()
        }
    }

    @Test func encoderShouldAlwaysStreamWithUsageAndNameTheUpstreamModel() {
        var r = CompletionRequest(model: "auto", input: .chat([ChatMessage(role: .user, content: "hi", name: "bob")]))
        r.maxTokens = 10
        r.stop = ["x"]
        r.sampling.seed = 42
        r.logprobs = true
        r.topLogprobs = 2
        r.responseFormat = .jsonObject
        let body = UpstreamRequestEncoder.body(r, model: "gpt-x")
        #expect(body["model"] == "gpt-x")
        #expect(body["messages"] == [["role": "user", "content": "hi", "name": "bob"]])
        #expect(body["max_completion_tokens"] == 10)
        #expect(body["stop"] == ["x"])
        #expect(body["seed"] == 42)
        #expect(body["logprobs"] == true && body["top_logprobs"] == 2)
        #expect(body["response_format"] == ["type": "json_object"])
        #expect(body["stream"] == true)
        #expect(body["stream_options"] == ["include_usage": true])
        let c = UpstreamRequestEncoder.body(CompletionRequest(endpoint: .completions, model: "m", input: .tokens([1, 2]), maxTokens: 3, logprobs: true, topLogprobs: 1), model: "m")
        #expect(c["prompt"] == [1, 2] && c["max_tokens"] == 3 && c["logprobs"] == 1)
    }

    @Test func upstreamURLShouldValidateAndStripV1() {
        #expect(UpstreamURL("http://127.0.0.1:8001")?.appending("/v1/models") == "http://127.0.0.1:8001/v1/models")
        #expect(UpstreamURL("https://api.example.com/v1/")?.appending("/v1/models") == "https://api.example.com/v1/models")
        #expect(UpstreamURL("ftp://x") == nil)
        #expect(UpstreamURL("not a url") == nil)
    }
}

/// Which transport failures get the one resend on another connection (a kept-alive connection the
/// upstream closed) and which do not (nothing listening, timeouts).
@Suite struct ClosedConnectionTests {
    @Test func isClosedConnectionShouldAcceptOnlyAnEstablishedConnectionGoingAway() {
        #expect(HTTPUpstreamBackend.isClosedConnection(HTTPClientError.remoteConnectionClosed))
        #expect(HTTPUpstreamBackend.isClosedConnection(IOError(errnoCode: ECONNRESET, reason: "read")))
        #expect(HTTPUpstreamBackend.isClosedConnection(IOError(errnoCode: EPIPE, reason: "write")))
        #expect(HTTPUpstreamBackend.isClosedConnection(ChannelError.ioOnClosedChannel))
        #expect(!HTTPUpstreamBackend.isClosedConnection(IOError(errnoCode: ECONNREFUSED, reason: "connect")))
        #expect(!HTTPUpstreamBackend.isClosedConnection(HTTPClientError.connectTimeout))
        #expect(!HTTPUpstreamBackend.isClosedConnection(HTTPClientError.deadlineExceeded))
        #expect(!HTTPUpstreamBackend.isClosedConnection(BackendError(.timeout, "slow")))
        #expect(!HTTPUpstreamBackend.isClosedConnection(CancellationError()))
    }
}
