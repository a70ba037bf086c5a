import TandemCore
import HTTPTypes
import Hummingbird

extension RunningCompletion {
    /// Server-sent events: a role chunk, one chunk per delta, a finish chunk, the usage chunk when
    /// asked for, then `[DONE]`. A backend failure part-way is sent as an error event
    /// (`data: {"error": {...}}`) followed by `[DONE]`.
    func streamingResponse() -> Response {
        var headers = responseHeaders
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        let run = self
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let outcome: CompletionOutcome
            do {
                outcome = run.request.endpoint == .responses ? try await run.writeResponsesEvents(to: &writer)
                    : try await run.writeEvents(to: &writer)
            } catch {
                // The client went away (its connection closed or a write failed): the backend's
                // stream was cancelled with our iteration.
                await run.finish(status: CompletionOutcome.clientClosedStatus, usage: nil, error: nil)
                throw error
            }
            await run.finish(status: outcome.status, usage: outcome.usage, error: outcome.error)
            try await writer.finish(nil)
        })
    }

    /// Writes the whole event stream; throws only when the client is gone.
    func writeEvents(to writer: inout any ResponseBodyWriter) async throws -> CompletionOutcome {
        var acc = CompletionAccumulator()
        var clock = TokenClock(arrival: context.arrival, first: firstToken)
        if request.endpoint == .chatCompletions {
            try await writer.write(ByteBuffer(bytes: SSEEncoder.event(renderer.roleChunk(choices: request.n))))
        } else if let echoText {
            try await write(renderer.chunk(CompletionDelta(content: echoText), logprobsRequested: false), to: &writer)
        }
        var failure: (any Error)?
        var iterator = events.makeAsyncIterator()
        while let event = try await next(&iterator, failure: &failure) {
            acc.add(event)
            switch event {
            case .delta(let delta):
                guard !delta.isEmpty else { continue }
                clock.tick(model: started.model, metrics: metrics)
                try await write(renderer.chunk(delta, logprobsRequested: request.logprobs), to: &writer)
            case .finish(let reason, let index):
                try await write(renderer.chunk(CompletionDelta(index: index), finish: reason, logprobsRequested: false), to: &writer)
            case .usage:
                break
            }
        }
        try Task.checkCancellation()

        let (backendError, apiError) = streamErrors(failure: failure, acc)
        if let apiError {
            try await write(apiError.body, to: &writer)
        } else if request.includeUsage {
            try await write(renderer.usageChunk(acc.usage ?? Usage(completionTokens: acc.deltaCount)), to: &writer)
        }
        try await writer.write(ByteBuffer(bytes: SSEEncoder.done))
        return CompletionOutcome(status: apiError?.status ?? 200, usage: acc.usage, error: backendError)
    }

    /// What went wrong with a streamed answer, if anything: the backend's failure, a stream without
    /// a finish, or output that breaks `response_format`.
    private func streamErrors(failure: (any Error)?, _ acc: CompletionAccumulator) -> (BackendError?, APIError?) {
        if let failure {
            let backendError = failure as? BackendError ?? BackendError(.internal, "\(failure)")
            metrics?.upstreamError(model: started.model, category: backendError.category)
            return (backendError, APIError(backendError))
        }
        if !acc.finished(count: request.n) {
            let backendError = BackendError(.internal, "The backend ended the stream without a finish reason.")
            return (backendError, APIError(backendError))
        }
        if let problem = acc.responseFormatProblem(request.responseFormat) {
            return (nil, .internal(problem, code: "invalid_json_output", param: request.endpoint == .responses ? "text.format" : "response_format"))
        }
        return (nil, nil)
    }

    /// `/v1/responses`: the Responses API's named events (`ResponsesEventStream`), ending with
    /// `response.completed`, `response.incomplete` or, when the backend fails part-way,
    /// `response.failed`; no `[DONE]`.
    func writeResponsesEvents(to writer: inout any ResponseBodyWriter) async throws -> CompletionOutcome {
        var acc = CompletionAccumulator()
        var clock = TokenClock(arrival: context.arrival, first: firstToken)
        var stream = ResponsesEventStream(renderer: responsesRenderer)
        try await send(stream.begin(), to: &writer)
        var failure: (any Error)?
        var iterator = events.makeAsyncIterator()
        while let event = try await next(&iterator, failure: &failure) {
            acc.add(event)
            if case .delta(let delta) = event, !delta.isEmpty {
                clock.tick(model: started.model, metrics: metrics)
                try await send(stream.delta(delta), to: &writer)
            }
        }
        try Task.checkCancellation()
        let (backendError, apiError) = streamErrors(failure: failure, acc)
        try await send(stream.end(finish: acc.finishReason, usage: acc.usage ?? Usage(completionTokens: acc.deltaCount), error: apiError),
                       to: &writer)
        return CompletionOutcome(status: apiError?.status ?? 200, usage: acc.usage, error: backendError)
    }

    /// The backend's next event; nil at its end or when it failed (the error into `failure`).
    /// Throws only when the client is gone.
    private func next(_ iterator: inout AsyncThrowingStream<CompletionEvent, any Error>.Iterator,
                      failure: inout (any Error)?) async throws -> CompletionEvent? {
        do { return try await iterator.next() } catch is ClientClosedError {
            throw ClientClosedError()
        } catch {
            failure = error
            return nil
        }
    }

    private func send(_ events: [JSONValue], to writer: inout any ResponseBodyWriter) async throws {
        guard !events.isEmpty else { return }
        var bytes: [UInt8] = []
        for e in events { bytes += SSEEncoder.event(e, name: e["type"]?.stringValue ?? "message") }
        try await writer.write(ByteBuffer(bytes: bytes))
    }

    private func write(_ json: JSONValue, to writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(ByteBuffer(bytes: SSEEncoder.event(json)))
    }
}
