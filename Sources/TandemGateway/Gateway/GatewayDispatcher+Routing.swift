import Foundation
import TandemCore
import TandemAPI

/// Model resolution and replica dispatch of `GatewayDispatcher`.
extension GatewayDispatcher {
    struct ModelRoute {
        var model: String
        /// `explicit`, `alias`, `rule:NAME`, `default`, `constraint`.
        var reason: String
    }

    /// Which model a request's `model` names, and why; 404 unknown, 403 not allowed.
    func resolveModel(_ request: CompletionRequest, tenant: TenantConfiguration, snapshot: GatewaySnapshot,
                      headers: [String: String]) throws(APIError) -> ModelRoute {
        let name = request.model
        if snapshot.models[name] != nil {
            guard tenant.allows(name) else { throw .modelNotAllowed(name) }
            return ModelRoute(model: name, reason: "explicit")
        }
        if let target = snapshot.aliases[name] {
            guard tenant.allows(name) || tenant.allows(target) else { throw .modelNotAllowed(name) }
            return ModelRoute(model: target, reason: "alias")
        }
        guard let policy = snapshot.configuration.routing.policies[name] else { throw .modelNotFound(name) }
        guard tenant.allows(name) else { throw .modelNotAllowed(name) }
        let features = try RequestFeatures.make(request: request, headers: headers)
        let profiles = snapshot.models.mapValues(\.profile)
        switch ModelRouter.decide(policy: policy, profiles: profiles, permitted: { _ in true }, features: features) {
        case .success(let decision):
            return ModelRoute(model: decision.model, reason: decision.reason)
        case .failure(.noCandidateMeetsConstraints):
            let header = features.maxCost != nil ? TandemHeader.maxCost : TandemHeader.maxLatencyMs
            throw .invalidField(header, "No model of '\(name)' satisfies the request's \(TandemHeader.maxCost) / \(TandemHeader.maxLatencyMs).",
                                code: "no_model_satisfies_constraints")
        case .failure(.noPermittedCandidate):
            throw .modelNotAllowed(name)
        }
    }

    /// Tries the model's replicas (affinity or least-loaded first, then the others), then its
    /// declared fallback chain when every replica is unavailable.
    func dispatch(_ request: CompletionRequest, model first: GatewaySnapshot.ServedModel, modelReason: String,
                  caller: Caller, context: InferenceContext, snapshot: GatewaySnapshot,
                  headers baseHeaders: [(String, String)], estimatedTokens: Int) async throws(APIError) -> StartedCompletion {
        let affinityKey = PrefixHash.affinityKey(promptText: request.promptText, salt: caller.cacheSalt,
                                                 prefixChars: snapshot.configuration.routing.affinityPrefixChars)
        var served = first
        var reason = modelReason
        var headers = baseHeaders
        var visited: Set<String> = [first.name]
        while true {
            var excluded = Set<String>()
            var overCapacity = false
            var lastError: BackendError?
            // Replicas out of rotation whose cooldown is over are probed (never sent a client's
            // request first); when no other replica is available the request waits for the probes.
            var probes = await startProbes(of: served, context: context)
            attempts: while true {
                let replica: GatewaySnapshot.Replica
                let replicaReason: String
                switch await state.acquireReplica(of: served, affinityKey: affinityKey, excluding: excluded) {
                case .failure(.allAtCapacity):
                    overCapacity = true
                    break attempts
                case .failure(.noneAvailable):
                    if !probes.isEmpty {
                        var anyPassed = false
                        for p in probes { if await p.value { anyPassed = true } }
                        probes = []
                        if anyPassed { continue attempts }
                    }
                    break attempts
                case .success(let (r, why)):
                    replica = r
                    replicaReason = excluded.isEmpty ? why.rawValue : "retry"
                }
                var routed = request
                routed.model = served.name
                do {
                    let events = try await replica.backend.complete(routed, context: context)
                    await state.recordSuccess(replica.id)
                    metrics.routingDecision(model: served.name, reason: reason)
                    metrics.replicaDecision(model: served.name, replica: String(replica.index), reason: replicaReason)
                    headers.removeAll { $0.0 == TandemHeader.routeReason }
                    headers.insert((TandemHeader.routeReason, reason), at: 0)
                    headers.append((TandemHeader.replica, String(replica.index)))
                    headers.append((TandemHeader.replicaReason, replicaReason))
                    return started(events, model: served.name, replica: replica, caller: caller, headers: headers,
                                   estimatedTokens: estimatedTokens,
                                   record: UsageRecord(request: request, context: context, served: served.configuration))
                } catch let error as BackendError {
                    await state.releaseReplica(replica.id)
                    metrics.upstreamError(model: served.name, category: error.category)
                    context.logger.warning("upstream refused", metadata: [
                        "model": .string(served.name), "replica": .stringConvertible(replica.index), "error": .string(error.description)])
                    lastError = error
                    if ReplicaHealth.countsAsFailure(error) {
                        // Unreachable, or not even a response head in time (a stalled replica; a
                        // busy coordinator answers the head at once and queues the request).
                        await state.recordFailure(replica.id)
                    }
                    switch error.category {
                    case .upstreamUnavailable:
                        excluded.insert(replica.id)
                    case .overCapacity:
                        overCapacity = true
                        excluded.insert(replica.id)
                    default:
                        // A refusal says nothing about the replica's health: it stays in rotation.
                        var apiError = APIError(error)
                        apiError.headers = [TandemHeader.model: served.name, TandemHeader.routeReason: reason]
                        throw apiError
                    }
                } catch {
                    await state.releaseReplica(replica.id)
                    throw APIError(any: error)
                }
            }
            if !overCapacity, let fallback = served.configuration.fallback, !visited.contains(fallback),
               let next = snapshot.models[fallback] {
                context.logger.notice("falling back", metadata: ["from": .string(served.name), "to": .string(fallback)])
                if !headers.contains(where: { $0.0 == TandemHeader.fallbackFrom }) {
                    headers.append((TandemHeader.fallbackFrom, served.name))
                }
                visited.insert(fallback)
                served = next
                reason = "fallback"
                continue
            }
            var apiError: APIError
            if overCapacity {
                apiError = .unavailable("Model '\(served.name)' is over capacity; retry later.", code: "over_capacity",
                                        retryAfterSeconds: lastError?.retryAfterSeconds ?? 2)
            } else {
                let cooldown = max(1, snapshot.configuration.health.cooldownMs / 1000)
                apiError = .unavailable("Model '\(served.name)' is unavailable: \(lastError?.message ?? "every replica is out of rotation").",
                                        retryAfterSeconds: cooldown)
            }
            apiError.headers = [TandemHeader.model: served.name, TandemHeader.routeReason: reason == "fallback" ? "fallback" : "unavailable"]
            metrics.routingDecision(model: served.name, reason: "unavailable")
            throw apiError
        }
    }

