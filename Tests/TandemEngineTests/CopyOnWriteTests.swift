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

/// `n > 1`: further choices fork from the first when its prompt is computed.
@Suite struct SchedulerForkTests {
    @Test func aForkedChoiceSharesThePromptAndTakesItsOwnFirstToken() throws {
        var s = try makeScheduler(blocks: 16, blockSize: 4)
        try s.submit(request("a", tokens(1...6), maxTokens: 3))
        let first = s.schedule(now: .zero)
        #expect(first.shape == ["a@0+6*"])
        try s.fork("a", child: request("a/1", tokens(1...6), maxTokens: 3))
        #expect(s.blocks("a/1") == s.blocks("a"))
        let out = s.update(with: StepResult(sampledTokens: ["a": [100], "a/1": [200]]))
        #expect(out.map(\.newTokens) == [[100], [200]])
        #expect(s.tokens(of: "a/1") == tokens(1...6) + [200])
        // Next step: both decode; the child's write into the shared partial block is a copy.
        let second = s.schedule(now: .zero)
        #expect(second.shape == ["a@6+1*", "a/1@6+1*"])
        #expect(second.blockCopies.count == 1)
        #expect(s.blocks("a/1")[0] == s.blocks("a")[0])
        #expect(s.blocks("a/1")[1] != s.blocks("a")[1])
        #expect(s.pool.consistencyProblem() == nil)
    }

    @Test func forkingNeedsTheParentSamplingInTheStepInFlight() throws {
        var s = try makeScheduler(blocks: 16, blockSize: 4, chunk: 4)
        try s.submit(request("a", tokens(1...6)))
        _ = s.schedule(now: .zero) // a prefill chunk that does not sample
        #expect(throws: EngineCoreError.self) { try s.fork("a", child: request("a/1", tokens(1...6))) }
        #expect(throws: EngineCoreError.self) { try s.fork("nobody", child: request("x", tokens(1...6))) }
    }
}
