import Foundation
import Testing
@testable import TandemTransport

/// `VerbsCommunicator` driving the exchange protocol over the in-memory fabric: two ranks on two
/// threads, as over a real queue pair.
@Suite("VerbsCommunicator over the in-memory fabric")
struct VerbsCommunicatorFakeTests {
    static let harsh = InMemoryVerbsFabric.Behavior(maximumDelay: 3, reorderCompletions: true, seed: 42)

    private func pair(slotCapacity: Int, behavior: InMemoryVerbsFabric.Behavior = .init(),
                      timeout: Duration = .seconds(10)) throws -> [VerbsCommunicator] {
        let fabric = InMemoryVerbsFabric(slotCapacity: slotCapacity, behavior: behavior)
        let endpoints = fabric.endpoints
        return try (0..<2).map {
            try VerbsCommunicator(rank: $0, operations: endpoints[$0], polling: .init(spinsBeforeYield: 8, timeout: timeout))
        }
    }

    @Test("many all-reduce rounds of odd sizes, in order and with delayed, reordered completions",
          arguments: [InMemoryVerbsFabric.Behavior(), harsh,
                      InMemoryVerbsFabric.Behavior(maximumDelay: 10, reorderCompletions: true, seed: 7)])
    func allReduce_manyRoundsOddSizes(behavior: InMemoryVerbsFabric.Behavior) throws {
        // 1002-byte slots hold 250 floats: every size below ends with a partial chunk.
        let communicators = try pair(slotCapacity: 1002, behavior: behavior)
        let sizes = [1, 3, 7, 249, 250, 251, 577, 1001, 4099]
        let results = try runRanks(2) { rank -> Int in
            var wrong = 0
            for round in 0..<60 {
                let count = sizes[round % sizes.count]
                var values = (0..<count).map { Float(($0 + round) % 97 + 5 * rank) }
                try communicators[rank].allReduceSum(&values)
                wrong += values.indices.count { values[$0] != Float(2 * (($0 + round) % 97) + 5) }
            }
            return wrong
        }
        #expect(results == [0, 0])
    }

    @Test("broadcast, barrier, gather and send/receive across chunk boundaries")
    func otherCollectives_crossChunkBoundaries() throws {
        let communicators = try pair(slotCapacity: 100, behavior: Self.harsh)
        let results = try runRanks(2) { rank -> [String] in
            let communicator = communicators[rank]
            var failures: [String] = []
            let pattern = (0..<1234).map { UInt8(truncatingIfNeeded: $0 * 13) }
            for root in [0, 1] {
                var bytes = rank == root ? pattern : [UInt8](repeating: 0, count: pattern.count)
                try communicator.broadcast(&bytes, root: root)
                if bytes != pattern { failures.append("broadcast from \(root)") }
            }
            try communicator.barrier()
            let gathered = try communicator.gather((0..<77).map { Float(rank * 1000 + $0) }, root: 1)
            let expected = (0..<2).flatMap { r in (0..<77).map { Float(r * 1000 + $0) } }
            if rank == 1, gathered != expected {
                failures.append("gather")
            }
            let message = (0..<333).map { UInt8(truncatingIfNeeded: $0 + 1) }
            var buffer = [UInt8](repeating: 0, count: 400)
            if rank == 0 {
                try message.withUnsafeBytes { try communicator.send($0, to: 1, tag: 9) }
            } else {
                let count = try buffer.withUnsafeMutableBytes { try communicator.receive(into: $0, from: 0, tag: 9) }
                if Array(buffer[0..<count]) != message { failures.append("send/receive") }
            }
            return failures
        }
        #expect(results == [[], []])
    }

