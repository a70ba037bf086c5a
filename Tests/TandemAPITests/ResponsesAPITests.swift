import Testing
import TandemCore
@testable import TandemAPI

/// `/v1/responses`: the request mapped onto a chat request (`ResponsesRequest`), the answer and the
/// streamed events (`ResponsesRenderer`, `ResponsesEventStream`). The end-to-end tests
/// (e2e/test_responses_api.py) hold the same against the chat endpoint with the `openai` client.
@Suite struct ResponsesAPITests {
    func responses(_ json: String) throws -> CompletionRequest {
        try RequestValidator.validate(JSONValue.parse(json), endpoint: .responses)
    }

    func refusal(_ json: String) -> APIError? {
        do {
            _ = try responses(json)
            return nil
        } catch let e as APIError {
            return e
        } catch {
            return nil
        }
    }

    @Test func inputItemsBecomeTheChatConversation() throws {
        let r = try responses(#"""
        {"model": "m", "instructions": "Be brief.", "max_output_tokens": 30, "temperature": 0, "metadata": {"k": "v"},
         "input": [{"role": "user", "content": [{"type": "input_text", "text": "Weather "}, {"type": "input_text", "text": "in Paris?"}]},
                   {"type": "reasoning", "id": "rs_1", "summary": []},
                   {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed",
                    "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}]},
                   {"type": "function_call", "call_id": "call_a", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"},
                   {"type": "function_call", "call_id": "call_b", "name": "get_weather", "arguments": "{\"city\":\"Lyon\"}"},
                   {"type": "function_call_output", "call_id": "call_a", "output": "21C"},
                   {"type": "function_call_output", "call_id": "call_b", "output": [{"type": "input_text", "text": "19C"}]},
                   {"role": "developer", "content": "Answer in French."}]}
        """#)
        #expect(r.endpoint == .responses)
        #expect(r.maxTokens == 30)
        #expect(r.sampling.temperature == 0)
        #expect(r.responses == CompletionRequest.ResponsesOptions(instructions: "Be brief.", metadata: ["k": "v"]))
        let calls = [ChatMessage.ToolCall(id: "call_a", name: "get_weather", arguments: #"{"city":"Paris"}"#),
                     ChatMessage.ToolCall(id: "call_b", name: "get_weather", arguments: #"{"city":"Lyon"}"#)]
        #expect(r.input == .chat([
            ChatMessage(role: .system, content: "Be brief."),
            ChatMessage(role: .user, content: "Weather in Paris?"),
            ChatMessage(role: .assistant, content: "Let me check.", toolCalls: calls),
            ChatMessage(role: .tool, content: "21C", toolCallID: "call_a"),
            ChatMessage(role: .tool, content: "19C", toolCallID: "call_b"),
            ChatMessage(role: .system, content: "Answer in French."),
        ]))
    }

    @Test func toolsAndTextFormatMapOntoTheChatFields() throws {
        let r = try responses(#"""
        {"model": "m", "input": "Hi", "parallel_tool_calls": false,
         "tools": [{"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}, "strict": true}],
         "tool_choice": {"type": "function", "name": "f"}}
        """#)
        #expect(r.tools == [ToolDefinition(name: "f", description: "d", parameters: ["type": "object"], strict: true)])
        #expect(r.toolChoice == .function("f"))
        #expect(!r.parallelToolCalls)
        let s = try responses(#"""
        {"model": "m", "input": "Hi", "text": {"format": {"type": "json_schema", "name": "city", "strict": true,
                                                          "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}},
         "top_logprobs": 2}
        """#)
        #expect(s.responseFormat == .jsonSchema(name: "city", schema: ["type": "object", "properties": ["a": ["type": "integer"]]], strict: true))
        #expect(s.logprobs && s.topLogprobs == 2)
        #expect(try responses(#"{"model": "m", "input": "Hi", "include": ["message.output_text.logprobs"]}"#).logprobs)
        #expect(try responses(#"{"model": "m", "input": "Hi", "text": {"format": {"type": "json_object"}}}"#).responseFormat == .jsonObject)
    }

    @Test func whatCannotBeHonouredIsRefusedByItsResponsesName() {
        let cases: [(String, String)] = [
            (#"{"model": "m"}"#, "input"),
            (#"{"model": "m", "input": "x", "previous_response_id": "resp_1"}"#, "previous_response_id"),
            (#"{"model": "m", "input": "x", "store": true}"#, "store"),
            (#"{"model": "m", "input": "x", "truncation": "auto"}"#, "truncation"),
            (#"{"model": "m", "input": "x", "background": true}"#, "background"),
            (#"{"model": "m", "input": "x", "max_output_tokens": 0}"#, "max_output_tokens"),
            (#"{"model": "m", "input": "x", "tools": [{"type": "file_search"}]}"#, "tools[0].type"),
            (#"{"model": "m", "input": "x", "tools": [{"type": "function", "name": "f", "parameters": {}, "extra": 1}]}"#, "tools[0].extra"),
            (#"{"model": "m", "input": "x", "tools": [{"type": "function", "name": "a b"}]}"#, "tools[0].name"),
            (#"{"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "schema": {}}}}"#, "text.format.name"),
            (#"{"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}}"#, "text.format.schema"),
            (#"{"model": "m", "input": "x", "text": {"format": {"type": "xml"}}}"#, "text.format.type"),
            (#"{"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}"#, "input[0].type"),
            (#"{"model": "m", "input": [{"role": "tool", "content": "x"}]}"#, "input[0].role"),
            (#"{"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}"#, "input[0].content[0].type"),
            (#"{"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}"#, "input[0].call_id"),
            (#"{"model": "m", "input": [{"type": "function_call_output", "call_id": "c"}]}"#, "input[0].output"),
            (#"{"model": "m", "input": [], "temperature": 0}"#, "input"),
            (#"{"model": "m", "input": "x", "include": ["file_search_call.results"]}"#, "include[0]"),
            (#"{"model": "m", "input": "x", "reasoning": {"effort": "low"}}"#, "reasoning.effort"),
            (#"{"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "g"}, "tools": [{"type": "function", "name": "f"}]}"#,
             "tool_choice.name"),
        ]
        for (body, param) in cases {
            let e = refusal(body)
            #expect(e?.status == 400, "\(body)")
            #expect(e?.param == param, "\(body): \(e?.param ?? "accepted") \(e?.message ?? "")")
        }
        // Accepted because they ask for what a stateless server does anyway.
        #expect(refusal(#"{"model": "m", "input": "x", "store": false, "truncation": "disabled", "reasoning": {"effort": null}, "include": [], "previous_response_id": null}"#) == nil)
    }

    func renderer(_ request: CompletionRequest) -> ResponsesRenderer {
        ResponsesRenderer(id: "resp_abc", created: 7, model: "small", request: request)
    }

    @Test func aWholeAnswerListsReasoningMessageAndCalls() throws {
        let request = try responses(#"{"model": "m", "input": "x", "tools": [{"type": "function", "name": "f"}]}"#)
        var acc = CompletionAccumulator()
        acc.add(.delta(CompletionDelta(reasoning: "think")))
        acc.add(.delta(CompletionDelta(content: "ok")))
        acc.add(.delta(CompletionDelta(toolCalls: [ToolCallDelta(index: 0, id: "call_1", name: "f", arguments: "{}")])))
        acc.add(.finish(.toolCalls))
        acc.add(.usage(Usage(promptTokens: 5, completionTokens: 4, cachedTokens: 2, reasoningTokens: 1)))
        let r = renderer(request).completed(acc)
        #expect(r["status"] == "completed")
        let output = r["output"]?.arrayValue ?? []
        #expect(output.map { $0["type"]?.stringValue } == ["reasoning", "message", "function_call"])
        #expect(output.map { $0["id"]?.stringValue } == ["rs_abc_0", "msg_abc_1", "fc_abc_2"])
        #expect(output[1]["content"]?.arrayValue?.first?["text"] == "ok")
        #expect(output[2]["call_id"] == "call_1" && output[2]["arguments"] == "{}")
        #expect(r["usage"] == ["input_tokens": 5, "input_tokens_details": ["cached_tokens": 2], "output_tokens": 4,
                               "output_tokens_details": ["reasoning_tokens": 1], "total_tokens": 9])
        #expect(r["tools"]?.arrayValue?.first?["name"] == "f")
        #expect(r["temperature"] == .null) // left to the model's defaults
    }

    @Test func streamedEventsOpenAndCloseEachItemInOrder() throws {
        let request = try responses(#"{"model": "m", "input": "x", "stream": true}"#)
        var stream = ResponsesEventStream(renderer: renderer(request))
        var events = stream.begin()
        events += stream.delta(CompletionDelta(reasoning: "hm"))
        events += stream.delta(CompletionDelta(reasoning: "m"))
        events += stream.delta(CompletionDelta(content: "Hel"))
        events += stream.delta(CompletionDelta(content: "lo"))
        events += stream.delta(CompletionDelta(toolCalls: [ToolCallDelta(index: 0, id: "call_1", name: "f", arguments: "{\"a\"")]))
        events += stream.delta(CompletionDelta(toolCalls: [ToolCallDelta(index: 0, arguments: ":1}")]))
        events += stream.delta(CompletionDelta(toolCalls: [ToolCallDelta(index: 1, id: "call_2", name: "g", arguments: "{}")]))
        events += stream.end(finish: .toolCalls, usage: Usage(promptTokens: 3, completionTokens: 6))
        #expect(events.map { $0["type"]?.stringValue ?? "" } == [
            "response.created", "response.in_progress",
            "response.output_item.added", "response.reasoning_text.delta", "response.reasoning_text.delta",
            "response.reasoning_text.done", "response.output_item.done",
            "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
            "response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
            "response.function_call_arguments.done", "response.output_item.done",
            "response.output_item.added", "response.function_call_arguments.delta",
            "response.function_call_arguments.done", "response.output_item.done",
            "response.completed",
        ])
        #expect(events.map { $0["sequence_number"]?.intValue } == (0..<Int64(events.count)).map { $0 })
        #expect(events[11]["text"] == "Hello")
        #expect(events[17]["arguments"] == "{\"a\":1}" && events[17]["output_index"] == 2)
        let final = events.last?["response"]
        #expect(final?["output"]?.arrayValue?.map { $0["type"]?.stringValue } == ["reasoning", "message", "function_call", "function_call"])
        #expect(final?["usage"]?["output_tokens"] == 6)
    }

    @Test func aCutOffOrFailedStreamSaysSo() throws {
        let request = try responses(#"{"model": "m", "input": "x", "stream": true, "max_output_tokens": 2}"#)
        var cut = ResponsesEventStream(renderer: renderer(request))
        _ = cut.begin()
        _ = cut.delta(CompletionDelta(content: "a b"))
        let last = cut.end(finish: .length, usage: Usage(promptTokens: 1, completionTokens: 2))
        #expect(last.last?["type"] == "response.incomplete")
        #expect(last.last?["response"]?["incomplete_details"] == ["reason": "max_output_tokens"])
        #expect(last.last?["response"]?["output"]?.arrayValue?.first?["status"] == "incomplete")

        var failed = ResponsesEventStream(renderer: renderer(request))
        _ = failed.begin()
        let end = failed.end(finish: nil, usage: nil, error: APIError(status: 502, type: "server_error", code: "upstream_error", message: "gone"))
        #expect(end.map { $0["type"]?.stringValue ?? "" } == ["response.failed"])
        #expect(end.last?["response"]?["error"] == ["code": "upstream_error", "message": "gone"])

        // An answer with no output at all still has its (empty) message.
        var empty = ResponsesEventStream(renderer: renderer(request))
        _ = empty.begin()
        let done = empty.end(finish: .stop, usage: Usage())
        #expect(done.last?["response"]?["output"]?.arrayValue?.first?["content"]?.arrayValue?.first?["text"] == "")
    }
}

private extension JSONValue {
    var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
}
