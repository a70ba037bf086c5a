import TandemCore
import TandemEngineCore
import Testing

@Suite("BlockPool")
struct BlockPoolTests {
    @Test func allocationHandsOutTheLowestFreeBlockIDs() throws {
        var pool = try makePool(blocks: 8)
        try pool.allocateSlots(for: "a", writing: 0..<10)
        try pool.allocateSlots(for: "b", writing: 0..<4)
        #expect(pool.ids("a") == [0, 1, 2])
        #expect(pool.ids("b") == [3])
        #expect(pool.refCounts([0, 1, 2, 3, 4]) == [1, 1, 1, 1, 0])
        #expect(pool.freeBlockCount == 4)
        pool.free("a")
        try pool.allocateSlots(for: "c", writing: 0..<5)
        #expect(pool.ids("c") == [0, 1])
        #expect(pool.consistencyProblem() == nil)
    }

    @Test func appendingSlotsAddsABlockOnlyWhenCrossingABoundary() throws {
        var pool = try makePool(blocks: 8)
        try pool.allocateSlots(for: "a", writing: 0..<4)
        #expect(pool.ids("a") == [0])
        try pool.allocateSlots(for: "a", writing: 4..<5)
        #expect(pool.ids("a") == [0, 1])
        try pool.allocateSlots(for: "a", writing: 5..<8)
        #expect(pool.ids("a") == [0, 1])
        try pool.allocateSlots(for: "a", writing: 8..<9)
        #expect(pool.ids("a") == [0, 1, 2])
        #expect(pool.blockTable(for: "a")?.capacity == 12)
        #expect(pool.blockTable(for: "a")?.slot(forPosition: 9)?.block == 2)
        #expect(pool.blockTable(for: "a")?.slot(forPosition: 9)?.offset == 1)
    }

    @Test func allocationIsAllOrNothing() throws {
        var pool = try makePool(blocks: 4)
        try pool.allocateSlots(for: "a", writing: 0..<12)
        #expect(throws: EngineCoreError.self) { try pool.allocateSlots(for: "b", writing: 0..<5) }
        do {
            try pool.allocateSlots(for: "b", writing: 0..<5)
        } catch {
            #expect(error.engineCode == .outOfBlocks)
        }
        #expect(pool.blockTable(for: "b") == nil)
        #expect(pool.freeBlockCount == 1)
        #expect(pool.consistencyProblem() == nil)
    }

    @Test func reserveKeepsBlocksAvailable() throws {
        var pool = try makePool(blocks: 4)
        #expect(throws: EngineCoreError.self) {
            try pool.allocateSlots(for: "a", writing: 0..<12, keepingAvailable: 2)
        }
        try pool.allocateSlots(for: "a", writing: 0..<12, keepingAvailable: 1)
        #expect(pool.availableBlockCount == 1)
    }

    @Test func writesThatLeaveAGapAreRejected() throws {
        var pool = try makePool(blocks: 4)
        try pool.allocateSlots(for: "a", writing: 0..<4)
        do {
            try pool.allocateSlots(for: "a", writing: 8..<9)
            Issue.record("expected a gap to be rejected")
        } catch {
            #expect(error.engineCode == .invalidSlotRange)
        }
        #expect(pool.ids("a") == [0])
    }

    @Test func freeingReleasesEveryBlockAndUnknownSequencesReportFalse() throws {
        var pool = try makePool(blocks: 4)
        try pool.allocateSlots(for: "a", writing: 0..<9)
        #expect(pool.usedBlockCount == 3)
        let freed = pool.free("a")
        #expect(freed)
        #expect(pool.usedBlockCount == 0)
        #expect(pool.freeBlockCount == 4)
        let freedAgain = pool.free("a")
        #expect(!freedAgain)
        #expect(pool.consistencyProblem() == nil)
    }

    @Test func poolSizeComesFromAMemoryBudget() {
        #expect(BlockPoolConfiguration.blockCount(memoryBudgetBytes: 1 << 20, bytesPerToken: 1024, blockSize: 16) == 64)
        #expect(BlockPoolConfiguration.blockCount(memoryBudgetBytes: 1 << 20, bytesPerToken: 1000, blockSize: 16) == 65)
        #expect(BlockPoolConfiguration.blockCount(memoryBudgetBytes: 0, bytesPerToken: 1024, blockSize: 16) == 0)
        let smolLM = ModelConfiguration(dim: 576, hiddenDim: 1536, layerCount: 30, headCount: 9, kvHeadCount: 3,
                                        vocabSize: 49152, contextLength: 8192, tiedEmbeddings: true)
        // K and V × 30 layers × 3 KV heads × 64 dims × 2 bytes.
        #expect(BlockPoolConfiguration.kvBytesPerToken(model: smolLM, bytesPerElement: 2) == 23_040)
        #expect(BlockPoolConfiguration.kvBytesPerToken(model: smolLM, kvHeadCount: 1, bytesPerElement: 2) == 7_680)
        let sized = BlockPoolConfiguration(memoryBudgetBytes: 23_040 * 16 * 10 + 5, bytesPerToken: 23_040)
        #expect(sized.blockCount == 10)
        #expect(sized.blockSize == 16)
    }

    @Test func invalidConfigurationsAreRejected() {
        #expect(throws: EngineCoreError.self) { try makePool(blocks: 0) }
        #expect(throws: EngineCoreError.self) { try makePool(blocks: 4, blockSize: 0) }
    }
}
