/// The limits of one tenant: requests per minute, tokens per minute (token buckets) and
/// requests in flight. Pure: the caller passes the time and performs nothing else.
public struct TenantLimiter: Sendable, Equatable {
    public private(set) var requests: TokenBucket?
    public private(set) var tokens: TokenBucket?
    public private(set) var maxConcurrent: Int?
    public private(set) var inFlight = 0

    public init(_ configuration: TenantConfiguration, now: ContinuousClock.Instant) {
        requests = configuration.requestsPerMinute.map { TokenBucket(perMinute: $0, now: now) }
        tokens = configuration.tokensPerMinute.map { TokenBucket(perMinute: $0, now: now) }
        maxConcurrent = configuration.maxConcurrent
    }

    /// The same tenant under a new configuration: buckets keep their level (capped at the new
    /// capacity) and the requests in flight stay counted.
    public func reconfigured(_ configuration: TenantConfiguration, now: ContinuousClock.Instant) -> TenantLimiter {
        var next = TenantLimiter(configuration, now: now)
        next.inFlight = inFlight
        if var r = next.requests, let old = requests {
            var o = old
            o.refill(at: now)
            r.adjust(by: min(0, o.level - r.capacity), at: now)
            next.requests = r
        }
        if var t = next.tokens, let old = tokens {
            var o = old
            o.refill(at: now)
            t.adjust(by: min(0, o.level - t.capacity), at: now)
            next.tokens = t
        }
        return next
    }

    /// The answer to one admission.
    public enum Decision: Sendable, Equatable {
        case admitted
        /// Refused by `limit` (`concurrency`, `requests` or `tokens`); retry after the given time.
        case limited(limit: String, retryAfter: Duration)
    }

    /// Admits a request estimated to use `estimatedTokens` tokens, or refuses it without
    /// changing any state.
    public mutating func admit(estimatedTokens: Int, at now: ContinuousClock.Instant) -> Decision {
        if let maxConcurrent, inFlight >= maxConcurrent {
            return .limited(limit: "concurrency", retryAfter: .seconds(1))
        }
        if let r = requests {
            let wait = r.waitTime(for: 1, at: now)
            if wait > .zero { return .limited(limit: "requests", retryAfter: wait) }
        }
        if let t = tokens {
            let wait = t.waitTime(for: min(Double(estimatedTokens), t.capacity), at: now)
            if wait > .zero { return .limited(limit: "tokens", retryAfter: wait) }
        }
        _ = requests?.take(1, at: now)
        _ = tokens?.take(Double(estimatedTokens), at: now)
        inFlight += 1
        return .admitted
    }

    /// Ends a request admitted with `estimatedTokens`; `actualTokens` (from usage) corrects the
    /// charge when known.
    public mutating func release(estimatedTokens: Int, actualTokens: Int?, at now: ContinuousClock.Instant) {
        inFlight = max(0, inFlight - 1)
        if let actualTokens, tokens != nil {
            let charged = min(Double(estimatedTokens), tokens!.capacity)
            tokens!.adjust(by: charged - Double(actualTokens), at: now)
        }
    }
}
