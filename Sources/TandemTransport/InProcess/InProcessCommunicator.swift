/// A `Communicator` whose ranks are threads of one process sharing an `InProcessHub`; for unit
/// tests of tensor-parallel math and of code that drives a `Communicator`.
///
/// Same semantics as the MPI transport: collectives must be issued in the same order with the
/// same sizes on every rank (a mismatch throws `.mismatch` on every rank); sends are buffered, so
/// `send` returns before the matching `receive`. Each rank must run on its own thread: the
/// collectives block until every rank has arrived (or `timeout` passes, which breaks the group).
public final class InProcessCommunicator: Communicator, Sendable {
    public let rank: Int
    public var size: Int { hub.size }
    public var transportName: String { "in-process" }
    private let hub: InProcessHub

    private init(rank: Int, hub: InProcessHub) {
        self.rank = rank
        self.hub = hub
    }

    /// A group of `size` ranks; hand element `r` to the thread playing rank `r`.
    public static func group(size: Int, timeout: Duration = .seconds(60)) -> [InProcessCommunicator] {
        precondition(size >= 1, "an in-process group needs at least one rank")
        let hub = InProcessHub(size: size, timeout: timeout)
        return (0..<size).map { InProcessCommunicator(rank: $0, hub: hub) }
    }

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        let contribution = Array(UnsafeRawBufferPointer(buffer))
        try hub.collective(rank: rank, operation: .allReduceSum(count: buffer.count),
                           contribution: contribution) { sum in
            sum.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        try validate(root: root, operation: "broadcast")
        let contribution = rank == root ? Array(UnsafeRawBufferPointer(buffer)) : []
        try hub.collective(rank: rank, operation: .broadcast(bytes: buffer.count, root: root),
                           contribution: contribution) { bytes in
            if rank != root { bytes.withUnsafeBytes { buffer.copyMemory(from: $0) } }
        }
    }

    public func barrier() throws {
        try hub.collective(rank: rank, operation: .barrier, contribution: []) { _ in }
    }

    public func gather(_ contribution: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer?,
                       root: Int) throws {
        try validateGather(contribution, destination, root: root)
        try hub.collective(rank: rank, operation: .gather(bytes: contribution.count, root: root),
                           contribution: Array(contribution)) { all in
            if rank == root, let destination { all.withUnsafeBytes { destination.copyMemory(from: $0) } }
        }
    }

    public func send(_ bytes: UnsafeRawBufferPointer, to destination: Int, tag: Int) throws {
        try validate(peer: destination, operation: "send")
        try hub.send(Array(bytes), from: rank, to: destination, tag: tag)
    }

    @discardableResult
    public func receive(into buffer: UnsafeMutableRawBufferPointer, from source: Int, tag: Int) throws -> Int {
        try validate(peer: source, operation: "receive")
        let message = try hub.receive(from: source, to: rank, tag: tag)
        guard message.count <= buffer.count else {
            throw TransportError.invalidArgument(
                "receive: a \(message.count)-byte message from rank \(source) does not fit a \(buffer.count)-byte buffer")
        }
        message.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return message.count
    }
}
