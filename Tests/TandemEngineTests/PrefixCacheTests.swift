import TandemCore
import TandemEngineCore
import Testing

@Suite("Prefix cache")
struct PrefixCacheTests {
    let tenantA = CacheSalt(tenant: "tenant-a")
    let tenantB = CacheSalt(tenant: "tenant-b")

    @Test func blockHashesAreDeterministicChainedAndSalted() {
        let chain = BlockHashChain(tokens: tokens(1...12), blockSize: 4, salt: tenantA)
        #expect(chain.hashes.count == 3)
        #expect(chain == BlockHashChain(tokens: tokens(1...12), blockSize: 4, salt: tenantA))
        // The same block after a different parent hashes differently.
        let other = BlockHashChain(tokens: tokens(101...104) + tokens(5...12), blockSize: 4, salt: tenantA)
        #expect(other.hashes[1] != chain.hashes[1])
        #expect(other.hashes[2] != chain.hashes[2])
        // The salt enters the first block, and through the chain every later one.
        let salted = BlockHashChain(tokens: tokens(1...12), blockSize: 4, salt: tenantB)
        #expect(zip(salted.hashes, chain.hashes).allSatisfy { $0 != $1 })
        // Stable across processes and machines: values computed independently (FNV-1a 64 over
        // tag byte, little-endian count and tokens, then MurmurHash3 fmix64).
        #expect(BlockHash(parent: nil, tokens: [1, 2, 3, 4], extraKeys: []).description == "f8bbbefddf401c66")
        #expect(chain.hashes[0] == BlockHash(parent: nil, tokens: [1, 2, 3, 4], extraKeys: ["tenant=tenant-a"]))
    }

    @Test func stableHasherIsFNV1aWithAFinalizer() {
        var hasher = StableHasher()
        hasher.combine(byte: UInt8(ascii: "a"))
        // FNV-1a("a") = 0xaf63dc4c8601ec8c (published test vector), then fmix64.
        #expect(hasher.finalize() == 0x82a2_a958_a9be_ce5b)
        #expect(StableHasher().finalize() == 0xefd0_1f60_ba99_2926)
    }

    @Test func chainsExtendIncrementallyOverFullBlocksOnly() {
        var chain = BlockHashChain(blockSize: 4, salt: .shared)
        chain.extend(with: tokens(1...3))
        #expect(chain.hashes.isEmpty)
        chain.extend(with: tokens(1...9))
        #expect(chain.hashes == BlockHashChain(tokens: tokens(1...8), blockSize: 4, salt: .shared).hashes)
    }

    @Test func identicalPromptsUnderDifferentTenantsShareNothing() throws {
        var pool = try makePool(blocks: 8)
        _ = try pool.prefill("a", tokens(1...12), salt: tenantA)
        _ = try pool.prefill("b", tokens(1...12), salt: tenantB)
        #expect(pool.ids("a") == [0, 1, 2])
        #expect(pool.ids("b") == [3, 4, 5])
        #expect(pool.refCounts([0, 1, 2, 3, 4, 5]) == [1, 1, 1, 1, 1, 1])
        #expect(pool.cachedBlockCount == 6)
    }

    @Test func theSameTenantReusesThePrefixAndTheHitBumpsRefcounts() throws {
        var pool = try makePool(blocks: 8)
        _ = try pool.prefill("a", tokens(1...12), salt: tenantA)
        let prompt = tokens(1...8) + tokens(50...53)
        let chain = BlockHashChain(tokens: prompt, blockSize: 4, salt: tenantA)
        let hit = pool.cachedPrefix(for: chain, tokens: prompt)
        #expect(hit == [0, 1])
        try pool.allocateSlots(for: "b", writing: 8..<12, cachedPrefix: hit)
        #expect(pool.ids("b") == [0, 1, 3])
        #expect(pool.refCounts([0, 1, 2, 3]) == [2, 2, 1, 1])
    }

