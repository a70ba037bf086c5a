import TandemCore
import TandemEngineCore
import Testing

@Suite("Eviction")
struct EvictionTests {
    /// A shared one-block system prompt S followed by three conversations A, B, C, each run and
    /// finished in turn; then an unrelated 5-block prompt forces three evictions.
    /// Acquisition ticks: S t0, A t1, S t2, B t3, S t4, C t5.
    private func sharedSystemPromptScenario(_ policy: EvictionPolicy) throws -> BlockPool {
        var pool = try makePool(blocks: 6, blockSize: 2, policy: policy)
        let system: [TokenID] = [1, 2]
        for (index, turn) in [[10, 11], [20, 21], [30, 31]].enumerated() {
            let id = RequestID("r\(index)")
            _ = try pool.prefill(id, system + turn.map { TokenID($0) })
            pool.free(id)
        }
        #expect(pool.ids("r0").isEmpty)
        #expect(pool.evictableBlockCount == 4)  // S = 0, A = 1, B = 2, C = 3
        #expect(pool.freeBlockCount == 2)       // 4, 5
        _ = try pool.prefill("big", tokens(90...99))
        return pool
    }

    @Test func prefixAwareEvictsLeavesFirstSoASharedSystemPromptSurvives() throws {
        let pool = try sharedSystemPromptScenario(.prefixAware)
        // Free blocks first, then leaves A (t1), B (t3), C (t5); S still had child C when C went.
        #expect(pool.ids("big") == [4, 5, 1, 2, 3])
        let next = [TokenID(1), 2, 40, 41]
        #expect(pool.cachedPrefix(for: BlockHashChain(tokens: next, blockSize: 2, salt: .shared), tokens: next) == [0])
        #expect(pool.consistencyProblem() == nil)
    }

    @Test func plainLRUEvictsTheSharedSystemPromptBeforeNewerLeaves() throws {
        let pool = try sharedSystemPromptScenario(.lru)
        // Oldest acquisition first: A (t1), B (t3), S (t4).
        #expect(pool.ids("big") == [4, 5, 1, 2, 0])
        let next = [TokenID(1), 2, 40, 41]
        #expect(pool.cachedPrefix(for: BlockHashChain(tokens: next, blockSize: 2, salt: .shared), tokens: next) == [])
        // C is still cached but unreachable without its parent.
        #expect(pool.isCached(3))
        #expect(pool.consistencyProblem() == nil)
    }

    @Test(arguments: [(EvictionPolicy.prefixAware, [3, 2, 1]), (.lru, [1, 2, 3])])
    func aChainIsEvictedTailFirstOnlyUnderPrefixAware(policy: EvictionPolicy, expected: [Int]) throws {
        var pool = try makePool(blocks: 4, blockSize: 2, policy: policy)
        _ = try pool.prefill("filler", [7, 7])          // block 0, held throughout
        _ = try pool.prefill("chain", tokens(1...6))    // blocks 1, 2, 3 (X → Y → Z)
        pool.free("chain")                              // released in table order: X oldest
        // One block at a time so the order is visible.
        for (step, block) in expected.enumerated() {
            _ = try pool.prefill(RequestID("n\(step)"), [TokenID(50 + step), 0])
            #expect(pool.ids(RequestID("n\(step)")) == [block])
        }
    }

    @Test func freeBlocksAreUsedBeforeAnyCachedBlockIsEvicted() throws {
        var pool = try makePool(blocks: 4, blockSize: 2)
        _ = try pool.prefill("a", tokens(1...4))
        pool.free("a")
        try pool.allocateSlots(for: "b", writing: 0..<4)
        #expect(pool.ids("b") == [2, 3])
        #expect(pool.cachedBlockCount == 2)
        try pool.allocateSlots(for: "c", writing: 0..<1)
        #expect(pool.ids("c") == [1])  // the leaf of a's chain
        #expect(pool.cachedBlockCount == 1)
        #expect(!pool.isCached(1))
    }

    @Test func evictedBlocksLeaveTheIndex() throws {
        var pool = try makePool(blocks: 2, blockSize: 2)
        let prompt = tokens(1...4)
        _ = try pool.prefill("a", prompt)
        pool.free("a")
        let chain = BlockHashChain(tokens: prompt, blockSize: 2, salt: .shared)
        #expect(pool.cachedPrefix(for: chain, tokens: prompt) == [0, 1])
        try pool.allocateSlots(for: "b", writing: 0..<1)
        #expect(pool.cachedPrefix(for: chain, tokens: prompt) == [0])
        #expect(pool.cachedBlockCount == 1)
    }

    @Test func aHitTakesABlockOutOfEvictionAndRefreshesItsRecency() throws {
        var pool = try makePool(blocks: 4, blockSize: 2, policy: .lru)
        _ = try pool.prefill("a", [1, 1])   // block 0, t0
        _ = try pool.prefill("b", [2, 2])   // block 1, t1
        pool.free("a")
        pool.free("b")
        _ = try pool.prefill("c", [1, 1, 9])   // hits block 0: now t2, newer than block 1
        #expect(pool.ids("c") == [0, 2])
        pool.free("c")
        try pool.allocateSlots(for: "d", writing: 0..<6)
        #expect(pool.ids("d") == [2, 3, 1])
    }

