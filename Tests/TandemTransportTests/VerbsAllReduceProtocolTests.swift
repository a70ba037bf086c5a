import Testing
@testable import TandemTransport

/// The exchange state machine alone: directives in answer to hand-made completions.
@Suite("VerbsAllReduceProtocol")
struct VerbsAllReduceProtocolTests {
    typealias Machine = VerbsAllReduceProtocol

    private func started(capacity: Int = 64, initialSequence: UInt32 = 0) -> Machine {
        var machine = Machine(configuration: .init(slotCapacity: capacity, receiveDepth: 4, initialSequence: initialSequence))
        _ = machine.start()
        return machine
    }

    private func arrival(_ operation: Machine.Operation, sequence: UInt32, length: Int, id: UInt64 = 0) -> VerbsCompletion {
        VerbsCompletion(workRequestID: id, event: .receivedWriteWithImmediate(
            immediate: Machine.immediate(operation, sequence: sequence), byteLength: length))
    }

    private func writeID(_ directives: [Machine.Directive]) -> UInt64? {
        for case .stageAndWrite(_, _, _, let id) in directives { return id }
        return nil
    }

    @Test("start posts the receive depth")
    func start_postsReceiveDepth() {
        var machine = Machine(configuration: .init(slotCapacity: 64, receiveDepth: 3))
        #expect(machine.start() == [.postReceive(workRequestID: 0), .postReceive(workRequestID: 1), .postReceive(workRequestID: 2)])
        #expect(machine.start().isEmpty)
    }

    @Test("a round writes at once, then consumes the peer's chunk and reposts the receive")
    func round_writesThenConsumesOnArrival() throws {
        var machine = started()
        let begin = try machine.beginRound(.allReduceSum, length: 40, expectedPeerLength: 40)
        #expect(begin.count == 1)
        guard case .stageAndWrite(0, 40, let immediate, _) = begin[0] else { Issue.record("\(begin)"); return }
        #expect(immediate == Machine.immediate(.allReduceSum, sequence: 0))
        let answer = try machine.handle(arrival(.allReduceSum, sequence: 0, length: 40))
        #expect(answer == [.postReceive(workRequestID: 4), .consume(slot: 0, length: 40)])
        #expect(!machine.isRoundInProgress)
        #expect(machine.nextSequence == 1)
    }

    @Test("the peer's chunk arriving before the round begins is consumed at begin")
    func round_earlyArrival_consumedAtBegin() throws {
        var machine = started()
        #expect(try machine.handle(arrival(.barrier, sequence: 0, length: 0)) == [.postReceive(workRequestID: 4)])
        let begin = try machine.beginRound(.barrier, length: 0, expectedPeerLength: 0)
        #expect(begin.count == 2)
        #expect(begin.last == .consume(slot: 0, length: 0))
    }

    @Test("the peer one round ahead is kept for the next round")
    func round_peerOneAhead_isKeptForNextRound() throws {
        var machine = started()
        _ = try machine.beginRound(.allReduceSum, length: 8)
        _ = try machine.handle(arrival(.allReduceSum, sequence: 1, length: 8))  // next round first
        let current = try machine.handle(arrival(.allReduceSum, sequence: 0, length: 8))
        #expect(current.last == .consume(slot: 0, length: 8))
        let next = try machine.beginRound(.allReduceSum, length: 8)
        #expect(next.last == .consume(slot: 1, length: 8))
    }

    @Test("a send slot is reused only after its write completed")
    func round_sendSlotBusy_waitsForWriteCompletion() throws {
        var machine = started()
        let first = try machine.beginRound(.allReduceSum, length: 4)
        _ = try machine.handle(arrival(.allReduceSum, sequence: 0, length: 4))
        let second = try machine.beginRound(.allReduceSum, length: 4)
        _ = try machine.handle(arrival(.allReduceSum, sequence: 1, length: 4))
        // Round 2 uses slot 0 again, whose write (round 0) has not completed yet.
        let third = try machine.beginRound(.allReduceSum, length: 4)
        #expect(third.isEmpty)
        _ = try machine.handle(arrival(.allReduceSum, sequence: 2, length: 4))
        #expect(machine.isRoundInProgress, "the peer's chunk cannot be consumed before the own write")
        let freed = try machine.handle(VerbsCompletion(workRequestID: writeID(first)!, event: .writeCompleted))
        guard case .stageAndWrite(0, 4, _, _) = freed.first else { Issue.record("\(freed)"); return }
        #expect(freed.last == .consume(slot: 0, length: 4))
        _ = second
    }

