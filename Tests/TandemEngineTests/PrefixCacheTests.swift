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
        #expect(chain.hashes[0] == BlockHash(parent: nil, tokens: [1, 2, 3, 4], extraKeys: ["tenant=tenant-a"]))
    }

    /// Values from Python's hashlib over the layout BlockHash documents:
    /// `sha256(b"\x00" + pack("<Q", 4) + pack("<4i", 1, 2, 3, 4) + pack("<Q", 0))`, then with
    /// `b"\x01" + that digest` as the parent of tokens 5...8, and with the key "tenant=tenant-a".
    @Test func blockHashesAreSHA256OfTheDocumentedLayout() {
        let first = BlockHash(parent: nil, tokens: [1, 2, 3, 4], extraKeys: [])
        #expect(first.description == "78d7550c2c0046dd279238b181e11a166be051b176d3e54278b0e1790393f4c6")
        #expect(BlockHash(parent: first, tokens: [5, 6, 7, 8], extraKeys: []).description
                == "542c9655c7b4fd977c429df0603849b3fd1fbd3b34705a86f8cc1cbdb980f79b")
        #expect(BlockHash(parent: nil, tokens: [1, 2, 3, 4], extraKeys: ["tenant=tenant-a"]).description
                == "b439b057bbc2ddb5de209c1ac5cc6d005a40091b5342d5f5a809f13c3e1473e8")
        #expect(BlockHash(digest: first.bytes) == first)
    }

    @Test func sha256MatchesPublishedVectors() {
        func hex(_ b: [UInt8]) -> String { b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
        // FIPS 180-4 examples, and a multi-block message (hashlib.sha256(b"a" * 1000)).
        #expect(hex(SHA256.hash([UInt8]())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(SHA256.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1000)))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
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
