import Foundation
import TandemCore

extension CommCheck {
    /// A message size to time.
    public struct LatencySize: Sendable, Codable, Equatable {
        public var label: String
        public var floats: Int
        public var bytes: Int { floats * MemoryLayout<Float>.stride }

        public init(label: String, floats: Int) {
            self.label = label
            self.floats = floats
        }

        /// Decode shapes (SmolLM2-135M hidden size, a 1B model's hidden size) and round sizes.
        public static let standard: [LatencySize] = [
            LatencySize(label: "576 floats (SmolLM2-135M hidden)", floats: 576),
            LatencySize(label: "2048 floats (1B hidden)", floats: 2048),
            LatencySize(label: "4 KB", floats: 1024),
            LatencySize(label: "64 KB", floats: 16_384),
            LatencySize(label: "1 MB", floats: 262_144),
        ]
    }

    /// All-reduce latency of one size: per iteration the slowest rank's time, then statistics.
    public struct Latency: Sendable, Codable, Equatable {
        public var size: LatencySize
        public var iterations: Int
        public var medianMicroseconds: Double
        public var p99Microseconds: Double
        public var minimumMicroseconds: Double
        public var maximumMicroseconds: Double
    }

    /// This rank's microseconds for each of `iterations` all-reduces of `floats` zeros (zeros stay
    /// zeros: no overflow), after `warmUp` untimed ones and a barrier. Every rank must call it.
    public static func timeAllReduce(_ communicator: any Communicator, floats: Int, iterations: Int,
                                     warmUp: Int) throws -> [Double] {
        var buffer = [Float](repeating: 0, count: floats)
        var microseconds = [Double](repeating: 0, count: iterations)
        let clock = ContinuousClock()
        try buffer.withUnsafeMutableBufferPointer { values in
            for _ in 0..<warmUp { try communicator.allReduceSum(values) }
            try communicator.barrier()
            for iteration in 0..<iterations {
                let start = clock.now
                try communicator.allReduceSum(values)
                microseconds[iteration] = start.duration(to: clock.now).microseconds
            }
        }
        return microseconds
    }

    /// Times `iterations` all-reduces of each size after a few untimed warm-up rounds. Every rank
    /// must call it; the statistics come back on `root` (nil elsewhere).
    public static func measureAllReduce(_ communicator: any Communicator, sizes: [LatencySize] = LatencySize.standard,
                                        iterations: Int, root: Int = 0) throws -> [Latency]? {
        let iterations = max(iterations, 1)
        let warmup = max(2, min(20, iterations / 5))
        var results: [Latency] = []
        for size in sizes {
            let microseconds = try timeAllReduce(communicator, floats: size.floats, iterations: iterations, warmUp: warmup)
            let everyRank = try gatherDoubles(communicator, microseconds, root: root)
            guard let everyRank else { continue }
            let slowest = (0..<iterations).map { iteration in
                (0..<communicator.size).map { everyRank[$0 * iterations + iteration] }.max()!
            }
            results.append(summarize(size: size, samples: slowest))
        }
        return communicator.rank == root ? results : nil
    }

    /// Median (mean of the middle two for an even count) and nearest-rank p99.
    static func summarize(size: LatencySize, samples: [Double]) -> Latency {
        let sorted = samples.sorted()
        let n = sorted.count
        let median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
        let p99 = sorted[max(0, Int((0.99 * Double(n)).rounded(.up)) - 1)]
        return Latency(size: size, iterations: n, medianMicroseconds: median, p99Microseconds: p99,
                       minimumMicroseconds: sorted[0], maximumMicroseconds: sorted[n - 1])
    }

    private static func gatherDoubles(_ communicator: any Communicator, _ values: [Double], root: Int) throws -> [Double]? {
        if communicator.rank == root {
            var all = [Double](repeating: 0, count: values.count * communicator.size)
            try values.withUnsafeBytes { mine in
                try all.withUnsafeMutableBytes { try communicator.gather(mine, into: $0, root: root) }
            }
            return all
        }
        try values.withUnsafeBytes { try communicator.gather($0, into: nil, root: root) }
        return nil
    }
}