    @Test("sequence numbers wrap at 24 bits and slots keep alternating")
    func sequence_wrapsAt24Bits() throws {
        var machine = started(initialSequence: Machine.sequenceMask)
        let last = try machine.beginRound(.barrier, length: 0)
        guard case .stageAndWrite(1, 0, let immediate, let id) = last.first else { Issue.record("\(last)"); return }
        #expect(immediate & Machine.sequenceMask == Machine.sequenceMask)
        _ = try machine.handle(arrival(.barrier, sequence: Machine.sequenceMask, length: 0))
        #expect(machine.nextSequence == 0)
        _ = try machine.handle(VerbsCompletion(workRequestID: id, event: .writeCompleted))
        let wrapped = try machine.beginRound(.barrier, length: 0)
        guard case .stageAndWrite(0, 0, let next, _) = wrapped.first else { Issue.record("\(wrapped)"); return }
        #expect(next & Machine.sequenceMask == 0)
    }

    @Test("a round from the past or far future is a protocol violation")
    func arrival_unexpectedSequence_isViolation() throws {
        var machine = started(initialSequence: 10)
        _ = try machine.beginRound(.allReduceSum, length: 4)
        let error = #expect(throws: TransportError.self) { try machine.handle(arrival(.allReduceSum, sequence: 12, length: 4)) }
        #expect(error?.kind == .protocolViolation)
        var idle = started(initialSequence: 10)
        #expect(throws: TransportError.self) { try idle.handle(arrival(.allReduceSum, sequence: 9, length: 4)) }
        #expect(throws: TransportError.self) { try idle.handle(arrival(.allReduceSum, sequence: 11, length: 4)) }
    }

    @Test("the same round arriving twice is a protocol violation")
    func arrival_duplicate_isViolation() throws {
        var machine = started()
        _ = try machine.handle(arrival(.barrier, sequence: 0, length: 0))
        #expect(throws: TransportError.self) { try machine.handle(arrival(.barrier, sequence: 0, length: 0)) }
    }

    @Test("different collectives on the two ranks are a mismatch")
    func arrival_otherOperation_isMismatch() throws {
        var machine = started()
        _ = try machine.beginRound(.allReduceSum, length: 4)
        let error = #expect(throws: TransportError.self) { try machine.handle(arrival(.broadcast, sequence: 0, length: 4)) }
        #expect(error?.kind == .mismatch)
    }

    @Test("a peer chunk of an unexpected length is a mismatch")
    func arrival_wrongLength_isMismatch() throws {
        var machine = started()
        _ = try machine.beginRound(.allReduceSum, length: 8, expectedPeerLength: 8)
        let error = #expect(throws: TransportError.self) { try machine.handle(arrival(.allReduceSum, sequence: 0, length: 12)) }
        #expect(error?.kind == .mismatch)
    }

    @Test("oversized writes, unknown operations and stray completions are rejected")
    func malformedCompletions_areRejected() throws {
        var machine = started(capacity: 16)
        #expect(throws: TransportError.self) { try machine.handle(arrival(.barrier, sequence: 0, length: 17)) }
        #expect(throws: TransportError.self) {
            try machine.handle(VerbsCompletion(workRequestID: 0, event: .receivedWriteWithImmediate(immediate: 0x7F00_0000, byteLength: 0)))
        }
        #expect(throws: TransportError.self) { try machine.handle(VerbsCompletion(workRequestID: 1 << 63, event: .writeCompleted)) }
        #expect(throws: TransportError.self) { try machine.beginRound(.barrier, length: 17) }
    }

    @Test("a failed completion surfaces its status text")
    func failedCompletion_isVerbsError() {
        var machine = started()
        let error = #expect(throws: TransportError.self) {
            try machine.handle(VerbsCompletion(workRequestID: 3, event: .writeCompleted, failure: "transport retry counter exceeded"))
        }
        #expect(error?.kind == .verbs)
        #expect(error?.message.contains("retry counter") == true)
    }

    @Test("beginning a round twice or before start is refused")
    func beginRound_misuse_isRefused() throws {
        var fresh = Machine(configuration: .init(slotCapacity: 16))
        #expect(throws: TransportError.self) { try fresh.beginRound(.barrier, length: 0) }
        var machine = started()
        _ = try machine.beginRound(.barrier, length: 0)
        #expect(throws: TransportError.self) { try machine.beginRound(.barrier, length: 0) }
    }
}
