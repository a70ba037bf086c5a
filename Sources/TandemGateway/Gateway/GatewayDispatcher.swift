import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TandemAPI

/// The gateway's `CompletionDispatcher`: API keys to tenants, tenant limits, model routing
/// (explicit names, aliases, policies), replica choice with affinity, retries on other replicas,
/// and fallback only where the configuration declares it.
public final class GatewayDispatcher: CompletionDispatcher {
    let state: GatewayState
    let metrics: APIMetrics
    let backendFactory: GatewaySnapshot.BackendFactory
    /// The HMAC key of derived cache salts when the configuration has no `salt_key_file`.
    let processSaltKey: [UInt8]
    /// Whether the gateway listens on loopback only (then `/metrics` needs no key unless one is configured).
    let listensOnLoopback: Bool
    /// Where finished requests are recorded (`usage_log`); the server opens it.
    public let usageLog = UsageLog()

    /// - Parameters:
    ///   - backendFactory: makes the backend of each deployment (HTTP upstreams in production,
    ///     fakes in tests).
    ///   - clock: the time source of limits and health (injected for tests).
    ///   - listensOnLoopback: whether the server is reachable from this host only.
    public init(loaded: GatewayConfigurationLoader.Loaded, metrics: APIMetrics,
                backendFactory: @escaping @Sendable (GatewayModelConfiguration, DeploymentConfiguration) -> any InferenceBackend,
                clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }, listensOnLoopback: Bool = true) {
        self.metrics = metrics
        self.backendFactory = backendFactory
        self.listensOnLoopback = listensOnLoopback
        let saltKey = Array(InternalKey.generate().utf8)
        processSaltKey = saltKey
        self.state = GatewayState(snapshot: GatewaySnapshot(loaded, saltKey: saltKey, backendFactory: backendFactory), clock: clock)
    }

    /// Fills the tenants' spend of the current UTC day and month from usage records (the
    /// `usage_log` file's text), so a restarted gateway keeps enforcing budgets.
    public func restoreSpend(fromUsageLog text: String, now: Date = Date()) async {
        await state.restoreSpend(SpendLedger.restore(fromUsageLog: Substring(text), now: now))
    }

    /// Serves a new (already validated) configuration from the next request on.
    public func install(_ loaded: GatewayConfigurationLoader.Loaded) async {
        await state.install(GatewaySnapshot(loaded, saltKey: processSaltKey, backendFactory: backendFactory))
    }

    /// `/metrics` and the reasons of `/ready`: the configured admin key; without one, loopback
    /// listeners only (tenant names, usage and upstream addresses are not for every client).
    public func operatorAccess(_ headers: HTTPFields) async -> APIError? {
        if let adminKey = await state.snapshot.adminKey {
            return InternalKey.authorizes(headers[.authorization], key: adminKey)
                ? nil : .invalidAPIKey("This endpoint needs the gateway's admin key (admin_key_file).")
        }
        return listensOnLoopback ? nil : APIError(status: 403, type: "permission_error", code: "admin_key_required",
                                                  message: "Configure admin_key_file to read this endpoint on a non-loopback listen address.")
    }

    public func metricsTenant(_ tenant: String) async -> String {
        await state.snapshot.configuration.tenants[tenant] != nil ? tenant : APIMetrics.otherTenant
    }

    public var configuration: GatewayConfiguration {
        get async { await state.snapshot.configuration }
    }

    public var serverLimits: ServerLimits {
        get async { await state.snapshot.limits }
    }

    public func authenticate(_ headers: HTTPFields) async throws(APIError) -> Caller {
        guard let key = BearerToken.parse(headers[.authorization]) else {
            throw .invalidAPIKey("Missing API key. Send it as 'Authorization: Bearer <key>'.")
        }
        let snapshot = await state.snapshot
        let hash = APIKeyHash.hex(key)
        guard let tenant = snapshot.tenantByKeyHash[hash], snapshot.configuration.tenants[tenant] != nil else {
            throw .invalidAPIKey("Incorrect API key provided.")
        }
        if let expiry = snapshot.expiryByKeyHash[hash], expiry <= Date() {
            throw .invalidAPIKey("This API key expired on \(ISO8601DateFormatter().string(from: expiry)); ask for a new one.")
        }
        return Caller(tenant: tenant, cacheSalt: snapshot.saltByTenant[tenant])
    }

    public func models(for caller: Caller) async -> [ModelCard] {
        let snapshot = await state.snapshot
        guard let tenant = snapshot.configuration.tenants[caller.tenant] else { return [] }
        return snapshot.allNames.filter { name in
            tenant.allows(name) || snapshot.aliases[name].map(tenant.allows) == true
        }.map { ModelCard(id: $0, ownedBy: snapshot.configuration.routing.policies[$0] != nil ? "tandem-router" : "tandem") }
    }

    public func knownModelName(_ requested: String) async -> String? {
        let snapshot = await state.snapshot
        if snapshot.models[requested] != nil || snapshot.configuration.routing.policies[requested] != nil { return requested }
        return snapshot.aliases[requested]
    }

    /// Today's and this month's spend (UTC periods) of every configured tenant.
    public func spendByTenant(at date: Date) async -> [String: (day: Double, month: Double)] {
        let tenants = await state.snapshot.configuration.tenants.keys
        var out: [String: (day: Double, month: Double)] = [:]
        for name in tenants { out[name] = await state.spent(tenant: name, at: date) }
        return out
    }

    public func readiness() async -> [String: BackendHealth] {
        let snapshot = await state.snapshot
        let state = self.state
        return await withTaskGroup(of: (String, Int, String, BackendHealth).self) { group in
            for model in snapshot.models.values {
                for replica in model.replicas {
                    group.addTask { (model.name, replica.index, replica.id, await replica.backend.health()) }
                }
            }
            var byModel: [String: BackendHealth] = [:]
            for await (model, index, id, health) in group {
                // A probe is as good a witness as a request: a failing replica leaves rotation.
                if health.isReady { await state.recordSuccess(id) } else { await state.recordFailure(id) }
                switch (byModel[model], health) {
                case (.ready?, _): break
                case (_, .ready): byModel[model] = .ready
                case (nil, .unavailable(let why)): byModel[model] = .unavailable("replica \(index): \(why)")
                case (.unavailable(let a)?, .unavailable(let b)): byModel[model] = .unavailable("\(a); replica \(index): \(b)")
                }
            }
            return byModel
        }
    }

    public func start(_ request: CompletionRequest, caller: Caller, context: InferenceContext,
                      headers: HTTPFields) async throws(APIError) -> StartedCompletion {
        let snapshot = await state.snapshot
        guard let tenant = snapshot.configuration.tenants[caller.tenant] else { throw .invalidAPIKey() }
        var plain: [String: String] = [:]
        for field in headers { plain[field.name.canonicalName] = field.value }
        let route = try resolveModel(request, tenant: tenant, snapshot: snapshot, headers: plain)
        guard let served = snapshot.models[route.model] else { throw .modelNotFound(route.model) }
        var responseHeaders: [(String, String)] = [(TandemHeader.routeReason, route.reason)]
        let config = served.configuration

        if config.reasoning, config.reasoningTokenFloor > 0, let maxTokens = request.maxTokens, maxTokens < config.reasoningTokenFloor {
            let message = "max_tokens \(maxTokens) is below the reasoning floor \(config.reasoningTokenFloor) of model '\(config.name)': the answer may be cut off while it is still reasoning."
            switch config.reasoningFloorAction {
            case .reject: throw .invalidField("max_tokens", message, code: "below_reasoning_floor")
            case .warn: responseHeaders.append((TandemHeader.warning, message))
            }
        }
        let promptTokens = request.estimatedPromptTokens
        if let limit = config.maxPromptTokens, promptTokens > limit {
            throw .promptTooLarge("The prompt (about \(promptTokens) tokens) is longer than model '\(config.name)' accepts (\(limit) tokens).",
                                  param: request.endpoint == .responses ? "input" : request.endpoint.isChat ? "messages" : "prompt")
        }
        // A request without max_tokens gets the model's default_max_tokens upstream: what the
        // tenant's token budget is charged is what the deployment may generate.
        var request = request
        if request.maxTokens == nil { request.maxTokens = config.defaultMaxTokens }
        let estimatedTokens = promptTokens + (request.maxTokens ?? config.defaultMaxTokens)
        if tenant.budgetPerDay != nil || tenant.budgetPerMonth != nil {
            let now = Date()
            let spent = await state.spent(tenant: caller.tenant, at: now)
            for (limit, used, period) in [(tenant.budgetPerDay, spent.day, "daily"), (tenant.budgetPerMonth, spent.month, "monthly")] {
                guard let limit, used >= limit else { continue }
                metrics.rateLimited(tenant: caller.tenant, limit: "budget")
                throw .rateLimited(String(format: "Tenant '%@' has spent $%.6f of its %@ budget of $%.6f; it resets at the start of the next UTC %@.",
                                          caller.tenant, used, period, limit, period == "daily" ? "day" : "month"),
                                   code: "budget_exceeded", retryAfterSeconds: SpendLedger.secondsUntilReset(daily: period == "daily", from: now))
            }
        }
        if case .limited(let limit, let retryAfter) = await state.admit(tenant: caller.tenant, estimatedTokens: estimatedTokens) {
            metrics.rateLimited(tenant: caller.tenant, limit: limit)
            let seconds = Int((Double(APIMetrics.nanoseconds(retryAfter)) / 1e9).rounded(.up))
            let what = ["concurrency": "concurrent requests", "requests": "requests per minute", "tokens": "tokens per minute"][limit] ?? limit
            throw .rateLimited("Rate limit reached for \(what) of tenant '\(caller.tenant)'. Retry after \(max(1, seconds)) s.",
                               code: limit == "concurrency" ? "concurrency_limit_exceeded" : "rate_limit_exceeded",
                               retryAfterSeconds: seconds)
        }
        do {
            return try await dispatch(request, model: served, modelReason: route.reason, caller: caller, context: context,
                                      snapshot: snapshot, headers: responseHeaders, estimatedTokens: estimatedTokens)
        } catch {
            await state.release(tenant: caller.tenant, estimatedTokens: estimatedTokens, actualTokens: nil)
            throw error
        }
    }
}
