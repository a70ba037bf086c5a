/// The two-rank exchange over RDMA WRITE WITH IMMEDIATE, as a pure state machine: events in
/// (`beginRound`, `handle(completion)`), directives out (post a receive, stage and write a chunk,
/// consume the peer's chunk). It performs no I/O; `VerbsCommunicator` carries out the directives
/// on a `VerbsOperations`.
///
/// Each collective is cut into rounds of at most `slotCapacity` bytes. In round `n` both ranks
/// write their chunk into the peer's receive slot `n % 2` with the immediate value
/// `operation << 24 | n` (24-bit sequence), and the round completes when the own write has been
/// posted and the peer's round-`n` write has arrived; then the caller consumes the peer's chunk
/// (for an all-reduce, adds it to its own).
///
/// Why two slots suffice without credits: a rank writes round `n + 1` only after completing round
/// `n`, that is after the peer's round-`n` write arrived, which the peer posted only after it had
/// consumed round `n - 1`, the last user of slot `(n + 1) % 2`. So a peer is at most one round
/// ahead, and a write never lands in a slot still being read. A send slot is reused only after the
/// write that last used it has completed. Completions may arrive in any order; arrivals are keyed
/// by their sequence number, and anything other than the current or next round is a violation.
public struct VerbsAllReduceProtocol: Sendable {
    /// Which collective a round belongs to; carried in the immediate so that ranks calling
    /// different collectives fail with `.mismatch` instead of exchanging garbage.
    public enum Operation: UInt8, Sendable, CustomStringConvertible {
        case allReduceSum = 1, broadcast, barrier, gather, message

        public var description: String {
            switch self {
            case .allReduceSum: "allReduceSum"
            case .broadcast: "broadcast"
            case .barrier: "barrier"
            case .gather: "gather"
            case .message: "send/receive"
            }
        }
    }

    /// What the caller must do next, in order.
    public enum Directive: Sendable, Equatable {
        /// Post one receive work request.
        case postReceive(workRequestID: UInt64)
        /// Copy this round's outgoing chunk (`length` bytes) into send slot `slot`, then post the
        /// write with immediate into the peer's receive slot `slot`.
        case stageAndWrite(slot: Int, length: Int, immediate: UInt32, workRequestID: UInt64)
        /// The peer's chunk for this round (`length` bytes) is in receive slot `slot`: consume it.
        /// The round is complete.
        case consume(slot: Int, length: Int)
    }

    public struct Configuration: Sendable {
        /// Bytes in each slot: the largest chunk of one round.
        public var slotCapacity: Int
        /// Receive work requests kept posted (at least 2: the peer may be one round ahead).
        public var receiveDepth: Int
        /// First sequence number (both ranks must agree); tests start near the wrap-around.
        public var initialSequence: UInt32

        public init(slotCapacity: Int, receiveDepth: Int = 4, initialSequence: UInt32 = 0) {
            self.slotCapacity = slotCapacity
            self.receiveDepth = receiveDepth
            self.initialSequence = initialSequence & VerbsAllReduceProtocol.sequenceMask
        }
    }

    public static let slotCount = 2
    public static let sequenceMask: UInt32 = 0x00FF_FFFF
    private static let writeFlag: UInt64 = 1 << 63

    private struct Round {
        var sequence: UInt32
        var operation: Operation
        var length: Int
        var expectedPeerLength: Int?
        var written = false
        var slot: Int { Int(sequence % UInt32(VerbsAllReduceProtocol.slotCount)) }
    }

    private struct Arrival {
        var operation: Operation
        var length: Int
    }

    public let configuration: Configuration
    /// Sequence number of the current round, or of the next one when idle.
    public private(set) var nextSequence: UInt32
    private var round: Round?
    private var sendSlotBusy = [Bool](repeating: false, count: slotCount)
    private var arrivals: [UInt32: Arrival] = [:]
    private var nextReceiveID: UInt64 = 0
    private var started = false

    public init(configuration: Configuration) {
        self.configuration = configuration
        nextSequence = configuration.initialSequence
    }

    /// Whether a round has begun and not yet produced its `.consume`.
    public var isRoundInProgress: Bool { round != nil }

    /// Immediate value of a round: operation in the top byte, sequence in the low 24 bits.
    public static func immediate(_ operation: Operation, sequence: UInt32) -> UInt32 {
        UInt32(operation.rawValue) << 24 | (sequence & sequenceMask)
    }

    /// The receives to post before the peer may write (before connecting).
    public mutating func start() -> [Directive] {
        guard !started else { return [] }
        started = true
        return (0..<max(configuration.receiveDepth, Self.slotCount)).map { _ in postReceive() }
    }

