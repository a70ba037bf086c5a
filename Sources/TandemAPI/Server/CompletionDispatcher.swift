import Hummingbird
import TandemCore

/// What the shared HTTP layer (`OpenAIRoutes`) asks of the process it runs in: who is calling,
/// which models exist, and how to start a request.
///
/// Two implementations: `GatewayDispatcher` (`TandemGateway`: API keys, tenant limits, routing
/// across upstreams, fallback) and `DirectDispatcher` (here: a coordinator's one backend, tenant
/// and salt from the gateway's headers, the gateway's internal key when one is set).
public protocol CompletionDispatcher: Sendable {
    /// Identifies the caller from the request headers; throws 401 when it cannot. Runs before
    /// the body is read.
    func authenticate(_ headers: HTTPFields) async throws(APIError) -> Caller

    /// The models this caller may use, for `GET /v1/models`.
    func models(for caller: Caller) async -> [ModelCard]

    /// Admits, routes and starts one request. Returns once a backend has accepted it; throws the
    /// error the client should see otherwise (404 unknown model, 429 limits, 503 unavailable, …).
    func start(_ request: CompletionRequest, caller: Caller, context: InferenceContext,
               headers: HTTPFields) async throws(APIError) -> StartedCompletion

    /// Per-model readiness for `GET /ready`.
    func readiness() async -> [String: BackendHealth]

    /// Whether this process can still serve at all, for `GET /health` (503 when not): a
    /// coordinator whose engine failed a step says so; the gateway is alive while it runs.
    func liveness() async -> BackendHealth

    /// The configured model or alias `requested` names, for metric labels (nil: unknown, so
    /// arbitrary client strings never become label values).
    func knownModelName(_ requested: String) async -> String?

    /// Limits that apply before a dispatcher sees the request.
    var serverLimits: ServerLimits { get async }

    /// Whether the request may read operational detail: `GET /metrics`, and the per-model reasons
    /// of `GET /ready`. nil: it may; else the error `/metrics` answers with.
    func operatorAccess(_ headers: HTTPFields) async -> APIError?

    /// The `tenant` label for an authenticated caller's tenant (configured tenants only, so the
    /// number of series stays bounded whatever clients send).
    func metricsTenant(_ tenant: String) async -> String
}

extension CompletionDispatcher {
    public func operatorAccess(_ headers: HTTPFields) async -> APIError? { nil }
    public func metricsTenant(_ tenant: String) async -> String { tenant }
}

extension CompletionDispatcher {
    public func liveness() async -> BackendHealth { .ready }
}

/// The authenticated caller of a request.
public struct Caller: Sendable, Equatable {
    public var tenant: String
    /// Assigned by the server (never taken from the client's body).
    public var cacheSalt: String?

    public init(tenant: String, cacheSalt: String? = nil) {
        self.tenant = tenant
        self.cacheSalt = cacheSalt
    }
}

/// An entry of `GET /v1/models`.
public struct ModelCard: Sendable, Equatable {
    public var id: String
    public var ownedBy: String
    public var created: Int64
    /// The sampling settings a request that leaves them out gets (`sampling_defaults`; a
    /// coordinator shows its model's, the gateway none).
    public var samplingDefaults: SamplingDefaults?

    public init(id: String, ownedBy: String = "tandem", created: Int64 = 0, samplingDefaults: SamplingDefaults? = nil) {
        self.id = id
        self.ownedBy = ownedBy
        self.created = created
        self.samplingDefaults = samplingDefaults
    }
}

/// Body size and time limits applied by the HTTP layer.
public struct ServerLimits: Sendable, Equatable {
    /// Largest accepted request body (413 above).
    public var maxBodyBytes: Int
    /// Every request ends (answered or failed) within this time of its arrival.
    public var requestTimeout: Duration
    /// How much of an over-limit body is still read (and dropped) so the client receives the 413;
    /// past it the connection is closed after the answer.
    public var drainBytes: Int { max(32 << 20, maxBodyBytes <= Int.max / 4 ? maxBodyBytes * 4 : Int.max) }
    /// How long that reading may take.
    public var drainTime: Duration { .seconds(10) }

    public init(maxBodyBytes: Int = 1 << 20, requestTimeout: Duration = .seconds(300)) {
        self.maxBodyBytes = maxBodyBytes
        self.requestTimeout = requestTimeout
    }
}

/// A request a backend has accepted: its event stream, which model answers, what the response
/// headers say about the route, and what to do when it ends.
public struct StartedCompletion: Sendable {
    /// The model that answers (reported in the response and `X-Tandem-Model`).
    public var model: String
    public var events: AsyncThrowingStream<CompletionEvent, any Error>
    /// Extra response headers (`X-Tandem-Route-Reason`, warnings, …).
    public var headers: [(String, String)]
    /// Called exactly once when the request ends, with the usage reported (if any) and the HTTP
    /// status the request is counted under; releases limits and records accounting.
    public var onEnd: @Sendable (CompletionOutcome) async -> Void

    public init(model: String, events: AsyncThrowingStream<CompletionEvent, any Error>,
                headers: [(String, String)] = [], onEnd: @escaping @Sendable (CompletionOutcome) async -> Void = { _ in }) {
        self.model = model
        self.events = events
        self.headers = headers
        self.onEnd = onEnd
    }
}

/// How a started request ended.
public struct CompletionOutcome: Sendable, Equatable {
    /// The status the request is counted under (200, 504, …; 499 when the client went away).
    public var status: Int
    public var usage: Usage?
    /// The backend error that ended it, if any.
    public var error: BackendError?

    public init(status: Int, usage: Usage? = nil, error: BackendError? = nil) {
        self.status = status
        self.usage = usage
        self.error = error
    }

    /// Nginx's "client closed request": the client disconnected before the end.
    public static let clientClosedStatus = 499
}

extension SamplingDefaults {
    /// The JSON form (`temperature`, `top_p`, `top_k`, `min_p`, `repetition_penalty`; fields set only).
    public var jsonValue: JSONValue {
        // Floats as their shortest decimal (0.2, not 0.20000000298).
        func number(_ f: Float) -> JSONValue { .double(Double("\(f)") ?? Double(f)) }
        var pairs: [(String, JSONValue)] = []
        if let v = temperature { pairs.append(("temperature", number(v))) }
        if let v = topP { pairs.append(("top_p", number(v))) }
        if let v = topK { pairs.append(("top_k", .int(Int64(v)))) }
        if let v = minP { pairs.append(("min_p", number(v))) }
        if let v = repetitionPenalty { pairs.append(("repetition_penalty", number(v))) }
        return .object(pairs)
    }
}
