import Testing
@testable import TandemTransport

/// MPI without mpirun: a singleton job of one rank. Every call still goes through Open MPI.
@Suite("MPICommunicator singleton", .serialized)
struct MPICommunicatorTests {
    @Test("the world of a singleton has one rank")
    func world_isSingleton() throws {
        let world = try MPICommunicator.world()
        #expect(world.rank == 0)
        #expect(world.size == 1)
        #expect(world.transportName == "mpi")
        #expect(MPIRuntime.shared.isActive)
        #expect(MPIRuntime.shared.threadLevel != nil)
    }

    @Test("collectives on one rank leave values as they are")
    func collectives_onOneRank() throws {
        let world = try MPICommunicator.world()
        var values: [Float] = [1.5, -2, 3]
        try world.allReduceSum(&values)
        #expect(values == [1.5, -2, 3])
        var bytes: [UInt8] = [7, 8, 9]
        try world.broadcast(&bytes, root: 0)
        #expect(bytes == [7, 8, 9])
        try world.barrier()
        #expect(try world.gather([4, 5], root: 0) == [4, 5])
    }

    @Test("comm-check's shared checks pass on the singleton")
    func commCheck_passesOnSingleton() throws {
        let results = try CommCheck.verify(try MPICommunicator.world())
        for result in results { #expect(result.passed, "\(result.name): \(result.detail)") }
    }

    @Test("a split by color gives a sub-communicator; no color gives none")
    func split_byColor() throws {
        let world = try MPICommunicator.world()
        let workers = try #require(try MPICommunicator.split(world, color: 3, key: 0))
        #expect(workers.size == 1)
        var values: [Float] = [2]
        try workers.allReduceSum(&values)
        #expect(values == [2])
        workers.shutdown()
        #expect(throws: TransportError.self) { try workers.barrier() }
        #expect(try MPICommunicator.split(world, color: nil, key: 0) == nil)
    }

    @Test("bad arguments are errors, not crashes")
    func badArguments_areErrors() throws {
        let world = try MPICommunicator.world()
        var bytes: [UInt8] = [1]
        #expect(throws: TransportError.self) { try world.broadcast(&bytes, root: 1) }
        #expect(throws: TransportError.self) { try bytes.withUnsafeBytes { try world.send($0, to: 0, tag: 1) } }
        #expect(throws: TransportError.self) { try MPICommunicator.split(world, color: -5, key: 0) }
    }

    @Test("MPI return codes map to messages from the library")
    func errorString_comesFromLibrary() {
        // MPI_ERR_COUNT is 2 in Open MPI; its text names the count.
        #expect(!MPIRuntime.errorString(2).isEmpty)
        #expect(throws: TransportError.self) { try MPIRuntime.shared.check(2, "MPI_Test") }
    }

    @Test("the library version is reported")
    func libraryVersion_isReported() {
        #expect(MPIRuntime.libraryVersion().contains("MPI"))
    }
}
