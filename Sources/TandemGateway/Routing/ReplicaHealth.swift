/// Passive health of one replica (a circuit breaker): after `threshold` consecutive failures the
/// replica leaves rotation for `cooldown`; then it is tried again, and one more failure sends it
/// back out. Pure: the caller passes the time.
public struct ReplicaHealth: Sendable, Equatable {
    public private(set) var consecutiveFailures = 0
    public private(set) var downUntil: ContinuousClock.Instant?

    public init() {}

    public func isAvailable(at now: ContinuousClock.Instant) -> Bool {
        guard let downUntil else { return true }
        return now >= downUntil
    }

    public mutating func recordSuccess() {
        consecutiveFailures = 0
        downUntil = nil
    }

    public mutating func recordFailure(at now: ContinuousClock.Instant, threshold: Int, cooldown: Duration) {
        consecutiveFailures += 1
        if consecutiveFailures >= max(1, threshold) {
            downUntil = now + cooldown
        }
    }
}