    @Test("comm-check's shared checks pass over the fake verbs pair")
    func commCheck_passesOverFakeVerbs() throws {
        let communicators = try pair(slotCapacity: 4096, behavior: Self.harsh)
        let results = try runRanks(2) { rank in try CommCheck.verify(communicators[rank]) }
        for result in results[0] { #expect(result.passed, "\(result.name): \(result.detail)") }
    }

    @Test("a peer that stops answering is a timeout within bounded time, then the pair is broken")
    func silentPeer_timesOutInBoundedTime() throws {
        let communicators = try pair(slotCapacity: 256, timeout: .milliseconds(300))
        // Both ranks complete one round; then rank 1 goes silent.
        _ = try runRanks(2) { rank in try communicators[rank].barrier() }
        let start = ContinuousClock.now
        var values: [Float] = [1, 2, 3]
        let error = #expect(throws: TransportError.self) { try communicators[0].allReduceSum(&values) }
        #expect(error?.kind == .timedOut)
        #expect(ContinuousClock.now - start < .seconds(5))
        let after = #expect(throws: TransportError.self) { try communicators[0].barrier() }
        #expect(after?.kind == .groupBroken)
    }

    @Test("a broken link fails the round with the adapter's status")
    func brokenLink_failsWithStatus() throws {
        let fabric = InMemoryVerbsFabric(slotCapacity: 64)
        let communicator = try VerbsCommunicator(rank: 0, operations: fabric.endpoints[0],
                                                 polling: .init(timeout: .seconds(5)))
        fabric.breakLink()
        let error = #expect(throws: TransportError.self) { try communicator.barrier() }
        #expect(error?.kind == .verbs)
    }

    @Test("ranks calling different collectives fail with a mismatch instead of exchanging garbage")
    func differentCollectives_areMismatch() throws {
        let communicators = try pair(slotCapacity: 64)
        let kinds = try runRanks(2) { rank -> TransportError.Kind? in
            do {
                if rank == 0 { try communicators[0].barrier() } else {
                    var values: [Float] = [1]
                    try communicators[1].allReduceSum(&values)
                }
                return nil
            } catch let error as TransportError { return error.kind }
        }
        #expect(kinds == [.mismatch, .mismatch])
    }

    @Test("a message with another tag or longer than the buffer is refused")
    func receive_wrongTagOrTooLong_isMismatch() throws {
        // The sender then waits for data rounds that never come: keep its timeout short.
        let communicators = try pair(slotCapacity: 64, timeout: .milliseconds(500))
        let kinds = try runRanks(2) { rank -> TransportError.Kind? in
            do {
                if rank == 0 {
                    try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try communicators[0].send($0, to: 1, tag: 3) }
                } else {
                    var buffer = [UInt8](repeating: 0, count: 10)
                    _ = try buffer.withUnsafeMutableBytes { try communicators[1].receive(into: $0, from: 0, tag: 4) }
                }
                return nil
            } catch let error as TransportError { return error.kind }
        }
        #expect(kinds[1] == .mismatch)
    }

    @Test("only ranks 0 and 1 and two slots are accepted")
    func construction_validatesRankAndSlots() {
        let fabric = InMemoryVerbsFabric(slotCapacity: 64)
        #expect(throws: TransportError.self) { try VerbsCommunicator(rank: 2, operations: fabric.endpoints[0]) }
        let tiny = InMemoryVerbsFabric(slotCapacity: 8)
        #expect(throws: TransportError.self) { try VerbsCommunicator(rank: 0, operations: tiny.endpoints[0]) }
    }

    @Test("connection private data round-trips and rejects strangers")
    func privateData_roundTrips() throws {
        let data = ConnectionPrivateData(address: 0x7F12_3456_7000, key: 0xABCD, slotCapacity: 1 << 20)
        var padded = data.encoded()
        padded += [UInt8](repeating: 0, count: 32)  // the connection manager pads private data
        #expect(try ConnectionPrivateData(decoding: padded) == data)
        #expect(throws: TransportError.self) { try ConnectionPrivateData(decoding: [UInt8](repeating: 0, count: 24)) }
        #expect(throws: TransportError.self) { try ConnectionPrivateData(decoding: [1, 2, 3]) }
    }
}
