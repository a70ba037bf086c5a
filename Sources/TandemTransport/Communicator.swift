/// Collective and point-to-point operations among the ranks of one model deployment
/// (tensor-parallel workers).
///
/// Implementations: MPI (`MPICommunicator`), RDMA verbs between two ranks
/// (`VerbsCommunicator`) and threads in one process (`InProcessCommunicator`, for tests).
///
/// Every rank must issue the same collectives in the same order with matching sizes; a mismatch
/// is reported as a `TransportError` where the transport can detect it. Calls on one
/// communicator are made from one thread at a time (the rank's thread).
public protocol Communicator: AnyObject, Sendable {
    /// This rank, `0..<size`.
    var rank: Int { get }
    /// Number of ranks in the group.
    var size: Int { get }
    /// Which transport this is, for logs and metrics ("mpi", "rdma", "in-process").
    var transportName: String { get }

    /// Element-wise sum of `buffer` across all ranks, result in every rank's buffer.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Copies `buffer` of `root` into every other rank's `buffer` (same byte count everywhere).
    func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
    /// Blocks until every rank has entered.
    func barrier() throws
    /// Concatenates every rank's `contribution` (same byte count everywhere) in rank order into
    /// `destination` on `root`, which must hold `size * contribution.count` bytes; the other
    /// ranks pass `nil`.
    func gather(_ contribution: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer?,
                root: Int) throws
    /// Sends `bytes` to rank `destination`; matched by a `receive` there with the same tag.
    func send(_ bytes: UnsafeRawBufferPointer, to destination: Int, tag: Int) throws
    /// Receives a message from `source` with `tag` into `buffer`; returns the byte count received.
    /// A message longer than `buffer` is an error.
    @discardableResult
    func receive(into buffer: UnsafeMutableRawBufferPointer, from source: Int, tag: Int) throws -> Int
}
