/// How requests are offered to the server during one measured level.
public enum LoadShape: Sendable, Equatable, Codable, CustomStringConvertible {
    /// `n` requests always in flight (closed loop).
    case concurrency(Int)
    /// Open loop: arrivals at `rate` requests/s; inter-arrival gaps are Gamma(shape = burstiness,
    /// mean = 1/rate). `burstiness` 1 is a Poisson process; below 1 is burstier, above 1 smoother.
    /// `maxInFlight` bounds outstanding requests (0: no bound).
    case rate(Double, burstiness: Double, maxInFlight: Int)

    public var description: String {
        switch self {
        case .concurrency(let n): return "concurrency=\(n)"
        case .rate(let r, let b, _):
            return b == 1 ? "rate=\(Report.num(r))/s" : "rate=\(Report.num(r))/s burstiness=\(Report.num(b))"
        }
    }

    /// A short label for tables and plots.
    public var label: String {
        switch self {
        case .concurrency(let n): return "c=\(n)"
        case .rate(let r, _, _): return "\(Report.num(r))/s"
        }
    }
}

/// Arrival schedules for open-loop load.
public enum ArrivalSchedule {
    /// Offsets in seconds (from the start of the level) of `count` arrivals at `rate` per second,
    /// with Gamma(burstiness)-distributed gaps (burstiness 1: exponential gaps, a Poisson process).
    /// The first arrival is at 0. A rate of `.infinity` sends everything at once.
    public static func offsets(count: Int, rate: Double, burstiness: Double = 1, seed: UInt64) -> [Double] {
        precondition(rate > 0 && burstiness > 0)
        guard count > 0 else { return [] }
        if rate == .infinity { return Array(repeating: 0, count: count) }
        var rng = SeededRNG(seed: seed)
        var t = 0.0
        var out = [0.0]
        out.reserveCapacity(count)
        for _ in 1..<count {
            t += rng.gamma(shape: burstiness, scale: 1 / (rate * burstiness))
            out.append(t)
        }
        return out
    }
}
