import Foundation
import TandemCore
import TandemTransport

/// What one rank reports before a deployment starts serving: its transport (or why not RDMA),
/// the latency of a small all-reduce over the deployment's communicator, and memory headroom.
public struct RankPreflight: Sendable, Equatable {
    public var rank: Int
    /// E.g. "rdma mlx5_0 port 1", "mpi (RDMA not used: no RDMA device)".
    public var transport: String
    /// All-reduce latency this rank measured (0 with one rank: no link).
    public var linkMedianMicroseconds: Double
    public var linkP99Microseconds: Double
    /// MemAvailable of the rank's host (/proc/meminfo), 0 where unknown.
    public var headroomBytes: UInt64

    public var line: String {
        "rank \(rank): transport \(transport), link all-reduce median \(Self.us(linkMedianMicroseconds)) µs, p99 \(Self.us(linkP99Microseconds)) µs, memory headroom \(headroomBytes / 1_048_576) MiB"
    }

    static func us(_ v: Double) -> String { String(format: "%.1f", v) }
}

/// Every rank's pre-flight report, on rank 0.
public struct PreflightReport: Sendable, Equatable {
    public var ranks: [RankPreflight]
    /// Bytes per timed all-reduce and how many were timed.
    public var messageBytes: Int
    public var iterations: Int

    /// The link's latency: the slowest rank's median (0 for one rank).
    public var linkMedianMicroseconds: Double { ranks.map(\.linkMedianMicroseconds).max() ?? 0 }
    public var linkP99Microseconds: Double { ranks.map(\.linkP99Microseconds).max() ?? 0 }

    /// The refusal, in words, when a multi-rank link is slower than `bound` µs (nil: go).
    public func refusal(maxLinkLatencyMicroseconds bound: Double?) -> String? {
        guard let bound, ranks.count > 1, linkMedianMicroseconds > bound else { return nil }
        let slowest = ranks.max { $0.linkMedianMicroseconds < $1.linkMedianMicroseconds }!
        return "refusing to start a \(ranks.count)-rank tensor-parallel deployment: the link's measured all-reduce latency "
            + "(\(messageBytes) bytes, median of \(iterations)) is \(RankPreflight.us(linkMedianMicroseconds)) µs "
            + "(p99 \(RankPreflight.us(linkP99Microseconds)) µs, slowest on rank \(slowest.rank)) over transport "
            + "\(slowest.transport), above the configured bound of \(bound) µs (--max-link-latency-us)"
    }
}

/// The deployment was refused before it served anything (every rank throws it).
public struct PreflightRefused: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension ClusterRank {
    /// Every rank, in lockstep after the handshake: times `iterations` all-reduces of
    /// `messageBytes` after `warmUp` untimed ones, reads its memory headroom, and sends both to
    /// rank 0 with `transport` (its words for the transport). Rank 0 decides against
    /// `maxLinkLatencyMicroseconds` (after handing the report to `onReport`) and broadcasts go or
    /// the refusal, so every rank learns of it; on refusal every rank throws `PreflightRefused` with the numbers. Returns the report on
    /// rank 0 (nil on the others).
    @discardableResult
    public func preflight(transport: String, maxLinkLatencyMicroseconds: Double?, messageBytes: Int = 4096,
                          iterations: Int = 50, warmUp: Int = 5,
                          onReport: (PreflightReport) -> Void = { _ in }) throws -> PreflightReport? {
        let c = communicator
        var median = 0.0, p99 = 0.0
        if c.size > 1 {
            let samples = try CommCheck.timeAllReduce(c, floats: max(1, messageBytes / 4), iterations: max(1, iterations), warmUp: warmUp)
            (median, p99) = Self.medianAndP99(samples)
        }
        var record = [UInt8](repeating: 0, count: Self.recordBytes)
        Self.encode(median: median, p99: p99, headroom: MemoryHeadroom.bytes(), transport: transport, into: &record)
        var all = [UInt8](repeating: 0, count: c.rank == 0 ? Self.recordBytes * c.size : 0)
        try record.withUnsafeBytes { mine in
            if c.rank == 0 {
                try all.withUnsafeMutableBytes { try c.gather(mine, into: $0, root: 0) }
            } else {
                try c.gather(mine, into: nil, root: 0)
            }
        }
        var report: PreflightReport?
        var verdict: [UInt8] = []
        if c.rank == 0 {
            let ranks = (0..<c.size).map { r in Self.decode(rank: r, Array(all[r * Self.recordBytes..<(r + 1) * Self.recordBytes])) }
            let r = PreflightReport(ranks: ranks, messageBytes: max(1, messageBytes / 4) * 4, iterations: max(1, iterations))
            report = r
            onReport(r)
            verdict = Array((r.refusal(maxLinkLatencyMicroseconds: maxLinkLatencyMicroseconds) ?? "").utf8)
        }
        verdict = try c.broadcastMessage(verdict, root: 0)
        if !verdict.isEmpty { throw PreflightRefused(message: String(decoding: verdict, as: UTF8.self)) }
        return report
    }

    /// Median (mean of the middle two for an even count) and nearest-rank p99.
    static func medianAndP99(_ samples: [Double]) -> (Double, Double) {
        let s = samples.sorted()
        let n = s.count
        guard n > 0 else { return (0, 0) }
        let median = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        return (median, s[max(0, Int((0.99 * Double(n)).rounded(.up)) - 1)])
    }

    static let transportBytes = 232
    static let recordBytes = 24 + transportBytes

    static func encode(median: Double, p99: Double, headroom: UInt64, transport: String, into record: inout [UInt8]) {
        withUnsafeBytes(of: median.bitPattern.littleEndian) { record.replaceSubrange(0..<8, with: $0) }
        withUnsafeBytes(of: p99.bitPattern.littleEndian) { record.replaceSubrange(8..<16, with: $0) }
        withUnsafeBytes(of: headroom.littleEndian) { record.replaceSubrange(16..<24, with: $0) }
        var text = Array(transport.utf8.prefix(transportBytes))
        while !text.isEmpty, String(validating: text, as: UTF8.self) == nil { text.removeLast() }
        record.replaceSubrange(24..<(24 + text.count), with: text)
    }

    static func decode(rank: Int, _ record: [UInt8]) -> RankPreflight {
        func u64(_ at: Int) -> UInt64 { record[at..<(at + 8)].enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } }
        let text = record[24...].prefix { $0 != 0 }
        return RankPreflight(rank: rank, transport: String(decoding: text, as: UTF8.self),
                             linkMedianMicroseconds: Double(bitPattern: u64(0)), linkP99Microseconds: Double(bitPattern: u64(8)),
                             headroomBytes: u64(16))
    }
}

/// Memory a new allocation can get without swapping: MemAvailable from /proc/meminfo.
public enum MemoryHeadroom {
    public static func bytes(meminfo path: String = "/proc/meminfo") -> UInt64 {
        guard let s = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
        return parse(s)
    }

    /// The `MemAvailable:` line in bytes (0 when absent).
    public static func parse(_ meminfo: String) -> UInt64 {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kib = UInt64(fields[1]) else { return 0 }
            return kib * 1024
        }
        return 0
    }
}