    @Test func aRequestSaltNarrowsSharingWithinATenant() throws {
        var pool = try makePool(blocks: 8)
        let mine = CacheSalt(tenant: "tenant-a", request: "conversation-1")
        _ = try pool.prefill("a", tokens(1...8), salt: mine)
        let prompt = tokens(1...8)
        #expect(pool.cachedPrefix(for: BlockHashChain(tokens: prompt, blockSize: 4, salt: tenantA), tokens: prompt) == [])
        #expect(pool.cachedPrefix(for: BlockHashChain(tokens: prompt, blockSize: 4, salt: mine), tokens: prompt) == [0, 1])
    }

    @Test func lookupReturnsTheLongestCachedPrefixInWholeBlocks() throws {
        var pool = try makePool(blocks: 8)
        _ = try pool.prefill("a", tokens(1...10))
        #expect(pool.cachedBlockCount == 2)  // the partial third block is not cached
        func hit(_ prompt: [TokenID]) -> [BlockID] {
            pool.cachedPrefix(for: BlockHashChain(tokens: prompt, blockSize: 4, salt: .shared), tokens: prompt)
        }
        #expect(hit(tokens(1...7) + [99, 99, 99]) == [0])
        #expect(hit(tokens(1...8) + [99]) == [0, 1])
        #expect(hit(tokens(1...10)) == [0, 1])
        #expect(hit([99] + tokens(2...10)) == [])
    }

    @Test func aHashCollisionIsAMissNotAWrongBlock() {
        var index = PrefixIndex()
        let prompt = tokens(1...8)
        let chain = BlockHashChain(tokens: prompt, blockSize: 4, salt: .shared)
        // Another prefix's block stored under this chain's first hash, as a collision would.
        index.insert(block: 7, hash: chain.hashes[0], parent: nil, tokens: [9, 9, 9, 9], extraKeys: CacheSalt.shared.extraKeys)
        #expect(index.longestPrefix(of: chain, tokens: prompt) == [])
        // A block stored under the right hash but another tenant's keys is a miss too.
        var salted = PrefixIndex()
        salted.insert(block: 7, hash: chain.hashes[0], parent: nil, tokens: tokens(1...4), extraKeys: ["tenant=x"])
        #expect(salted.longestPrefix(of: chain, tokens: prompt) == [])
    }

    @Test func concurrentDuplicatesStayPrivateAndReturnToTheFreeList() throws {
        var pool = try makePool(blocks: 8)
        let prompt = tokens(1...8)
        let chain = BlockHashChain(tokens: prompt, blockSize: 4, salt: .shared)
        // Both computed before either was cached.
        try pool.allocateSlots(for: "a", writing: 0..<8)
        try pool.allocateSlots(for: "b", writing: 0..<8)
        #expect(pool.cacheFullBlocks(of: "a", tokens: prompt, chain: chain, computedTokenCount: 8) == 2)
        #expect(pool.cacheFullBlocks(of: "b", tokens: prompt, chain: chain, computedTokenCount: 8) == 0)
        pool.free("a")
        pool.free("b")
        #expect(pool.evictableBlockCount == 2)
        #expect(pool.freeBlockCount == 6)
        #expect(pool.cachedPrefix(for: chain, tokens: prompt) == [0, 1])
        #expect(pool.consistencyProblem() == nil)
    }

    @Test func onlyComputedFullBlocksAreCached() throws {
        var pool = try makePool(blocks: 8)
        let prompt = tokens(1...12)
        let chain = BlockHashChain(tokens: prompt, blockSize: 4, salt: .shared)
        try pool.allocateSlots(for: "a", writing: 0..<6)
        #expect(pool.cacheFullBlocks(of: "a", tokens: prompt, chain: chain, computedTokenCount: 6) == 1)
        try pool.allocateSlots(for: "a", writing: 6..<12)
        #expect(pool.cacheFullBlocks(of: "a", tokens: prompt, chain: chain, computedTokenCount: 12) == 2)
        #expect(pool.cachedBlockCount == 3)
    }
}
