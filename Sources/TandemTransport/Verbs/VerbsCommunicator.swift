import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A two-rank `Communicator` over RDMA verbs: every collective is a sequence of rounds of
/// `VerbsAllReduceProtocol` (write with immediate into the peer's registered buffer, poll the
/// completion queue, then the local add or copy), performed on any `VerbsOperations`: the real
/// `IBVerbsOperations` or the in-memory fake.
///
/// Waiting polls the completion queue, yielding the processor after a few empty polls so that two
/// ranks sharing cores do not starve each other, sleeping 20 µs per poll once a wait exceeds
/// `sleepAfter`, and giving up after `timeout` (a silent peer is a `.timedOut` error, after which
/// the communicator is unusable).
public final class VerbsCommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public var size: Int { 2 }
    public var transportName: String { "rdma" }

    /// How waiting for completions behaves.
    public struct Polling: Sendable {
        /// Empty polls before each further empty poll yields the processor.
        public var spinsBeforeYield: Int
        /// After this long without a completion, each empty poll also sleeps briefly, so an idle
        /// rank (a worker waiting for the next step) does not hold a core.
        public var sleepAfter: Duration
        /// Longest wait for one round before giving up.
        public var timeout: Duration

        public init(spinsBeforeYield: Int = 64, sleepAfter: Duration = .milliseconds(2),
                    timeout: Duration = .seconds(60)) {
            self.spinsBeforeYield = spinsBeforeYield
            self.sleepAfter = sleepAfter
            self.timeout = timeout
        }
    }

    private let operations: any VerbsOperations
    private let polling: Polling
    private let lock = NSLock()
    private var exchange: VerbsAllReduceProtocol
    private var completions: [VerbsCompletion] = []
    private var failure: TransportError?
    private let onClose: (() -> Void)?

    /// Wraps connected `operations` (receives not yet posted); `rank` is 0 or 1 and must differ
    /// from the peer's. Posts the initial receives at once: do this before the peer may write.
    public init(rank: Int, operations: any VerbsOperations, polling: Polling = Polling(),
                receiveDepth: Int = 4, onClose: (() -> Void)? = nil) throws {
        guard rank == 0 || rank == 1 else { throw TransportError.invalidArgument("a verbs pair has ranks 0 and 1, not \(rank)") }
        guard operations.slotCount == VerbsAllReduceProtocol.slotCount, operations.slotCapacity >= 16 else {
            throw TransportError.invalidArgument("verbs buffers need \(VerbsAllReduceProtocol.slotCount) slots of at least 16 bytes")
        }
        self.rank = rank
        self.operations = operations
        self.polling = polling
        self.onClose = onClose
        exchange = VerbsAllReduceProtocol(configuration: .init(slotCapacity: operations.slotCapacity, receiveDepth: receiveDepth))
        completions.reserveCapacity(16)
        for directive in exchange.start() {
            if case .postReceive(let id) = directive { try operations.postReceive(workRequestID: id) }
        }
    }

    deinit { onClose?() }

    // MARK: Collectives

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        let perRound = operations.slotCapacity / MemoryLayout<Float>.stride
        try locked {
            var offset = 0
            while offset < buffer.count {
                let chunk = UnsafeMutableBufferPointer(rebasing: buffer[offset..<min(offset + perRound, buffer.count)])
                let bytes = chunk.count * MemoryLayout<Float>.stride
                try round(.allReduceSum, outgoing: UnsafeRawBufferPointer(chunk), expectedPeerLength: bytes) { peer in
                    let values = peer.assumingMemoryBound(to: Float.self)
                    for index in chunk.indices { chunk[index] += values[index] }
                }
                offset += chunk.count
            }
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        try validate(root: root, operation: "broadcast")
        try locked {
            try forEachChunk(of: buffer.count) { range in
                let chunk = UnsafeMutableRawBufferPointer(rebasing: buffer[range])
                if rank == root {
                    try round(.broadcast, outgoing: UnsafeRawBufferPointer(chunk), expectedPeerLength: 0) { _ in }
                } else {
                    try round(.broadcast, outgoing: Self.nothing, expectedPeerLength: chunk.count) { chunk.copyMemory(from: $0) }
                }
            }
        }
    }

    public func barrier() throws {
        try locked { try round(.barrier, outgoing: Self.nothing, expectedPeerLength: 0) { _ in } }
    }

    public func gather(_ contribution: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer?,
                       root: Int) throws {
        try validateGather(contribution, destination, root: root)
        try locked {
            let peer = 1 - rank
            if rank == root, let destination, !contribution.isEmpty {
                UnsafeMutableRawBufferPointer(rebasing: destination[(root * contribution.count)...]).copyMemory(from: contribution)
            }
            try forEachChunk(of: contribution.count) { range in
                if rank == root {
                    let target = UnsafeMutableRawBufferPointer(
                        rebasing: destination![(peer * contribution.count + range.lowerBound)...])
                    try round(.gather, outgoing: Self.nothing, expectedPeerLength: range.count) { target.copyMemory(from: $0) }
                } else {
                    try round(.gather, outgoing: UnsafeRawBufferPointer(rebasing: contribution[range]), expectedPeerLength: 0) { _ in }
                }
            }
        }
    }

    // MARK: Point to point

    /// A message is a 16-byte header round (tag, length) and then data rounds; the receiver sends
    /// empty chunks. Both ranks sending at once is detected as a mismatch rather than a hang.
    public func send(_ bytes: UnsafeRawBufferPointer, to destination: Int, tag: Int) throws {
        try validate(peer: destination, operation: "send")
        try locked {
            var header = (Int64(tag), Int64(bytes.count))
            try withUnsafeBytes(of: &header) { headerBytes in
                try round(.message, outgoing: headerBytes, expectedPeerLength: 0) { _ in }
            }
            try forEachChunk(of: bytes.count) { range in
                try round(.message, outgoing: UnsafeRawBufferPointer(rebasing: bytes[range]), expectedPeerLength: 0) { _ in }
            }
        }
    }

    @discardableResult
    public func receive(into buffer: UnsafeMutableRawBufferPointer, from source: Int, tag: Int) throws -> Int {
        try validate(peer: source, operation: "receive")
        return try locked {
            var header: (Int64, Int64) = (0, 0)
            try withUnsafeMutableBytes(of: &header) { headerBytes in
                try round(.message, outgoing: Self.nothing, expectedPeerLength: headerBytes.count) { headerBytes.copyMemory(from: $0) }
            }
            guard header.0 == Int64(tag), header.1 >= 0, header.1 <= Int64(buffer.count) else {
                // The sender goes on with its data rounds; this pair can no longer be kept in step.
                let error = TransportError.mismatch(
                    "receive(tag \(tag), \(buffer.count) bytes) met a message with tag \(header.0) of \(header.1) bytes")
                failure = error
                throw error
            }
            let length = Int(header.1)
            try forEachChunk(of: length) { range in
                let target = UnsafeMutableRawBufferPointer(rebasing: buffer[range])
                try round(.message, outgoing: Self.nothing, expectedPeerLength: range.count) { target.copyMemory(from: $0) }
            }
            return length
        }
    }

    // MARK: Rounds

    private static var nothing: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }

    private func locked<R>(_ body: () throws -> R) throws -> R {
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw TransportError.groupBroken("an earlier verbs exchange failed: \(failure.message)") }
        do {
            return try body()
        } catch let error as TransportError {
            if error.kind != .invalidArgument { failure = error }
            throw error
        }
    }

    private func forEachChunk(of count: Int, _ body: (Range<Int>) throws -> Void) rethrows {
        var offset = 0
        while offset < count {
            let end = min(offset + operations.slotCapacity, count)
            try body(offset..<end)
            offset = end
        }
    }

    /// One round: posts the own chunk, waits for the peer's, hands it to `consume`.
    private func round(_ operation: VerbsAllReduceProtocol.Operation, outgoing: UnsafeRawBufferPointer,
                       expectedPeerLength: Int?, consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        var directives = try exchange.beginRound(operation, length: outgoing.count, expectedPeerLength: expectedPeerLength)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start.advanced(by: polling.timeout)
        let drowsy = start.advanced(by: polling.sleepAfter)
        var emptyPolls = 0
        while true {
            var consumed = false
            for directive in directives {
                switch directive {
                case .postReceive(let id):
                    try operations.postReceive(workRequestID: id)
                case .stageAndWrite(let slot, let length, let immediate, let id):
                    if length > 0 { operations.sendSlot(slot).copyMemory(from: outgoing) }
                    try operations.postWriteWithImmediate(slot: slot, length: length, immediate: immediate, workRequestID: id)
                case .consume(let slot, let length):
                    try consume(UnsafeRawBufferPointer(rebasing: operations.receiveSlot(slot)[0..<length]))
                    consumed = true
                }
            }
            if consumed { return }
            directives.removeAll(keepingCapacity: true)
            completions.removeAll(keepingCapacity: true)
            if try operations.pollCompletions(into: &completions, maximum: 16) == 0 {
                emptyPolls += 1
                if emptyPolls > polling.spinsBeforeYield {
                    let now = clock.now
                    guard now < deadline else {
                        throw TransportError.timedOut(
                            "rank \(rank): the peer did not complete \(operation) round \(exchange.nextSequence) within \(polling.timeout)")
                    }
                    if now < drowsy { sched_yield() } else { usleep(20) }
                }
                continue
            }
            emptyPolls = 0
            for completion in completions { directives += try exchange.handle(completion) }
        }
    }
}
