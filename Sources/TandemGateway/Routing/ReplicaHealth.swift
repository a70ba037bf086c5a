import TandemAPI

/// Passive health of one replica (a circuit breaker): after `threshold` consecutive failures the
/// replica leaves rotation for `cooldown`; then a health probe (not a client's request) decides:
/// it passes and the replica is back, or it fails and the replica stays out for another cooldown.
/// A probe, because a stalled replica would hold a client's request until its read timeout.
/// Pure: the caller passes the time.
///
/// Failures are connection failures, missing response heads (`countsAsFailure`) and broken streams.
public struct ReplicaHealth: Sendable, Equatable {
    /// Where the breaker stands.
    public enum State: Sendable, Equatable {
        /// In rotation.
        case closed
        /// Out of rotation until its cooldown ends.
        case open
        /// The cooldown is over: out of rotation until a probe passes; nobody probes it yet.
        case probeDue
        /// A probe is under way.
        case probing
    }

    public private(set) var consecutiveFailures = 0
    public private(set) var downUntil: ContinuousClock.Instant?
    /// Until when a probe started with `beginProbe` counts as under way (then it is due again, in
    /// case its prober vanished).
    public private(set) var probeUntil: ContinuousClock.Instant?

    public init() {}

    public func state(at now: ContinuousClock.Instant) -> State {
        guard let downUntil else { return .closed }
        if now < downUntil { return .open }
        if let probeUntil, now < probeUntil { return .probing }
        return .probeDue
    }

    /// Whether the cooldown is over (the replica may be probed; it takes requests only in `.closed`).
    public func isAvailable(at now: ContinuousClock.Instant) -> Bool {
        guard let downUntil else { return true }
        return now >= downUntil
    }

    /// Whether requests may be sent to it now.
    public func takesRequests(at now: ContinuousClock.Instant) -> Bool { state(at: now) == .closed }

    public mutating func recordSuccess() {
        consecutiveFailures = 0
        downUntil = nil
        probeUntil = nil
    }

    public mutating func recordFailure(at now: ContinuousClock.Instant, threshold: Int, cooldown: Duration) {
        consecutiveFailures += 1
        if consecutiveFailures >= max(1, threshold) {
            downUntil = now + cooldown
        }
    }

    /// Claims the due probe (`state == .probeDue`); false if there is none to claim. The probe
    /// counts as under way for `timeout`.
    public mutating func beginProbe(at now: ContinuousClock.Instant, timeout: Duration) -> Bool {
        guard state(at: now) == .probeDue else { return false }
        probeUntil = now + timeout
        return true
    }

    /// The result of a probe: passed, the replica is back in rotation; failed, it stays out for
    /// another `cooldown`.
    public mutating func recordProbe(passed: Bool, at now: ContinuousClock.Instant, cooldown: Duration) {
        probeUntil = nil
        if passed {
            recordSuccess()
        } else {
            downUntil = now + cooldown
        }
    }

    /// Whether an error from a replica, before any answer arrived, says something about the
    /// replica: it could not be reached, or no response head came in time (a stalled process looks
    /// like this). A refusal (a bad request, a full queue) says the replica is alive.
    public static func countsAsFailure(_ error: BackendError) -> Bool {
        error.category == .upstreamUnavailable || error.category == .timeout
    }
}
