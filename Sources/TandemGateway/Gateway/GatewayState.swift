import Foundation

/// The gateway's mutable control-plane state: the current snapshot, each tenant's limiter, and
/// each replica's load and health. The decisions themselves are the pure `TenantLimiter`,
/// `ReplicaSelector` and `ReplicaHealth`; this actor only holds their state and the clock.
actor GatewayState {
    private(set) var snapshot: GatewaySnapshot
    private var limiters: [String: TenantLimiter] = [:]
    private var inFlight: [String: Int] = [:]
    private var health: [String: ReplicaHealth] = [:]
    private let clock: @Sendable () -> ContinuousClock.Instant
    /// Each tenant's spend this UTC day and month (kept across reloads).
    private var ledger = SpendLedger()

    init(snapshot: GatewaySnapshot, clock: @escaping @Sendable () -> ContinuousClock.Instant) {
        self.snapshot = snapshot
        self.clock = clock
        let now = clock()
        for (name, t) in snapshot.configuration.tenants { limiters[name] = TenantLimiter(t, now: now) }
    }

    /// Switches to a new snapshot; tenants keep their bucket levels and in-flight counts.
    func install(_ next: GatewaySnapshot) {
        let now = clock()
        var nextLimiters: [String: TenantLimiter] = [:]
        for (name, t) in next.configuration.tenants {
            nextLimiters[name] = limiters[name]?.reconfigured(t, now: now) ?? TenantLimiter(t, now: now)
        }
        limiters = nextLimiters
        snapshot = next
    }

    // MARK: Tenants

    func admit(tenant: String, estimatedTokens: Int) -> TenantLimiter.Decision {
        guard var limiter = limiters[tenant] else { return .admitted }
        let decision = limiter.admit(estimatedTokens: estimatedTokens, at: clock())
        limiters[tenant] = limiter
        return decision
    }

    func release(tenant: String, estimatedTokens: Int, actualTokens: Int?) {
        limiters[tenant]?.release(estimatedTokens: estimatedTokens, actualTokens: actualTokens, at: clock())
    }

    func charge(tenant: String, dollars: Double, at date: Date) { ledger.charge(tenant, dollars, at: date) }

    func spent(tenant: String, at date: Date) -> (day: Double, month: Double) { ledger.spent(tenant, at: date) }

    func restoreSpend(_ restored: SpendLedger) { ledger = restored }

    // MARK: Replicas

    /// Chooses a replica of `model` not in `excluding` and counts a request on it.
    func acquireReplica(of model: GatewaySnapshot.ServedModel, affinityKey: UInt64?, excluding: Set<String>)
        -> Result<(GatewaySnapshot.Replica, ReplicaChoice.Reason), ReplicaSelectionFailure> {
        let now = clock()
        let candidates = model.replicas.filter { !excluding.contains($0.id) }
        let views = candidates.map { r in
            ReplicaView(id: r.id, inFlight: inFlight[r.id, default: 0], capacity: r.capacity,
                        available: health[r.id]?.takesRequests(at: now) ?? true)
        }
        switch ReplicaSelector.select(views, affinityKey: affinityKey, maxImbalance: snapshot.configuration.routing.maxLoadImbalance) {
        case .failure(let failure):
            return .failure(failure)
        case .success(let choice):
            let replica = candidates[choice.index]
            inFlight[replica.id, default: 0] += 1
            return .success((replica, choice.reason))
        }
    }

    func releaseReplica(_ id: String) {
        inFlight[id] = max(0, inFlight[id, default: 0] - 1)
    }

    func recordSuccess(_ id: String) {
        health[id, default: ReplicaHealth()].recordSuccess()
    }

    func recordFailure(_ id: String) {
        let h = snapshot.configuration.health
        health[id, default: ReplicaHealth()].recordFailure(at: clock(), threshold: h.failureThreshold,
                                                            cooldown: .milliseconds(h.cooldownMs))
    }

    /// The replicas of `model` whose cooldown is over and that nobody probes yet, now claimed
    /// for a probe by the caller (who reports with `recordProbe`).
    func claimProbes(of model: GatewaySnapshot.ServedModel) -> [GatewaySnapshot.Replica] {
        let now = clock()
        let timeout = Duration.milliseconds(snapshot.configuration.health.probeTimeoutMs) + .seconds(1)
        var claimed: [GatewaySnapshot.Replica] = []
        for r in model.replicas where health[r.id]?.beginProbe(at: now, timeout: timeout) == true { claimed.append(r) }
        return claimed
    }

    func recordProbe(_ id: String, passed: Bool) {
        health[id]?.recordProbe(passed: passed, at: clock(), cooldown: .milliseconds(snapshot.configuration.health.cooldownMs))
    }

    func load(of id: String) -> Int { inFlight[id, default: 0] }
}
