/// A token bucket (Turner, "New dynamic traffic shaping", 1986 — the rate limiter used for
/// requests and tokens per tenant): `capacity` tokens at most, refilled continuously at
/// `refillPerSecond`. Pure: the caller passes the time.
///
/// The level may go negative through `adjust` (a request used more than it was charged); the
/// tenant then waits until the bucket refills past the next request's cost.
public struct TokenBucket: Sendable, Equatable {
    public let capacity: Double
    public let refillPerSecond: Double
    public private(set) var level: Double
    public private(set) var updated: ContinuousClock.Instant

    /// A full bucket.
    public init(capacity: Double, refillPerSecond: Double, now: ContinuousClock.Instant) {
        self.capacity = capacity
        self.refillPerSecond = refillPerSecond
        self.level = capacity
        self.updated = now
    }

    /// `perMinute` tokens a minute, with a burst of the same size.
    public init(perMinute: Int, now: ContinuousClock.Instant) {
        self.init(capacity: Double(perMinute), refillPerSecond: Double(perMinute) / 60, now: now)
    }

    public mutating func refill(at now: ContinuousClock.Instant) {
        guard now > updated else { return }
        level = min(capacity, level + Self.seconds(now - updated) * refillPerSecond)
        updated = now
    }

    /// How long until `amount` tokens are there (zero when they are now).
    public func waitTime(for amount: Double, at now: ContinuousClock.Instant) -> Duration {
        var copy = self
        copy.refill(at: now)
        guard copy.level < amount else { return .zero }
        guard refillPerSecond > 0 else { return .seconds(86_400) }
        // Rounded to the microsecond first so 1/(2/60) s is 30 000 ms, not 30 001.
        let ms = (((amount - copy.level) / refillPerSecond * 1000) * 1000).rounded() / 1000
        return .milliseconds(Int64(ms.rounded(.up)))
    }

    /// Whether a `take` succeeded.
    public enum TakeOutcome: Sendable, Equatable {
        case taken
        /// Nothing was taken; this much later there will be enough.
        case denied(retryAfter: Duration)
    }

    /// Takes `amount` (capped at the capacity, so any request can eventually pass) if there;
    /// otherwise takes nothing and says how long to wait.
    public mutating func take(_ amount: Double, at now: ContinuousClock.Instant) -> TakeOutcome {
        refill(at: now)
        let amount = min(amount, capacity)
        let wait = waitTime(for: amount, at: now)
        guard wait == .zero else { return .denied(retryAfter: wait) }
        level -= amount
        return .taken
    }

    /// Returns (positive) or charges (negative) tokens after the fact.
    public mutating func adjust(by delta: Double, at now: ContinuousClock.Instant) {
        refill(at: now)
        level = min(capacity, level + delta)
    }

    static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) / 1e18
    }
}
