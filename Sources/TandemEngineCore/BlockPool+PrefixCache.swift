import TandemCore

/// Prefix caching on top of the pool: lookups and registration of full blocks.
extension BlockPool {
    /// The longest cached prefix of `tokens` (whole blocks), for `allocateSlots(cachedPrefix:)`.
    /// Read-only: refcounts change only when the prefix is attached.
    public func cachedPrefix(for chain: BlockHashChain, tokens: [TokenID]) -> [BlockID] {
        guard chain.blockSize == blockSize else { return [] }
        return index.longestPrefix(of: chain, tokens: tokens)
    }

    /// Offers the blocks of `sequence` that are full and computed (the first
    /// `computedTokenCount / blockSize`) to the prefix index; call after the step that wrote them.
    /// A block whose hash is already cached (the same prefix computed concurrently) stays
    /// private. Returns how many blocks were newly cached.
    @discardableResult
    public mutating func cacheFullBlocks(of sequence: RequestID, tokens: [TokenID], chain: BlockHashChain,
                                         computedTokenCount: Int) -> Int {
        guard var entry = sequences[sequence], chain.blockSize == blockSize else { return 0 }
        let fullBlocks = min(min(computedTokenCount, tokens.count) / blockSize,
                             entry.table.blockIDs.count, chain.hashes.count)
        guard fullBlocks > entry.registeredBlockCount else { return 0 }
        var added = 0
        for position in entry.registeredBlockCount..<fullBlocks {
            let block = entry.table.blockIDs[position]
            let parent = position == 0 ? nil : chain.hashes[position - 1]
            let blockTokens = Array(tokens[(position * blockSize)..<((position + 1) * blockSize)])
            guard index.insert(block: block, hash: chain.hashes[position], parent: parent,
                               tokens: blockTokens, extraKeys: chain.extraKeys(forBlock: position)) else { continue }
            added += 1
            evictable.setLeaf(block.rawValue, index.isLeaf(block))
            if let parent, let parentBlock = index.block(for: parent) {
                evictable.setLeaf(parentBlock.rawValue, false)
            }
        }
        entry.registeredBlockCount = fullBlocks
        sequences[sequence] = entry
        return added
    }
}