    private func started(_ events: AsyncThrowingStream<CompletionEvent, any Error>, model: String,
                         replica: GatewaySnapshot.Replica, caller: Caller, headers: [(String, String)],
                         estimatedTokens: Int, record: UsageRecord) -> StartedCompletion {
        let state = self.state
        let metrics = self.metrics
        let usageLog = self.usageLog
        return StartedCompletion(model: model, events: events, headers: headers) { outcome in
            let cost = record.cost(outcome.usage)
            if cost > 0 {
                metrics.spend(model: model, tenant: caller.tenant, dollars: cost)
                await state.charge(tenant: caller.tenant, dollars: cost, at: Date())
            }
            usageLog.append(record.json(outcome: outcome, tenant: caller.tenant, headers: headers, cost: cost))
            await state.releaseReplica(replica.id)
            if outcome.error?.category == .upstreamUnavailable {
                // The connection broke mid-answer: the replica likely died. (Silence mid-answer
                // is not counted: a long step under load looks the same; a stalled replica is
                // caught by the next request's missing response head.)
                await state.recordFailure(replica.id)
            }
            await state.release(tenant: caller.tenant, estimatedTokens: estimatedTokens,
                                actualTokens: outcome.usage?.totalTokens)
        }
    }

    /// Probes (in the background) the replicas of `model` that are due for one; each task's
    /// value says whether its replica passed and is back in rotation.
    private func startProbes(of model: GatewaySnapshot.ServedModel, context: InferenceContext) async -> [Task<Bool, Never>] {
        let state = self.state
        let logger = context.logger
        return await state.claimProbes(of: model).map { replica in
            Task {
                let health = await replica.backend.health()
                await state.recordProbe(replica.id, passed: health.isReady)
                if case .unavailable(let why) = health {
                    logger.warning("replica probe failed; it stays out of rotation", metadata: [
                        "model": .string(model.name), "replica": .stringConvertible(replica.index), "reason": .string(why)])
                } else {
                    logger.notice("replica probe passed; back in rotation", metadata: [
                        "model": .string(model.name), "replica": .stringConvertible(replica.index)])
                }
                return health.isReady
            }
        }
    }
}

/// What one request's usage record says, gathered when it starts and completed when it ends.
struct UsageRecord: Sendable {
    let requestID: String
    let requested: String
    let arrival: ContinuousClock.Instant
    let served: GatewayModelConfiguration

    init(request: CompletionRequest, context: InferenceContext, served: GatewayModelConfiguration) {
        requestID = context.requestID
        requested = request.model
        arrival = context.arrival
        self.served = served
    }

    /// Dollars at the served model's prices (0 without usage).
    func cost(_ usage: Usage?) -> Double {
        guard let u = usage else { return 0 }
        return served.cost(promptTokens: u.promptTokens, cachedTokens: u.cachedTokens, completionTokens: u.completionTokens)
    }

    func json(outcome: CompletionOutcome, tenant: String, headers: [(String, String)], cost: Double) -> JSONValue {
        let u = outcome.usage ?? Usage()
        let ms = (ContinuousClock.now - arrival) / .milliseconds(1)
        var fields: [(String, JSONValue)] = [
            ("time", .string(ISO8601DateFormatter().string(from: Date()))),
            ("request_id", .string(requestID)),
            ("tenant", .string(tenant)),
            ("requested", .string(requested)),
            ("model", .string(served.name)),
            ("route", .string(headers.first { $0.0 == TandemHeader.routeReason }?.1 ?? "")),
        ]
        if let from = headers.first(where: { $0.0 == TandemHeader.fallbackFrom })?.1 { fields.append(("fallback_from", .string(from))) }
        fields += [
            ("status", .int(Int64(outcome.status))),
            ("prompt_tokens", .int(Int64(u.promptTokens))),
            ("cached_tokens", .int(Int64(u.cachedTokens))),
            ("completion_tokens", .int(Int64(u.completionTokens))),
            ("reasoning_tokens", .int(Int64(u.reasoningTokens))),
            ("cost", .double(cost)),
            ("latency_ms", .double((ms * 10).rounded() / 10)),
        ]
        if let e = outcome.error { fields.append(("error", .string(e.message))) }
        return .object(fields)
    }
}
