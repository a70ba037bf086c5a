import HTTPTypes
import Hummingbird
import Logging

/// One accepted request while its answer is produced and written.
struct RunningCompletion: Sendable {
    let request: CompletionRequest
    let context: InferenceContext
    let started: StartedCompletion
    let metrics: APIMetrics?
    let renderer: ResponseRenderer
    /// The client's connection, watched so that a client that goes away cancels the backend's
    /// work (nil in the in-memory router of tests).
    let connection: ClientConnection?
    let ending: CompletionEnding
    /// When the first text arrived, kept for a traced request's spans only (nil: not traced).
    let firstToken: Locked<ContinuousClock.Instant?>?

    /// - Parameter metricsTenant: the caller's tenant as a metric label (`CompletionDispatcher.metricsTenant`).
    init(request: CompletionRequest, context: InferenceContext, started: StartedCompletion, metrics: APIMetrics?,
         metricsTenant: String, connection: ClientConnection?, renderer: ResponseRenderer) {
        self.request = request
        self.connection = connection
        self.context = context
        self.started = started
        self.metrics = metrics
        self.renderer = renderer
        let accepted = ContinuousClock.now
        let firstToken = context.span == nil ? nil : Locked<ContinuousClock.Instant?>(nil)
        self.firstToken = firstToken
        self.ending = CompletionEnding { status, usage, error in
            if let span = context.span {
                // Accepted → first text (queue and prefill), first text → end (decode).
                let first = firstToken?.withLock { $0 }
                let ttft = span.child("first token", start: Tracer.unixNano(accepted))
                if let first {
                    ttft.end(at: Tracer.unixNano(first))
                    span.child("decode", start: Tracer.unixNano(first)).end()
                } else {
                    ttft.end(error: "no text")
                }
                span.set("http.status_code", String(status))
                if let usage {
                    span.set("gen_ai.usage.input_tokens", String(usage.promptTokens))
                    span.set("gen_ai.usage.output_tokens", String(usage.completionTokens))
                }
                span.end(error: status >= 400 ? (error?.message ?? "status \(status)") : nil)
            }
            metrics?.runningEnded(model: started.model)
            metrics?.request(model: started.model, tenant: metricsTenant, status: status)
            metrics?.endToEnd(model: started.model, .now - context.arrival)
            if let usage { metrics?.tokens(model: started.model, tenant: metricsTenant, usage: usage) }
            if status >= 400, status != CompletionOutcome.clientClosedStatus {
                metrics?.recordError(.init(time: unixTimeNow(), model: started.model, tenant: metricsTenant, status: status,
                                           message: error?.message ?? "status \(status)", requestID: context.requestID))
            }
            await started.onEnd(CompletionOutcome(status: status, usage: usage, error: error))
            context.logger.info("request finished", metadata: [
                "model": .string(started.model), "status": .stringConvertible(status),
                "prompt_tokens": .stringConvertible(usage?.promptTokens ?? 0),
                "completion_tokens": .stringConvertible(usage?.completionTokens ?? 0),
                "ms": .stringConvertible(milliseconds(.now - context.arrival)),
            ])
        }
    }

    var responseHeaders: HTTPFields {
        var headers: HTTPFields = [.requestID: context.requestID, .tandemModel: started.model]
        for (name, value) in started.headers {
            if let field = HTTPField.Name(name) { headers.append(HTTPField(name: field, value: value)) }
        }
        return headers
    }

    var events: AsyncThrowingStream<CompletionEvent, any Error> {
        started.events.bounded(by: context.deadline,
                               timeoutError: BackendError(.timeout, "The request did not finish before its deadline."),
                               connection: connection)
    }

    /// Tracks first-token and inter-token latency.
    struct TokenClock {
        let arrival: ContinuousClock.Instant
        /// Where the first text's time is kept for the request's spans.
        var first: Locked<ContinuousClock.Instant?>? = nil
        var last: ContinuousClock.Instant?

        mutating func tick(model: String, metrics: APIMetrics?) {
            let now = ContinuousClock.now
            if let last { metrics?.interTokenLatency(model: model, now - last) }
            else {
                metrics?.timeToFirstToken(model: model, now - arrival)
                first?.withLock { $0 = now }
            }
            last = now
        }
    }

    /// Records the end of the request (only the first call counts).
    func finish(status: Int, usage: Usage?, error: BackendError?) async {
        await ending.end(status: status, usage: usage, error: error)
    }

    /// Collects the whole answer, then responds with one JSON document.
    func wholeResponse() async -> Response {
        let events = self.events
        let model = started.model
        let metrics = self.metrics
        let arrival = context.arrival
        do {
            var acc = CompletionAccumulator()
            var clock = TokenClock(arrival: arrival, first: firstToken)
            for try await event in events {
                if case .delta(let d) = event, !d.isEmpty { clock.tick(model: model, metrics: metrics) }
                acc.add(event)
            }
            try Task.checkCancellation()
            if let problem = acc.responseFormatProblem(request.responseFormat) {
                let error = APIError.internal(problem, code: "invalid_json_output", param: request.endpoint == .responses ? "text.format" : "response_format")
                await finish(status: error.status, usage: acc.usage, error: nil)
                var response = error.response(requestID: context.requestID)
                response.headers.append(contentsOf: responseHeaders.filter { $0.name != .requestID })
                return response
            }
            await finish(status: 200, usage: acc.usage, error: nil)
            let body = request.endpoint == .responses ? responsesRenderer.completed(acc)
                : renderer.completion(acc, logprobsRequested: request.logprobs, echo: echoText)
            return jsonResponse(body, headers: responseHeaders)
        } catch {
            if error is CancellationError || error is ClientClosedError || Task.isCancelled {
                await finish(status: CompletionOutcome.clientClosedStatus, usage: nil, error: nil)
                return APIError.internal("The client closed the request.").response(requestID: context.requestID)
            }
            let apiError = APIError(any: error)
            let backendError = error as? BackendError
            if let backendError { metrics?.upstreamError(model: model, category: backendError.category) }
            await finish(status: apiError.status, usage: nil, error: backendError)
            var response = apiError.response(requestID: context.requestID)
            response.headers.append(contentsOf: responseHeaders.filter { $0.name != .requestID })
            return response
        }
    }

    /// The renderer of `/v1/responses` answers.
    var responsesRenderer: ResponsesRenderer {
        ResponsesRenderer(id: renderer.id, created: renderer.created, model: renderer.model, request: request)
    }

    /// `/v1/completions` with `echo`: the prompt text to put before the completion.
    var echoText: String? {
        guard request.echo, case .text(let prompt) = request.input else { return nil }
        return prompt
    }
}

/// Runs a request's end-of-life bookkeeping exactly once: explicitly when the answer is done,
/// or, if the response was dropped before its body was ever written (the client vanished
/// first), when the last reference goes away.
final class CompletionEnding: Sendable {
    typealias Action = @Sendable (Int, Usage?, BackendError?) async -> Void
    private let done = Locked(false)
    private let action: Action

    init(_ action: @escaping Action) {
        self.action = action
    }

    func end(status: Int, usage: Usage?, error: BackendError?) async {
        let already = done.withLock { d -> Bool in
            defer { d = true }
            return d
        }
        if !already { await action(status, usage, error) }
    }

    deinit {
        if !done.withLock({ $0 }) {
            let action = self.action
            Task { await action(CompletionOutcome.clientClosedStatus, nil, nil) }
        }
    }
}
