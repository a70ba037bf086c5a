import TandemCore
import TandemEngineCore
import Testing

@Suite("Copy-on-write")
struct CopyOnWriteTests {
    @Test func forkSharesEveryBlockAndBumpsRefcounts() throws {
        var pool = try makePool(blocks: 8)
        try pool.allocateSlots(for: "a", writing: 0..<6)
        try pool.fork("a", into: "b")
        #expect(pool.ids("b") == [0, 1])
        #expect(pool.refCounts([0, 1]) == [2, 2])
        #expect(pool.consistencyProblem() == nil)
    }

    @Test func writingIntoASharedPartialBlockGetsAFreshCopy() throws {
        var pool = try makePool(blocks: 8)
        try pool.allocateSlots(for: "a", writing: 0..<6)
        try pool.fork("a", into: "b")
        let copies = try pool.allocateSlots(for: "b", writing: 6..<7)
        #expect(copies == [BlockCopy(source: 1, destination: 2)])
        #expect(pool.ids("b") == [0, 2])
        #expect(pool.refCounts([0, 1, 2]) == [2, 1, 1])
        // The parent now owns block 1 alone and writes in place.
        #expect(try pool.allocateSlots(for: "a", writing: 6..<7) == [])
        #expect(pool.ids("a") == [0, 1])
        #expect(pool.consistencyProblem() == nil)
    }

    @Test func writingPastSharedFullBlocksCopiesNothing() throws {
        var pool = try makePool(blocks: 8)
        try pool.allocateSlots(for: "a", writing: 0..<8)
        try pool.fork("a", into: "b")
        #expect(try pool.allocateSlots(for: "b", writing: 8..<9) == [])
        #expect(pool.ids("b") == [0, 1, 2])
        #expect(pool.refCounts([0, 1, 2]) == [2, 2, 1])
    }

    @Test func writingIntoACachedBlockCopiesItEvenWhenUnshared() throws {
        var pool = try makePool(blocks: 8)
        _ = try pool.prefill("a", tokens(1...8))
        #expect(pool.isCached(1))
        let copies = try pool.allocateSlots(for: "a", writing: 7..<9)
        #expect(copies == [BlockCopy(source: 1, destination: 2)])
        #expect(pool.ids("a") == [0, 2, 3])
        // The cached original stays in the index, unreferenced and evictable.
        #expect(pool.refCount(of: 1) == 0)
        #expect(pool.isCached(1))
        #expect(pool.evictableBlockCount == 1)
        #expect(pool.consistencyProblem() == nil)
    }

    @Test func copyNeedsAFreeBlockAndFailsCleanlyWithoutOne() throws {
        var pool = try makePool(blocks: 2)
        try pool.allocateSlots(for: "a", writing: 0..<6)
        try pool.fork("a", into: "b")
        do {
            try pool.allocateSlots(for: "b", writing: 6..<7)
            Issue.record("expected out of blocks")
        } catch {
            #expect(error.engineCode == .outOfBlocks)
        }
        #expect(pool.ids("b") == [0, 1])
        #expect(pool.refCounts([0, 1]) == [2, 2])
    }

    @Test func forkRejectsUnknownParentsAndExistingChildren() throws {
        var pool = try makePool(blocks: 4)
        try pool.allocateSlots(for: "a", writing: 0..<1)
        #expect(throws: EngineCoreError.self) { try pool.fork("x", into: "y") }
        #expect(throws: EngineCoreError.self) { try pool.fork("a", into: "a") }
    }
}