    @Test(arguments: EvictionPolicy.allCases)
    func recencyIsWhenABlockWasLastInUseNotWhenItWasAcquired(policy: EvictionPolicy) throws {
        var pool = try makePool(blocks: 3, blockSize: 2, policy: policy)
        _ = try pool.prefill("long", [1, 1])    // block 0, acquired first
        _ = try pool.prefill("short", [2, 2])   // block 1
        pool.free("short")
        pool.free("long")                       // block 0 was in use until now
        try pool.allocateSlots(for: "x", writing: 0..<4)
        #expect(pool.ids("x") == [2, 1])        // the free block, then the least recently used
        #expect(pool.cachedPrefix(for: BlockHashChain(tokens: [1, 1], blockSize: 2, salt: .shared), tokens: [1, 1]) == [0])
    }

    /// The workload that separates the policies (see `EvictionPolicy`): G = 3 system prompts of
    /// S = 4 blocks, each request = one prompt + a unique 18-token question (F = 4 full blocks and
    /// p = 1 partial), served round robin one at a time for 4 rounds; block size 4. Prefix-aware
    /// keeps every prompt whole once C >= (G-1)(S+F) + S + p = 21; LRU gets no hit at all below
    /// C = G(S+F) + p = 25, where the pool holds three whole requests and both hit everything.
    /// Returns the prompt tokens each request found cached.
    private func roundRobinSystemPrompts(blocks: Int, policy: EvictionPolicy) throws -> [Int] {
        var pool = try makePool(blocks: blocks, blockSize: 4, policy: policy)
        let systemPrompts = (0..<3).map { group in (0..<16).map { TokenID(1000 * (group + 1) + $0) } }
        var cached: [Int] = []
        for round in 0..<4 {
            for (group, system) in systemPrompts.enumerated() {
                let id = RequestID("g\(group)q\(round)")
                let question = (0..<18).map { TokenID(100_000 + 1000 * (4 * group + round) + $0) }
                let prompt = system + question
                let chain = BlockHashChain(tokens: prompt, blockSize: 4, salt: .shared)
                cached.append(pool.cachedPrefix(for: chain, tokens: prompt).count * 4)
                _ = try pool.prefill(id, prompt)
                pool.free(id)
                #expect(pool.consistencyProblem() == nil)
            }
        }
        return cached
    }

    @Test(arguments: [
        // (pool blocks, prefix-aware cached tokens, LRU cached tokens), 12 requests, 144 at best.
        (17, 0, 0),       // below (G-1)(S+F) + p + 1: nothing survives a round either way
        (19, 72, 0),      // prefix-aware keeps the first 2 blocks of each prompt: C - (G-1)(S+F) - p
        (21, 144, 0),     // the window: prefix-aware keeps every prompt, LRU none
        (24, 144, 0),
        (25, 144, 144),   // three whole requests fit: the order no longer matters
    ])
    func roundRobinSystemPromptsUnderPressure(blocks: Int, prefixAware: Int, lru: Int) throws {
        let aware = try roundRobinSystemPrompts(blocks: blocks, policy: .prefixAware)
        let plain = try roundRobinSystemPrompts(blocks: blocks, policy: .lru)
        #expect(aware.reduce(0, +) == prefixAware)
        #expect(plain.reduce(0, +) == lru)
        #expect(aware.prefix(3).allSatisfy { $0 == 0 } && plain.prefix(3).allSatisfy { $0 == 0 })  // first round: cold
    }

    @Test func inTheWindowPrefixAwareHitsEveryPromptAfterTheFirstRoundAndLRUNone() throws {
        let aware = try roundRobinSystemPrompts(blocks: 22, policy: .prefixAware)
        let plain = try roundRobinSystemPrompts(blocks: 22, policy: .lru)
        #expect(aware == [0, 0, 0] + Array(repeating: 16, count: 9))
        #expect(plain == Array(repeating: 0, count: 12))
    }

    @Test func prefixAwareFallsBackToLRUWhenNoEvictableBlockIsALeaf() throws {
        var pool = try makePool(blocks: 6, blockSize: 2, policy: .prefixAware)
        let prefix = tokens(1...4)
        let longer = prefix + [5, 6]
        _ = try pool.prefill("a", prefix)                  // P0 = 0, P1 = 1, cached
        try pool.allocateSlots(for: "b", writing: 0..<6)   // computed concurrently: 2, 3, 4
        let chain = BlockHashChain(tokens: longer, blockSize: 2, salt: .shared)
        // 2 and 3 duplicate P0 and P1 and stay private; 4 is cached as P1's child.
        #expect(pool.cacheFullBlocks(of: "b", tokens: longer, chain: chain, computedTokenCount: 6) == 1)
        pool.free("a")
        // Evictable: 0 (child 1) and 1 (child 4): no leaf. LRU picks 0.
        try pool.allocateSlots(for: "c", writing: 0..<4)
        #expect(pool.ids("c") == [5, 0])
        #expect(pool.consistencyProblem() == nil)
    }
}
