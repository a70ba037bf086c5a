import CMPI
import Foundation

/// A `Communicator` over MPI: the world of an mpirun job, or a sub-communicator split off it by
/// a color, so that a coordinator and its workers can share one job while the workers' collectives
/// involve only the workers.
///
/// All-reduce is `MPI_Allreduce(MPI_IN_PLACE, MPI_FLOAT, MPI_SUM)`. Errors are returned, not fatal
/// (`MPI_ERRORS_RETURN`), and mapped to `TransportError` with the library's message.
public final class MPICommunicator: Communicator, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    public var transportName: String { "mpi" }

    private let runtime: MPIRuntime
    private var handle: MPI_Comm?
    private let ownsHandle: Bool

    private init(runtime: MPIRuntime, handle: MPI_Comm, ownsHandle: Bool) throws(TransportError) {
        self.runtime = runtime
        self.handle = handle
        self.ownsHandle = ownsHandle
        var rank: Int32 = 0
        var size: Int32 = 0
        try runtime.serialized { () throws(TransportError) in
            try runtime.check(MPI_Comm_set_errhandler(handle, tandem_mpi_errors_return()), "MPI_Comm_set_errhandler")
            try runtime.check(MPI_Comm_rank(handle, &rank), "MPI_Comm_rank")
            try runtime.check(MPI_Comm_size(handle, &size), "MPI_Comm_size")
        }
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Every process of the job (`MPI_COMM_WORLD`); initialises MPI if needed.
    public static func world(runtime: MPIRuntime = .shared) throws(TransportError) -> MPICommunicator {
        try runtime.initialize()
        return try MPICommunicator(runtime: runtime, handle: tandem_mpi_comm_world(), ownsHandle: false)
    }

    /// Splits `parent` (collective over all of its ranks): ranks passing the same `color` form one
    /// group, ordered by `key` then by parent rank. A rank passing `nil` joins no group and gets `nil`.
    public static func split(_ parent: MPICommunicator, color: Int?, key: Int) throws(TransportError) -> MPICommunicator? {
        guard let parentHandle = parent.handle else { throw Self.shutDownError }
        if let color, color < 0 || color > Int(Int32.max) {
            throw .invalidArgument("MPI_Comm_split: color \(color) must be in 0...\(Int32.max)")
        }
        guard let key32 = Int32(exactly: key) else { throw .invalidArgument("MPI_Comm_split: key \(key) out of range") }
        var newHandle: MPI_Comm? = tandem_mpi_comm_null()
        let color32 = color.map { Int32($0) } ?? tandem_mpi_undefined()
        try parent.runtime.serialized { () throws(TransportError) in
            try parent.runtime.check(MPI_Comm_split(parentHandle, color32, key32, &newHandle), "MPI_Comm_split")
        }
        guard let newHandle, newHandle != tandem_mpi_comm_null() else { return nil }
        return try MPICommunicator(runtime: parent.runtime, handle: newHandle, ownsHandle: true)
    }

    /// Frees a split-off communicator; the world communicator is left to `MPIRuntime.finalize()`.
    /// Further calls throw. Idempotent.
    public func shutdown() {
        guard let handle else { return }
        self.handle = nil
        guard ownsHandle else { return }
        var toFree: MPI_Comm? = handle
        _ = try? runtime.serialized { () throws(TransportError) in _ = MPI_Comm_free(&toFree) }
    }

    deinit { shutdown() }

    // MARK: Collectives

    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard !buffer.isEmpty else { return }
        let count = try Self.count(buffer.count, "MPI_Allreduce")
        try call("MPI_Allreduce") { comm in
            MPI_Allreduce(tandem_mpi_in_place(), buffer.baseAddress, count, tandem_mpi_float(), tandem_mpi_sum(), comm)
        }
    }

    public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
        try validate(root: root, operation: "broadcast")
        let count = try Self.count(buffer.count, "MPI_Bcast")
        try call("MPI_Bcast") { comm in
            MPI_Bcast(buffer.baseAddress, count, tandem_mpi_byte(), Int32(root), comm)
        }
    }

    public func barrier() throws {
        try call("MPI_Barrier") { comm in MPI_Barrier(comm) }
    }

    public func gather(_ contribution: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer?,
                       root: Int) throws {
        try validateGather(contribution, destination, root: root)
        _ = try Self.count(contribution.count * size, "MPI_Gather")
        let count = try Self.count(contribution.count, "MPI_Gather")
        try call("MPI_Gather") { comm in
            MPI_Gather(contribution.baseAddress, count, tandem_mpi_byte(),
                       rank == root ? destination?.baseAddress : nil, count, tandem_mpi_byte(), Int32(root), comm)
        }
    }

    /// Element-wise maximum of `values` across ranks, in place (used by comm-check for timings).
    public func allReduceMax(_ values: UnsafeMutableBufferPointer<Double>) throws {
        guard !values.isEmpty else { return }
        let count = try Self.count(values.count, "MPI_Allreduce")
        try call("MPI_Allreduce") { comm in
            MPI_Allreduce(tandem_mpi_in_place(), values.baseAddress, count, tandem_mpi_double(), tandem_mpi_max(), comm)
        }
    }

    // MARK: Point to point

    public func send(_ bytes: UnsafeRawBufferPointer, to destination: Int, tag: Int) throws {
        try validate(peer: destination, operation: "send")
        let tag32 = try Self.tag(tag)
        let count = try Self.count(bytes.count, "MPI_Send")
        try call("MPI_Send") { comm in
            MPI_Send(bytes.baseAddress, count, tandem_mpi_byte(), Int32(destination), tag32, comm)
        }
    }

    @discardableResult
    public func receive(into buffer: UnsafeMutableRawBufferPointer, from source: Int, tag: Int) throws -> Int {
        try validate(peer: source, operation: "receive")
        let tag32 = try Self.tag(tag)
        let count = try Self.count(buffer.count, "MPI_Recv")
        var status = MPI_Status()
        try call("MPI_Recv") { comm in
            MPI_Recv(buffer.baseAddress, count, tandem_mpi_byte(), Int32(source), tag32, comm, &status)
        }
        var received: Int32 = 0
        try call("MPI_Get_count") { _ in MPI_Get_count(&status, tandem_mpi_byte(), &received) }
        return Int(received)
    }

    // MARK: Helpers

    private func call(_ name: String, _ body: (MPI_Comm) -> Int32) throws(TransportError) {
        guard let handle else { throw Self.shutDownError }
        let code = try runtime.serialized { () throws(TransportError) in body(handle) }
        try runtime.check(code, name)
    }

    private static func count(_ count: Int, _ call: String) throws(TransportError) -> Int32 {
        guard let value = Int32(exactly: count) else {
            throw .invalidArgument("\(call): \(count) elements exceed MPI's 32-bit count")
        }
        return value
    }

    private static func tag(_ tag: Int) throws(TransportError) -> Int32 {
        // MPI guarantees tags up to 32767 (MPI_TAG_UB is at least that).
        guard (0...32767).contains(tag) else { throw .invalidArgument("tag \(tag) must be in 0...32767") }
        return Int32(tag)
    }

    private static let shutDownError = TransportError.invalidArgument("the MPI communicator was shut down")
}