    /// Begins the next round: this rank sends `length` bytes; `expectedPeerLength`, if given, is
    /// the only byte count the peer may send in this round.
    public mutating func beginRound(_ operation: Operation, length: Int,
                                    expectedPeerLength: Int? = nil) throws(TransportError) -> [Directive] {
        guard started else { throw .invalidArgument("the verbs exchange was not started (receives not posted)") }
        guard round == nil else { throw .invalidArgument("round \(nextSequence) is still in progress") }
        guard (0...configuration.slotCapacity).contains(length) else {
            throw .invalidArgument("a round carries 0...\(configuration.slotCapacity) bytes, not \(length)")
        }
        round = Round(sequence: nextSequence, operation: operation, length: length, expectedPeerLength: expectedPeerLength)
        var directives: [Directive] = []
        writeIfSlotFree(into: &directives)
        try consumeIfReady(into: &directives)
        return directives
    }

    /// Feeds one completion; returns what to do about it.
    public mutating func handle(_ completion: VerbsCompletion) throws(TransportError) -> [Directive] {
        if let failure = completion.failure {
            throw .verbs("work request \(completion.workRequestID) failed: \(failure)")
        }
        var directives: [Directive] = []
        switch completion.event {
        case .writeCompleted:
            let slot = Int(completion.workRequestID & 0xFF)
            guard completion.workRequestID & Self.writeFlag != 0, slot < Self.slotCount, sendSlotBusy[slot] else {
                throw .protocolViolation("completion of write \(completion.workRequestID), which is not in flight")
            }
            sendSlotBusy[slot] = false
            writeIfSlotFree(into: &directives)
        case .receivedWriteWithImmediate(let immediate, let byteLength):
            directives.append(postReceive())
            try recordArrival(immediate: immediate, byteLength: byteLength)
        }
        try consumeIfReady(into: &directives)
        return directives
    }

    // MARK: Private

    private mutating func postReceive() -> Directive {
        defer { nextReceiveID += 1 }
        return .postReceive(workRequestID: nextReceiveID)
    }

    private mutating func writeIfSlotFree(into directives: inout [Directive]) {
        guard var current = round, !current.written, !sendSlotBusy[current.slot] else { return }
        current.written = true
        round = current
        sendSlotBusy[current.slot] = true
        let workRequestID = Self.writeFlag | UInt64(current.sequence) << 8 | UInt64(current.slot)
        directives.append(.stageAndWrite(slot: current.slot, length: current.length,
                                         immediate: Self.immediate(current.operation, sequence: current.sequence),
                                         workRequestID: workRequestID))
    }

    private mutating func recordArrival(immediate: UInt32, byteLength: Int) throws(TransportError) {
        let sequence = immediate & Self.sequenceMask
        guard let operation = Operation(rawValue: UInt8(immediate >> 24)) else {
            throw .protocolViolation("immediate 0x\(String(immediate, radix: 16)) names no operation")
        }
        guard (0...configuration.slotCapacity).contains(byteLength) else {
            throw .protocolViolation("the peer wrote \(byteLength) bytes into a \(configuration.slotCapacity)-byte slot")
        }
        // Idle: only the next round can arrive. In a round: this one, or the peer's next.
        let current = nextSequence
        let following = (current + 1) & Self.sequenceMask
        guard sequence == current || (round != nil && sequence == following) else {
            throw .protocolViolation("expected round \(current)\(round != nil ? " or \(following)" : ""), the peer wrote round \(sequence)")
        }
        guard arrivals[sequence] == nil else {
            throw .protocolViolation("round \(sequence) arrived twice")
        }
        arrivals[sequence] = Arrival(operation: operation, length: byteLength)
    }

    private mutating func consumeIfReady(into directives: inout [Directive]) throws(TransportError) {
        guard let current = round, current.written, let arrival = arrivals[current.sequence] else { return }
        guard arrival.operation == current.operation else {
            throw .mismatch("this rank called \(current.operation) but the peer called \(arrival.operation) (round \(current.sequence))")
        }
        if let expected = current.expectedPeerLength, expected != arrival.length {
            throw .mismatch("\(current.operation): expected \(expected) bytes from the peer, it sent \(arrival.length) (round \(current.sequence))")
        }
        arrivals[current.sequence] = nil
        round = nil
        nextSequence = (current.sequence + 1) & Self.sequenceMask
        directives.append(.consume(slot: current.slot, length: arrival.length))
    }
}
