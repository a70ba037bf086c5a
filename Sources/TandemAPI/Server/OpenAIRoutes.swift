import TandemCore
import HTTPTypes
import Hummingbird
import NIOCore

/// The OpenAI-compatible HTTP API over a `CompletionDispatcher`: the one implementation used by
/// the gateway and by coordinators.
///
/// Routes: `POST /v1/chat/completions`, `POST /v1/completions`, `POST /v1/responses` (stateless:
/// `ResponsesRequest`), `GET /v1/models`,
/// `GET /health` (alive; 503 when the dispatcher's `liveness` fails), `GET /ready` (every model has a usable backend) and, when metrics are
/// given, `GET /metrics` (Prometheus text). Unknown paths answer OpenAI-shaped 404s.
/// `/metrics` and the per-model reasons of `/ready` need `CompletionDispatcher.operatorAccess`;
/// `/health` discloses nothing.
public enum OpenAIRoutes {
    /// A router serving the API.
    public static func router<Dispatcher: CompletionDispatcher>(
        dispatcher: Dispatcher, metrics: APIMetrics?, tracer: Tracer? = nil
    ) -> Router<TandemRequestContext> {
        let router = Router(context: TandemRequestContext.self)
        router.add(middleware: OpenAIErrorMiddleware<TandemRequestContext>())
        add(to: router, dispatcher: dispatcher, metrics: metrics, tracer: tracer)
        return router
    }

    /// Adds the API's routes to an existing router.
    public static func add<Dispatcher: CompletionDispatcher>(
        to router: Router<TandemRequestContext>, dispatcher: Dispatcher, metrics: APIMetrics?, tracer: Tracer? = nil
    ) {
        let completions = CompletionResponder(dispatcher: dispatcher, metrics: metrics, tracer: tracer)
        router.post("/v1/chat/completions") { request, context in
            await completions.respond(to: request, context: context,
                                      connection: ClientConnectionHandler.connection(of: context.channel),
                                      endpoint: .chatCompletions, closeConnection: lingeringClose(context.channel))
        }
        router.post("/v1/completions") { request, context in
            await completions.respond(to: request, context: context,
                                      connection: ClientConnectionHandler.connection(of: context.channel),
                                      endpoint: .completions, closeConnection: lingeringClose(context.channel))
        }
        router.post("/v1/responses") { request, context in
            await completions.respond(to: request, context: context,
                                      connection: ClientConnectionHandler.connection(of: context.channel),
                                      endpoint: .responses, closeConnection: lingeringClose(context.channel))
        }
        router.get("/v1/models") { request, _ -> Response in
            do {
                let caller = try await dispatcher.authenticate(request.headers)
                let cards = await dispatcher.models(for: caller)
                return jsonResponse(.object([
                    ("object", "list"),
                    ("data", .array(cards.map { card in
                        var pairs: [(String, JSONValue)] = [("id", .string(card.id)), ("object", "model"), ("created", .int(card.created)),
                                                            ("owned_by", .string(card.ownedBy))]
                        if let d = card.samplingDefaults { pairs.append(("sampling_defaults", d.jsonValue)) }
                        return .object(pairs)
                    })),
                ]))
            } catch {
                return APIError(any: error).response(requestID: nil)
            }
        }
        router.get("/health") { _, _ -> Response in
            switch await dispatcher.liveness() {
            case .ready: return jsonResponse(.object([("status", "ok")]))
            case .unavailable: return jsonResponse(.object([("status", "unhealthy")]), status: .serviceUnavailable)
            }
        }
        router.get("/ready") { request, _ -> Response in
            let health = await dispatcher.readiness()
            let ready = !health.isEmpty && health.values.allSatisfy(\.isReady)
            // Reasons name internal addresses and errors: only for operators.
            let detailed = await dispatcher.operatorAccess(request.headers) == nil
            let models: [(String, JSONValue)] = health.sorted(by: { $0.key < $1.key }).map { name, h in
                switch h {
                case .ready: (name, .object([("status", "ready")]))
                case .unavailable(let why):
                    (name, .object([("status", "unavailable")] + (detailed ? [("reason", .string(why))] : [])))
                }
            }
            return jsonResponse(.object([("status", .string(ready ? "ready" : "not_ready")), ("models", .object(models))]),
                                status: ready ? .ok : .serviceUnavailable,
                                headers: ready ? [:] : [.retryAfter: "5"])
        }
        if let metrics {
            router.get("/metrics") { request, _ -> Response in
                if let refused = await dispatcher.operatorAccess(request.headers) { return refused.response(requestID: nil) }
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                         body: ResponseBody(byteBuffer: ByteBuffer(string: await metrics.renderWithCollectors())))
            }
        }
    }
}

/// Closes `channel` a moment after an answer was handed over (time for it to leave before the
/// close; a close with unread input resets the connection).
func lingeringClose(_ channel: any Channel) -> @Sendable () -> Void {
    {
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }
}

/// Renders every error that escapes a route (an unknown path, a wrong method, anything
/// unexpected) in OpenAI's error shape.
struct OpenAIErrorMiddleware<Context: Hummingbird.RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response(requestID: nil)
        } catch let error as any HTTPResponseError {
            let path = request.uri.path
            switch error.status {
            case .notFound: return APIError.notFound(path).response(requestID: nil)
            case .methodNotAllowed: return APIError.methodNotAllowed(request.method.rawValue, path).response(requestID: nil)
            default:
                return APIError(status: error.status.code, type: error.status.code >= 500 ? "server_error" : "invalid_request_error",
                                code: nil, message: error.status.reasonPhrase).response(requestID: nil)
            }
        } catch {
            context.logger.error("unhandled error", metadata: ["error": .string("\(error)")])
            return APIError.internal("Internal error.").response(requestID: nil)
        }
    }
}
