import Logging

/// Something that answers completion requests: an upstream over HTTP (`HTTPUpstreamBackend`),
/// a model's engine in the coordinator, or a fake in tests.
///
/// Contract:
/// * `complete` returns once the backend has **accepted** the request (an upstream answered 200,
///   the scheduler admitted it). If it cannot be accepted it throws a `BackendError`
///   (`.overCapacity`, `.contextTooLong`, `.upstreamUnavailable`, …) and nothing was generated.
/// * The returned stream yields `CompletionEvent`s (deltas, one `.finish`, then `.usage`) and then
///   ends, or throws a `BackendError` part-way.
/// * When the consumer stops iterating (the client went away, the deadline passed) the stream is
///   terminated; the backend must then stop work for the request (use the continuation's
///   `onTermination`).
/// * `context.deadline` is a hard limit: a backend should give up by then (the server also
///   enforces it, reporting `.timeout`).
public protocol InferenceBackend: Sendable {
    func complete(_ request: CompletionRequest, context: InferenceContext) async throws
        -> AsyncThrowingStream<CompletionEvent, any Error>

    /// Whether the backend can take requests now (for `/ready` and the router's health view).
    func health() async -> BackendHealth
}

/// Who is asking and under which limits: everything about a request that is not in its body.
public struct InferenceContext: Sendable {
    /// Unique id, echoed as `X-Request-Id` and used as the response id suffix.
    public var requestID: String
    /// The tenant the request is billed to (from the API key at the gateway, from
    /// `X-Tandem-Tenant` at a coordinator).
    public var tenant: String
    /// Extra key of the first KV block so tenants never share cached blocks; assigned by the gateway.
    public var cacheSalt: String?
    /// When the request arrived.
    public var arrival: ContinuousClock.Instant
    /// When the request must have ended, one way or the other.
    public var deadline: ContinuousClock.Instant
    public var logger: Logger
    /// The request's span where it is traced (`Tracer`): a backend's own spans go under it, and an
    /// upstream call passes it on as `traceparent`. nil: not traced.
    public var span: Span?
    /// Where a tracer decided not to sample: the context to pass on unsampled (flags 00), so the
    /// next process keeps the decision instead of starting a trace of its own.
    public var unsampledTrace: TraceContext?

    public init(requestID: String, tenant: String, cacheSalt: String? = nil,
                arrival: ContinuousClock.Instant = .now, deadline: ContinuousClock.Instant, logger: Logger) {
        self.requestID = requestID
        self.tenant = tenant
        self.cacheSalt = cacheSalt
        self.arrival = arrival
        self.deadline = deadline
        self.logger = logger
    }
}

/// A backend's answer to "can you take requests?".
public enum BackendHealth: Sendable, Equatable {
    case ready
    /// Not usable now, with a reason for `/ready` and the logs.
    case unavailable(String)

    public var isReady: Bool { self == .ready }
}
