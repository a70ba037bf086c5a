import TandemAPI

/// The gateway's own `tandem_*` metrics (router, replicas, upstreams, tenant limits, reloads),
/// recorded in the same registry as the API's so one `/metrics` shows both.
extension APIMetrics {
    /// A routing decision: which model and why (`explicit`, `alias`, `rule:NAME`, `default`, `fallback`, …).
    public func routingDecision(model: String, reason: String) {
        count("tandem_routing_decisions_total", [("model", model), ("reason", reason)])
    }

    /// A replica choice within a model (`affinity`, `least_loaded`, `retry`).
    public func replicaDecision(model: String, replica: String, reason: String) {
        count("tandem_replica_decisions_total", [("model", model), ("replica", replica), ("reason", reason)])
    }

    /// A request refused by a tenant limit (`requests`, `tokens`, `concurrency`).
    public func rateLimited(tenant: String, limit: String) {
        count("tandem_rate_limited_total", [("tenant", tenantLabel(tenant)), ("limit", limit)])
    }

    /// A configuration reload (`applied` or `rejected`).
    public func configReload(result: String) {
        count("tandem_config_reloads_total", [("result", result)])
    }
}
