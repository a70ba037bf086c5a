/// The few RDMA verbs operations the two-rank exchange needs, so that `VerbsAllReduceProtocol`
/// and `VerbsCommunicator` run the same way over libibverbs (`IBVerbsOperations`) and over an
/// in-memory pair of peers (`InMemoryVerbsFabric`) in tests.
///
/// Memory model: each side owns `slotCount` registered send slots and `slotCount` registered
/// receive slots of `slotCapacity` bytes. A write with immediate copies `length` bytes from a local
/// send slot into the peer's receive slot of the same index, then consumes one of the peer's
/// posted receives, which completes there carrying the immediate value and the byte count.
public protocol VerbsOperations: AnyObject {
    /// Bytes in each slot.
    var slotCapacity: Int { get }
    /// Number of send slots and of receive slots (2: double buffering).
    var slotCount: Int { get }
    /// Local registered memory where an outgoing chunk is staged before the write.
    func sendSlot(_ index: Int) -> UnsafeMutableRawBufferPointer
    /// Local registered memory that the peer's writes to slot `index` land in.
    func receiveSlot(_ index: Int) -> UnsafeRawBufferPointer
    /// Posts a signalled RDMA WRITE WITH IMMEDIATE of `length` bytes from send slot `slot` to the
    /// peer's receive slot `slot`. Completes locally as `.writeCompleted(workRequestID)`.
    func postWriteWithImmediate(slot: Int, length: Int, immediate: UInt32, workRequestID: UInt64) throws
    /// Posts one receive work request (no scatter list: write-with-immediate needs none).
    func postReceive(workRequestID: UInt64) throws
    /// Appends up to `maximum` completions without blocking; returns how many were appended.
    @discardableResult
    func pollCompletions(into completions: inout [VerbsCompletion], maximum: Int) throws -> Int
}

/// One work completion, as far as the exchange protocol cares.
public struct VerbsCompletion: Sendable, Equatable {
    public enum Event: Sendable, Equatable {
        /// A write posted here finished (the peer's adapter acknowledged it).
        case writeCompleted
        /// The peer's write with immediate landed here (`byteLength` bytes in the receive slot).
        case receivedWriteWithImmediate(immediate: UInt32, byteLength: Int)
    }

    public var workRequestID: UInt64
    public var event: Event
    /// `nil` on success, else the completion status text (`ibv_wc_status_str`).
    public var failure: String?

    public init(workRequestID: UInt64, event: Event, failure: String? = nil) {
        self.workRequestID = workRequestID
        self.event = event
        self.failure = failure
    }
}
