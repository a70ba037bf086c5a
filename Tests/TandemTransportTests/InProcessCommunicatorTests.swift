import Foundation
import Testing
@testable import TandemTransport

@Suite("InProcessCommunicator")
struct InProcessCommunicatorTests {
    @Test("all-reduce sums every rank's values into every rank", arguments: [2, 3])
    func allReduce_sumsAcrossRanks(size: Int) throws {
        let group = InProcessCommunicator.group(size: size)
        let results = try runRanks(size) { rank in
            var values = (0..<1001).map { Float($0 * (rank + 1)) }
            try group[rank].allReduceSum(&values)
            return values
        }
        let factor = Float(size * (size + 1) / 2)
        for values in results { #expect(values == (0..<1001).map { Float($0) * factor }) }
    }

    @Test("all-reduce results are bit-identical on every rank")
    func allReduce_isBitIdenticalAcrossRanks() throws {
        let group = InProcessCommunicator.group(size: 3)
        let results = try runRanks(3) { rank in
            var values = (0..<257).map { Float(sin(Double($0 + 17 * rank))) / 3 }
            try group[rank].allReduceSum(&values)
            return values.map(\.bitPattern)
        }
        #expect(results[0] == results[1])
        #expect(results[1] == results[2])
    }

    @Test("broadcast copies the root's bytes everywhere", arguments: [(2, 1), (3, 0), (3, 2)])
    func broadcast_copiesRootBytes(size: Int, root: Int) throws {
        let group = InProcessCommunicator.group(size: size)
        let results = try runRanks(size) { rank in
            var bytes = rank == root ? (0..<777).map { UInt8(truncatingIfNeeded: $0 * 7) } : [UInt8](repeating: 0, count: 777)
            try group[rank].broadcast(&bytes, root: root)
            return bytes
        }
        for bytes in results { #expect(bytes == (0..<777).map { UInt8(truncatingIfNeeded: $0 * 7) }) }
    }

    @Test("barrier holds every rank until the last arrives")
    func barrier_waitsForLastRank() throws {
        let group = InProcessCommunicator.group(size: 3)
        let waits = try runRanks(3) { rank in
            if rank == 2 { Thread.sleep(forTimeInterval: 0.15) }
            let start = Date()
            try group[rank].barrier()
            return Date().timeIntervalSince(start)
        }
        #expect(waits[0] > 0.1)
        #expect(waits[1] > 0.1)
    }

    @Test("gather concatenates in rank order on the root only")
    func gather_concatenatesOnRoot() throws {
        let group = InProcessCommunicator.group(size: 3)
        let results = try runRanks(3) { rank in
            try group[rank].gather([Float(rank), Float(rank * 10)], root: 1)
        }
        #expect(results[0] == nil)
        #expect(results[1] == [0, 0, 1, 10, 2, 20])
        #expect(results[2] == nil)
    }

    @Test("send and receive match by source and tag, in order")
    func sendReceive_matchesBySourceAndTag() throws {
        let group = InProcessCommunicator.group(size: 3)
        let results = try runRanks(3) { rank -> [UInt8] in
            let communicator = group[rank]
            switch rank {
            case 0:
                try [UInt8]([1, 2, 3]).withUnsafeBytes { try communicator.send($0, to: 2, tag: 5) }
                try [UInt8]([9]).withUnsafeBytes { try communicator.send($0, to: 2, tag: 6) }
                return []
            case 1:
                try [UInt8]([4, 4]).withUnsafeBytes { try communicator.send($0, to: 2, tag: 5) }
                return []
            default:
                var buffer = [UInt8](repeating: 0, count: 8)
                var received: [UInt8] = []
                for (source, tag) in [(0, 6), (1, 5), (0, 5)] {
                    let count = try buffer.withUnsafeMutableBytes { try communicator.receive(into: $0, from: source, tag: tag) }
                    received += buffer[0..<count]
                }
                return received
            }
        }
        #expect(results[2] == [9, 4, 4, 1, 2, 3])
    }

    @Test("the shared checks of comm-check pass with 3 in-process ranks")
    func commCheck_passesWithThreeRanks() throws {
        let group = InProcessCommunicator.group(size: 3)
        let results = try runRanks(3) { rank in try CommCheck.verify(group[rank]) }
        for result in results[0] { #expect(result.passed, "\(result.name): \(result.detail)") }
        #expect(results[0] == results[2])
    }

    @Test("different sizes on different ranks are a mismatch on every rank")
    func allReduce_sizeMismatch_throwsOnEveryRank() throws {
        let group = InProcessCommunicator.group(size: 2)
        let outcomes = try runRanks(2) { rank -> TransportError.Kind? in
            var values = [Float](repeating: 1, count: 4 + rank)
            do { try group[rank].allReduceSum(&values); return nil } catch let error as TransportError { return error.kind }
        }
        #expect(outcomes == [.mismatch, .mismatch])
    }

    @Test("a rank that never arrives makes the others time out, then the group is broken")
    func collective_missingRank_timesOutAndBreaksGroup() throws {
        let group = InProcessCommunicator.group(size: 2, timeout: .milliseconds(200))
        let start = Date()
        #expect(throws: TransportError.self) { try group[0].barrier() }
        #expect(Date().timeIntervalSince(start) < 5)
        let error = #expect(throws: TransportError.self) { try group[1].barrier() }
        #expect(error?.kind == .groupBroken)
    }

    @Test("invalid roots and peers are rejected before any waiting")
    func invalidArguments_areRejected() throws {
        let communicator = InProcessCommunicator.group(size: 2)[0]
        var bytes: [UInt8] = [0]
        #expect(throws: TransportError.self) { try communicator.broadcast(&bytes, root: 2) }
        #expect(throws: TransportError.self) { try bytes.withUnsafeBytes { try communicator.send($0, to: 0, tag: 1) } }
        #expect(throws: TransportError.self) { try communicator.gather([1], root: -1) }
    }

    @Test("a single-rank group completes collectives alone")
    func singleRank_completesAlone() throws {
        let communicator = InProcessCommunicator.group(size: 1)[0]
        var values: [Float] = [1, 2]
        try communicator.allReduceSum(&values)
        try communicator.barrier()
        #expect(values == [1, 2])
    }
}
