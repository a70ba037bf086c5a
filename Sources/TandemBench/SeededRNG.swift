import Foundation
import TandemCore

/// A small, fast, seeded generator (`SplitMix64`) with the distributions the bench draws from:
/// the same seed gives the same workload and the same arrival schedule on every machine and every run.
public struct SeededRNG: RandomNumberGenerator, Sendable {
    private var source: SplitMix64

    public init(seed: UInt64) { source = SplitMix64(seed: seed) }

    public mutating func next() -> UInt64 { source.next() }

    /// Uniform in [0, 1) with 53 bits of precision.
    public mutating func unit() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform in (0, 1]: safe for `log`.
    public mutating func unitOpenZero() -> Double { 1.0 - unit() }

    /// Standard normal (Box–Muller).
    public mutating func normal() -> Double {
        let u1 = unitOpenZero(), u2 = unit()
        return (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Exponential with the given rate (mean 1/rate).
    public mutating func exponential(rate: Double) -> Double {
        -Foundation.log(unitOpenZero()) / rate
    }

    /// Gamma(shape, scale) by Marsaglia and Tsang; shape < 1 uses the boost `G(a) = G(a+1)·U^(1/a)`.
    public mutating func gamma(shape: Double, scale: Double) -> Double {
        precondition(shape > 0 && scale > 0)
        if shape < 1 {
            let g = gamma(shape: shape + 1, scale: 1)
            return g * Foundation.pow(unitOpenZero(), 1 / shape) * scale
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = normal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = unitOpenZero()
            if u < 1 - 0.0331 * x * x * x * x { return d * v * scale }
            if Foundation.log(u) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) { return d * v * scale }
        }
    }

    /// Uniform integer in `range` (inclusive).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        Int.random(in: range, using: &self)
    }
}
