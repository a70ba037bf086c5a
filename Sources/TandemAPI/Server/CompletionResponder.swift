import TandemCore
import HTTPTypes
import Hummingbird
import Logging

/// Answers `POST /v1/chat/completions`, `POST /v1/completions` and `POST /v1/responses` for any
/// `CompletionDispatcher`: authentication, body limits, validation, then the dispatcher's backend,
/// rendered as one JSON document or as server-sent events. Records the request metrics.
///
/// Every request ends within `ServerLimits.requestTimeout`, and a client that disconnects cancels
/// the backend's work (the connection is watched while the answer is produced; see
/// `ClientConnection`). The connection stays open for the client's next request.
struct CompletionResponder<Dispatcher: CompletionDispatcher>: Sendable {
    let dispatcher: Dispatcher
    let metrics: APIMetrics?
    /// Spans for traced requests: the request (under the caller's `traceparent`), its
    /// authentication and admission, then time to first token and decoding (`RunningCompletion`).
    var tracer: Tracer? = nil

    func respond(to request: Request, context: some Hummingbird.RequestContext, connection: ClientConnection?,
                 endpoint: CompletionRequest.Endpoint, closeConnection: (@Sendable () -> Void)? = nil) async -> Response {
        let arrival = ContinuousClock.now
        let requestID = RequestIdentifier.make()
        let tracer = self.tracer
        var logger = context.logger
        logger[metadataKey: "request_id"] = .string(requestID)
        var tenant = "unknown"
        var modelLabel = "unknown"
        var bodyRead = false
        var limits = ServerLimits()
        let incoming = request.headers[values: HTTPField.Name(TraceContext.header)!].first.flatMap(TraceContext.init(traceparent:))
        let span = tracer?.root(tracer!.serviceName + " " + request.uri.path, parent: incoming,
                                attributes: [("tandem.request_id", requestID), ("http.route", request.uri.path)]
                                    // The caller's own id (the gateway's, at a coordinator): one request across processes.
                                    + (request.headers[.requestID].map { [("tandem.caller_request_id", String($0.prefix(64)))] } ?? []))
        do {
            limits = await dispatcher.serverLimits
            let auth = span?.child("authenticate")
            let caller: Caller
            do { caller = try await dispatcher.authenticate(request.headers) } catch {
                auth?.end(error: error.message)
                throw error
            }
            auth?.end()
            span?.set("tandem.tenant", caller.tenant)
            tenant = await dispatcher.metricsTenant(caller.tenant)
            logger[metadataKey: "tenant"] = .string(caller.tenant)
            try RequestBounds.checkHeaders(request.headers)
            try RequestBounds.checkContentType(request.headers[.contentType])
            bodyRead = true
            let body = try await BodyReader.read(request, limits: limits)
            try RequestBounds.checkNesting(body.readableBytesView)
            let json: JSONValue
            do {
                json = try JSONValue.parse(body.readableBytesView)
            } catch {
                throw APIError.invalidJSON(body.readableBytes == 0 ? "the body is empty" : "it could not be parsed")
            }
            let completion = try RequestValidator.validate(json, endpoint: endpoint)
            modelLabel = await dispatcher.knownModelName(completion.model) ?? "unknown"
            var requestContext = InferenceContext(
                requestID: requestID, tenant: caller.tenant, cacheSalt: caller.cacheSalt, arrival: arrival,
                deadline: arrival + limits.requestTimeout, logger: logger)
            requestContext.span = span
            if span == nil, tracer != nil {
                requestContext.unsampledTrace = incoming.map { TraceContext(traceID: $0.traceID, spanID: $0.spanID, sampled: false) }
                    ?? TraceContext(traceID: TraceContext.randomHex(bytes: 16), spanID: TraceContext.randomHex(bytes: 8), sampled: false)
            }
            span?.set("tandem.model", completion.model)
            let admission = span?.child("admission")
            let started: StartedCompletion
            do { started = try await start(completion, caller: caller, context: requestContext, headers: request.headers) } catch {
                admission?.end(error: "\(APIError(any: error).status)")
                throw error
            }
            admission?.end()
            metrics?.queueTime(model: started.model, .now - arrival)
            metrics?.runningStarted(model: started.model)
            let run = RunningCompletion(
                request: completion, context: requestContext, started: started, metrics: metrics, metricsTenant: tenant,
                connection: connection,
                renderer: ResponseRenderer(id: responseID(endpoint, requestID), created: unixTimeNow(),
                                           model: started.model, endpoint: endpoint))
            if completion.stream {
                return run.streamingResponse()
            }
            return await run.wholeResponse()
        } catch {
            var apiError = APIError(any: error)
            // A refusal before the body was read still reads (and drops) it, up to a bound, so a
            // client that sends its whole body before reading gets this answer, not a reset.
            var close = (error as? BodyReader.TooLarge)?.close ?? false
            if !bodyRead { close = await !BodyReader.drain(request, limits: limits) }
            if let tooLarge = error as? BodyReader.TooLarge { apiError = tooLarge.error }
            span?.set("http.status_code", String(apiError.status))
            span?.end(error: apiError.message)
            metrics?.request(model: modelLabel, tenant: tenant, status: apiError.status)
            metrics?.endToEnd(model: modelLabel, .now - arrival)
            metrics?.recordError(.init(time: unixTimeNow(), model: modelLabel, tenant: tenant, status: apiError.status,
                                       message: apiError.message, requestID: requestID))
            logger.log(level: apiError.status >= 500 ? .warning : .info, "request refused",
                       metadata: ["status": .stringConvertible(apiError.status), "code": .string(apiError.code ?? ""),
                                  "error": .string(apiError.message)])
            if close {
                // The rest of the body is not worth reading: answer, then close once the answer had
                // time to leave (a close with unread input resets the connection).
                apiError.headers["Connection"] = "close"
                closeConnection?()
            }
            return apiError.response(requestID: requestID)
        }
    }

    /// The dispatcher's `start`, bounded by the request's deadline. A start that still succeeds
    /// after the deadline won is ended at once, so its limits and load are released.
    private func start(_ request: CompletionRequest, caller: Caller, context: InferenceContext,
                       headers: HTTPFields) async throws -> StartedCompletion {
        let dispatcher = self.dispatcher
        return try await withThrowingTaskGroup(of: StartedCompletion?.self) { group in
            group.addTask { try await dispatcher.start(request, caller: caller, context: context, headers: headers) }
            group.addTask {
                try await Task.sleep(until: context.deadline, clock: .continuous)
                return nil
            }
            if let started = try await group.next()! {
                group.cancelAll()
                return started
            }
            group.cancelAll()
            while let late = try? await group.next() {
                if let late { await late.onEnd(CompletionOutcome(status: 504)) }
            }
            throw APIError.timeout("No backend accepted the request before its deadline.")
        }
    }

    private func responseID(_ endpoint: CompletionRequest.Endpoint, _ requestID: String) -> String {
        switch endpoint {
        case .chatCompletions: "chatcmpl-\(requestID)"
        case .completions: "cmpl-\(requestID)"
        case .responses: "resp_\(requestID)"
        }
    }
}
