import Foundation
import TandemCore

/// Two `VerbsOperations` endpoints connected in memory, standing in for a pair of RDMA adapters
/// in tests: writes with immediate land in the peer's receive slot and complete on both sides.
///
/// It can be made harsher than a real reliable connection: deliveries held back for a random
/// number of polls, completions returned in random order, a link that drops everything. Like an
/// adapter, it reads the sender's slot when it transmits (at delivery), not at post time. A write
/// that finds no posted receive fails as "RNR retry counter exceeded", so a protocol that lets
/// its receives run out is caught. Deliveries advance whenever either side polls.
public final class InMemoryVerbsFabric: @unchecked Sendable {
    /// How hostile the fabric is.
    public struct Behavior: Sendable {
        /// Each write is delivered after 0...maximumDelay polls (of either side).
        public var maximumDelay: Int
        /// Whether completion queues return entries in random order.
        public var reorderCompletions: Bool
        /// Seed of the random choices, for reproducible runs.
        public var seed: UInt64

        public init(maximumDelay: Int = 0, reorderCompletions: Bool = false, seed: UInt64 = 1) {
            self.maximumDelay = maximumDelay
            self.reorderCompletions = reorderCompletions
            self.seed = seed
        }
    }

    private struct Transfer {
        var from: Int
        var slot: Int
        var length: Int
        var immediate: UInt32
        var workRequestID: UInt64
        var dueAtTick: UInt64
    }

    private struct Side {
        var sendSlots: UnsafeMutableRawPointer
        var receiveSlots: UnsafeMutableRawPointer
        var postedReceives: [UInt64] = []
        var completionQueue: [VerbsCompletion] = []
    }

    public let slotCapacity: Int
    private let behavior: Behavior
    private let lock = NSLock()
    private var sides: [Side]
    private var inFlight: [Transfer] = []
    private var tick: UInt64 = 0
    private var random: SplitMix64
    private var linkDown = false
    /// The two endpoints; give `endpoints[r]` to rank `r`. They keep the fabric alive.
    public var endpoints: [InMemoryVerbsEndpoint] {
        [InMemoryVerbsEndpoint(fabric: self, side: 0), InMemoryVerbsEndpoint(fabric: self, side: 1)]
    }

    public init(slotCapacity: Int, behavior: Behavior = Behavior()) {
        self.slotCapacity = slotCapacity
        self.behavior = behavior
        random = SplitMix64(seed: behavior.seed)
        let bytes = slotCapacity * VerbsAllReduceProtocol.slotCount
        sides = (0..<2).map { _ in
            Side(sendSlots: .allocate(byteCount: max(bytes, 1), alignment: 64),
                 receiveSlots: .allocate(byteCount: max(bytes, 1), alignment: 64))
        }
    }

    deinit {
        for side in sides {
            side.sendSlots.deallocate()
            side.receiveSlots.deallocate()
        }
    }

    /// From now on every write fails on the sender as a real adapter reports a dead link, after
    /// its retries, and nothing reaches the peer.
    public func breakLink() {
        lock.lock()
        defer { lock.unlock() }
        linkDown = true
    }

    // MARK: Endpoint operations

    func slot(side: Int, send: Bool, index: Int) -> UnsafeMutableRawBufferPointer {
        let base = send ? sides[side].sendSlots : sides[side].receiveSlots
        return UnsafeMutableRawBufferPointer(start: base + index * slotCapacity, count: slotCapacity)
    }

    func postWrite(side: Int, slot: Int, length: Int, immediate: UInt32, workRequestID: UInt64) throws {
        guard (0..<VerbsAllReduceProtocol.slotCount).contains(slot), (0...slotCapacity).contains(length) else {
            throw TransportError.verbs("ibv_post_send: invalid argument (slot \(slot), length \(length))")
        }
        lock.lock()
        defer { lock.unlock() }
        let delay = behavior.maximumDelay > 0 ? random.next() % UInt64(behavior.maximumDelay + 1) : 0
        inFlight.append(Transfer(from: side, slot: slot, length: length, immediate: immediate,
                                 workRequestID: workRequestID, dueAtTick: tick + delay))
    }

    func postReceive(side: Int, workRequestID: UInt64) {
        lock.lock()
        defer { lock.unlock() }
        sides[side].postedReceives.append(workRequestID)
    }

    func poll(side: Int, into completions: inout [VerbsCompletion], maximum: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        tick += 1
        deliverDueTransfers()
        var taken = 0
        while taken < maximum, !sides[side].completionQueue.isEmpty {
            let index = behavior.reorderCompletions
                ? Int(random.next() % UInt64(sides[side].completionQueue.count)) : 0
            completions.append(sides[side].completionQueue.remove(at: index))
            taken += 1
        }
        return taken
    }

    /// Under the lock: moves due transfers' bytes into the peer's memory and queues completions.
    private func deliverDueTransfers() {
        var due = inFlight.indices.filter { inFlight[$0].dueAtTick <= tick }
        guard !due.isEmpty else { return }
        if behavior.reorderCompletions { due.shuffle(using: &random) }
        for index in due {
            let transfer = inFlight[index]
            let peer = 1 - transfer.from
            if linkDown {
                sides[transfer.from].completionQueue.append(VerbsCompletion(
                    workRequestID: transfer.workRequestID, event: .writeCompleted, failure: "transport retry counter exceeded"))
                continue
            }
            guard !sides[peer].postedReceives.isEmpty else {
                sides[transfer.from].completionQueue.append(VerbsCompletion(
                    workRequestID: transfer.workRequestID, event: .writeCompleted, failure: "RNR retry counter exceeded"))
                continue
            }
            let receiveID = sides[peer].postedReceives.removeFirst()
            if transfer.length > 0 {
                slot(side: peer, send: false, index: transfer.slot)
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: slot(side: transfer.from, send: true, index: transfer.slot)[0..<transfer.length]))
            }
            sides[peer].completionQueue.append(VerbsCompletion(
                workRequestID: receiveID,
                event: .receivedWriteWithImmediate(immediate: transfer.immediate, byteLength: transfer.length)))
            sides[transfer.from].completionQueue.append(VerbsCompletion(
                workRequestID: transfer.workRequestID, event: .writeCompleted))
        }
        let delivered = Set(due)
        inFlight = inFlight.indices.filter { !delivered.contains($0) }.map { inFlight[$0] }
    }
}

/// One side of an `InMemoryVerbsFabric`.
public final class InMemoryVerbsEndpoint: VerbsOperations, @unchecked Sendable {
    private let fabric: InMemoryVerbsFabric
    private let side: Int

    init(fabric: InMemoryVerbsFabric, side: Int) {
        self.fabric = fabric
        self.side = side
    }

    public var slotCapacity: Int { fabric.slotCapacity }
    public var slotCount: Int { VerbsAllReduceProtocol.slotCount }

    public func sendSlot(_ index: Int) -> UnsafeMutableRawBufferPointer {
        fabric.slot(side: side, send: true, index: index)
    }

    public func receiveSlot(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(fabric.slot(side: side, send: false, index: index))
    }

    public func postWriteWithImmediate(slot: Int, length: Int, immediate: UInt32, workRequestID: UInt64) throws {
        try fabric.postWrite(side: side, slot: slot, length: length, immediate: immediate, workRequestID: workRequestID)
    }

    public func postReceive(workRequestID: UInt64) throws {
        fabric.postReceive(side: side, workRequestID: workRequestID)
    }

    @discardableResult
    public func pollCompletions(into completions: inout [VerbsCompletion], maximum: Int) throws -> Int {
        fabric.poll(side: side, into: &completions, maximum: maximum)
    }
}
