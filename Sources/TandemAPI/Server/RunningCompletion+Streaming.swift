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
                outcome = try await run.writeEvents(to: &writer)
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
        var clock = TokenClock(arrival: context.arrival)
        if request.endpoint == .chatCompletions {
            try await writer.write(ByteBuffer(bytes: SSEEncoder.event(renderer.roleChunk(choices: request.n))))
        } else if let echoText {
            try await write(renderer.chunk(CompletionDelta(content: echoText), logprobsRequested: false), to: &writer)
        }
        var failure: (any Error)?
        var iterator = events.makeAsyncIterator()
        while true {
            let event: CompletionEvent?
            do { event = try await iterator.next() } catch is ClientClosedError {
                throw ClientClosedError()
            } catch { failure = error; break }
            guard let event else { break }
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

        var status = 200
        var backendError: BackendError?
        var apiError: APIError?
        if let failure {
            backendError = failure as? BackendError ?? BackendError(.internal, "\(failure)")
            metrics?.upstreamError(model: started.model, category: backendError!.category)
            apiError = APIError(backendError!)
        } else if !acc.finished(count: request.n) {
            backendError = BackendError(.internal, "The backend ended the stream without a finish reason.")
            apiError = APIError(backendError!)
        } else if let problem = acc.responseFormatProblem(request.responseFormat) {
            apiError = .internal(problem, code: "invalid_json_output", param: "response_format")
        }
        if let apiError {
            status = apiError.status
            try await write(apiError.body, to: &writer)
        } else if request.includeUsage {
            try await write(renderer.usageChunk(acc.usage ?? Usage(completionTokens: acc.deltaCount)), to: &writer)
        }
        try await writer.write(ByteBuffer(bytes: SSEEncoder.done))
        return CompletionOutcome(status: status, usage: acc.usage, error: backendError)
    }

    private func write(_ json: JSONValue, to writer: inout any ResponseBodyWriter) async throws {
        try await writer.write(ByteBuffer(bytes: SSEEncoder.event(json)))
    }
}
