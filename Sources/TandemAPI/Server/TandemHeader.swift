import HTTPTypes

/// The names of the HTTP headers Tandem defines (beyond HTTP's own), each spelled once here and
/// used by the API server, the gateway's router and its upstream client (`HTTPField.Name`
/// constants below for HTTPTypes). Header names are case-insensitive; these are the spellings
/// Tandem sends.
public enum TandemHeader {
    // MARK: Client → gateway (constraints on the model a routing policy chooses)

    /// Most dollars the request may cost.
    public static let maxCost = "X-Tandem-Max-Cost"
    /// Most end-to-end milliseconds the request may take.
    public static let maxLatencyMs = "X-Tandem-Max-Latency-Ms"

    // MARK: Gateway → coordinator (believed only with the internal key, when one is set)

    /// The tenant the request is billed to.
    public static let tenant = "X-Tandem-Tenant"
    /// The tenant's cache salt: the extra key of its first KV block.
    public static let cacheSalt = "X-Tandem-Cache-Salt"

    // MARK: Responses

    /// The model that answered.
    public static let model = "X-Tandem-Model"
    /// Why that model: `explicit`, `alias`, `rule:NAME`, `default`, `constraint`, `fallback`, `unavailable`.
    public static let routeReason = "X-Tandem-Route-Reason"
    /// The index of the replica (deployment) of the model that answered.
    public static let replica = "X-Tandem-Replica"
    /// Why that replica: `affinity`, `least_loaded`, `retry`.
    public static let replicaReason = "X-Tandem-Replica-Reason"
    /// The model first chosen, when its declared fallback answered instead.
    public static let fallbackFrom = "X-Tandem-Fallback-From"
    /// Something the client should know (e.g. `max_tokens` below a reasoning model's floor).
    public static let warning = "X-Tandem-Warning"

    // MARK: Both directions

    /// The request's id: answered on every response, passed on to upstreams.
    public static let requestID = "X-Request-Id"
}

extension HTTPField.Name {
    public static let tandemMaxCost = HTTPField.Name(TandemHeader.maxCost)!
    public static let tandemMaxLatencyMs = HTTPField.Name(TandemHeader.maxLatencyMs)!
    public static let tandemTenant = HTTPField.Name(TandemHeader.tenant)!
    public static let tandemCacheSalt = HTTPField.Name(TandemHeader.cacheSalt)!
    public static let tandemModel = HTTPField.Name(TandemHeader.model)!
    public static let tandemRouteReason = HTTPField.Name(TandemHeader.routeReason)!
    public static let tandemReplica = HTTPField.Name(TandemHeader.replica)!
    public static let tandemReplicaReason = HTTPField.Name(TandemHeader.replicaReason)!
    public static let tandemFallbackFrom = HTTPField.Name(TandemHeader.fallbackFrom)!
    public static let tandemWarning = HTTPField.Name(TandemHeader.warning)!
    public static let requestID = HTTPField.Name(TandemHeader.requestID)!
}
