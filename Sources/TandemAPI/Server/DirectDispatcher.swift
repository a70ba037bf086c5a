import HTTPTypes
import Hummingbird
import TandemCore

/// The dispatcher of a coordinator: one backend serving a fixed set of model names.
///
/// The gateway in front of it has already authenticated, limited and routed the request; the
/// tenant and cache salt arrive in the `X-Tandem-Tenant` and `X-Tandem-Cache-Salt` headers
/// (`TandemHeader.tenant`, `.cacheSalt`).
/// With an `internalKey` (what `tandem up` gives each coordinator) every `/v1/*` request, `/metrics`
/// and the details of `/ready` need `Authorization: Bearer <internal key>` (compared in constant
/// time; 401 without it), and only then are those headers believed. Without one (a coordinator
/// started by hand) anyone who reaches the port is believed: bind it to loopback.
public struct DirectDispatcher: CompletionDispatcher {
    public let backend: any InferenceBackend
    /// The names this backend answers to; the first is reported as the answering model.
    public let modelNames: [String]
    public let limits: ServerLimits
    /// The secret the gateway must present (nil: no authentication).
    public let internalKey: String?
    /// The model's sampling defaults in use, shown by `GET /v1/models` (nil: not shown).
    public let samplingDefaults: SamplingDefaults?

    public init(backend: any InferenceBackend, modelNames: [String], limits: ServerLimits = ServerLimits(),
                internalKey: String? = nil, samplingDefaults: SamplingDefaults? = nil) {
        precondition(!modelNames.isEmpty, "a DirectDispatcher needs at least one model name")
        self.backend = backend
        self.modelNames = modelNames
        self.limits = limits
        self.internalKey = internalKey
        self.samplingDefaults = samplingDefaults
    }

    public var serverLimits: ServerLimits { limits }

    public func authenticate(_ headers: HTTPFields) async throws(APIError) -> Caller {
        if let internalKey, !InternalKey.authorizes(headers[.authorization], key: internalKey) {
            throw .invalidAPIKey("This coordinator only answers its gateway: missing or wrong internal key.")
        }
        return Caller(tenant: headers[.tandemTenant] ?? "default", cacheSalt: headers[.tandemCacheSalt])
    }

    public func operatorAccess(_ headers: HTTPFields) async -> APIError? {
        guard let internalKey, !InternalKey.authorizes(headers[.authorization], key: internalKey) else { return nil }
        return .invalidAPIKey("Missing or wrong internal key.")
    }

    public func models(for caller: Caller) async -> [ModelCard] {
        [ModelCard(id: modelNames[0], samplingDefaults: samplingDefaults)]
    }

    public func knownModelName(_ requested: String) async -> String? {
        modelNames.contains(requested) ? modelNames[0] : nil
    }

    public func readiness() async -> [String: BackendHealth] {
        [modelNames[0]: await backend.health()]
    }

    /// The backend's health: an engine that failed a step stays unusable, so `/health` fails too.
    public func liveness() async -> BackendHealth {
        await backend.health()
    }

    public func start(_ request: CompletionRequest, caller: Caller, context: InferenceContext,
                      headers: HTTPFields) async throws(APIError) -> StartedCompletion {
        guard modelNames.contains(request.model) else { throw .modelNotFound(request.model) }
        var request = request
        request.model = modelNames[0]
        do {
            let events = try await backend.complete(request, context: context)
            return StartedCompletion(model: modelNames[0], events: events)
        } catch {
            throw APIError(any: error)
        }
    }
}
