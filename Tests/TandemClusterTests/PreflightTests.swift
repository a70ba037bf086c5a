import Foundation
import Testing
import TandemModel
import TandemTransport
@testable import TandemCluster

/// The pre-flight after connect: per-rank transport, all-reduce latency and memory headroom on
/// rank 0, and a refusal every rank learns of when the link is slower than the bound.
@Suite("pre-flight")
struct PreflightTests {
    static func ranks(_ n: Int) throws -> [ClusterRank] {
        let m = try ModelLoader.load(path: TensorParallelTests.storiesPath)
        return try InProcessCommunicator.group(size: n).map {
            try ClusterRank(model: m, communicator: $0, blockCount: 8, blockSize: 16, host: "rank\($0.rank)")
        }
    }

    @Test func aGenerousBoundStartsAndRank0GetsEveryRanksNumbers() throws {
        let cluster = try Self.ranks(2)
        let worker = Thread.detachNewThreadWithResult {
            _ = try cluster[1].handshake()
            if try cluster[1].preflight(transport: "in-process (test)", maxLinkLatencyMicroseconds: 1e9) != nil {
                throw PreflightRefused(message: "a worker got the report")
            }
        }
        _ = try cluster[0].handshake()
        var seen: PreflightReport?
        let report = try #require(try cluster[0].preflight(transport: "in-process (test)", maxLinkLatencyMicroseconds: 1e9) { seen = $0 })
        try worker.wait()
        #expect(seen == report)
        #expect(report.ranks.map(\.rank) == [0, 1])
        #expect(report.ranks.allSatisfy { $0.transport == "in-process (test)" })
        #expect(report.ranks.allSatisfy { $0.linkMedianMicroseconds > 0 && $0.linkP99Microseconds >= $0.linkMedianMicroseconds })
        #expect(report.ranks.allSatisfy { $0.headroomBytes > 0 })
        #expect(report.messageBytes == 4096 && report.iterations == 50)
        #expect(report.ranks[1].line.contains("rank 1: transport in-process (test), link all-reduce median"))
    }

    @Test func aLinkSlowerThanTheBoundIsRefusedOnEveryRankWithTheNumbers() throws {
        let cluster = try Self.ranks(2)
        let worker = Thread.detachNewThreadWithResult {
            _ = try cluster[1].handshake()
            try cluster[1].preflight(transport: "in-process (test)", maxLinkLatencyMicroseconds: 0.000001)
        }
        _ = try cluster[0].handshake()
        var median = 0.0
        do {
            try cluster[0].preflight(transport: "in-process (test)", maxLinkLatencyMicroseconds: 0.000001) { median = $0.linkMedianMicroseconds }
            Issue.record("rank 0 started although the link is slower than the bound")
        } catch let e as PreflightRefused {
            #expect(median > 0)
            #expect(e.message.contains("is \(String(format: "%.1f", median)) µs"), "\(e.message)")
            #expect(e.message.contains("bound of 1e-06 µs") && e.message.contains("in-process (test)"), "\(e.message)")
        }
        #expect(throws: PreflightRefused.self) { try worker.wait() }
    }

    @Test func oneRankHasNoLinkAndIsNeverRefused() throws {
        let cluster = try Self.ranks(1)
        let report = try #require(try cluster[0].preflight(transport: "mpi (one rank, no link)", maxLinkLatencyMicroseconds: 0.000001))
        #expect(report.ranks.count == 1 && report.linkMedianMicroseconds == 0)
    }

    @Test func headroomIsMemAvailable() {
        #expect(MemoryHeadroom.parse("MemTotal:       24000000 kB\nMemAvailable:   2048 kB\n") == 2048 * 1024)
        #expect(MemoryHeadroom.parse("MemTotal: 1 kB\n") == 0)
    }

    @Test func recordsRoundTrip() {
        var record = [UInt8](repeating: 0, count: ClusterRank.recordBytes)
        ClusterRank.encode(median: 12.5, p99: 40.25, headroom: 1 << 33, transport: "mpi (RDMA not used: ENOSYS)", into: &record)
        let r = ClusterRank.decode(rank: 3, record)
        #expect(r == RankPreflight(rank: 3, transport: "mpi (RDMA not used: ENOSYS)", linkMedianMicroseconds: 12.5,
                                   linkP99Microseconds: 40.25, headroomBytes: 1 << 33))
    }
}
