import TandemCore

/// Full KV blocks keyed by their chained content hash, so a new sequence can reuse the longest
/// cached prefix of its tokens (vLLM v1 automatic prefix caching).
///
/// The index also tracks, per hash, how many cached blocks name it as parent: a block with none
/// is a leaf, which is what prefix-aware eviction needs. Children are counted by parent *hash*,
/// not block id, so a chain stays consistent when a parent is evicted and later recomputed into
/// a different block.
///
/// Every hit is verified against the stored parent hash, token ids and extra keys. A parent is
/// known only by its hash, so hashes are SHA-256 (`BlockHash`): with a short hash, a collision
/// between two parents would splice one sequence's (or tenant's) chain under another's.
public struct PrefixIndex: Sendable {
    struct Entry: Sendable {
        var block: BlockID
        var parent: BlockHash?
        var tokens: [TokenID]
        var extraKeys: [String]
    }

    private var entries: [BlockHash: Entry] = [:]
    private var hashByBlock: [BlockID: BlockHash] = [:]
    private var childCounts: [BlockHash: Int] = [:]

    public init() {}

    /// Number of cached blocks.
    public var count: Int { entries.count }

    public func block(for hash: BlockHash) -> BlockID? { entries[hash]?.block }

    public func hash(of block: BlockID) -> BlockHash? { hashByBlock[block] }

    public func contains(_ block: BlockID) -> Bool { hashByBlock[block] != nil }

    /// Cached blocks whose parent hash is `hash` (whether or not `hash` itself is cached).
    public func childCount(of hash: BlockHash) -> Int { childCounts[hash, default: 0] }

    /// Whether `block` is cached and has no cached child.
    public func isLeaf(_ block: BlockID) -> Bool {
        guard let hash = hashByBlock[block] else { return false }
        return childCount(of: hash) == 0
    }

    /// The cached block holding the parent of `block`, if both are cached.
    public func parentBlock(of block: BlockID) -> BlockID? {
        guard let hash = hashByBlock[block], let parent = entries[hash]?.parent else { return nil }
        return entries[parent]?.block
    }

    /// The blocks of the longest cached prefix of `tokens`, in whole blocks. `chain` must hold the
    /// hashes of `tokens`' full blocks under the sequence's salt. Does not change refcounts.
    public func longestPrefix(of chain: BlockHashChain, tokens: [TokenID]) -> [BlockID] {
        var blocks: [BlockID] = []
        let size = chain.blockSize
        for (index, hash) in chain.hashes.enumerated() {
            guard let entry = entries[hash], (index + 1) * size <= tokens.count else { break }
            let expectedParent = index == 0 ? nil : chain.hashes[index - 1]
            guard entry.parent == expectedParent,
                  entry.extraKeys == chain.extraKeys(forBlock: index),
                  entry.tokens.elementsEqual(tokens[(index * size)..<((index + 1) * size)])
            else { break }
            blocks.append(entry.block)
        }
        return blocks
    }

    /// Caches `block` under `hash`. Returns false (and changes nothing) when the hash is already
    /// cached (a duplicate computed concurrently) or the block is already cached.
    @discardableResult
    public mutating func insert(block: BlockID, hash: BlockHash, parent: BlockHash?,
                                tokens: [TokenID], extraKeys: [String]) -> Bool {
        guard entries[hash] == nil, hashByBlock[block] == nil else { return false }
        entries[hash] = Entry(block: block, parent: parent, tokens: tokens, extraKeys: extraKeys)
        hashByBlock[block] = hash
        if let parent { childCounts[parent, default: 0] += 1 }
        return true
    }

    /// Drops `block` from the index; returns its parent hash (nil for a first block or a block
    /// that was not cached).
    @discardableResult
    public mutating func remove(block: BlockID) -> BlockHash? {
        guard let hash = hashByBlock.removeValue(forKey: block),
              let entry = entries.removeValue(forKey: hash) else { return nil }
        guard let parent = entry.parent else { return nil }
        let remaining = childCount(of: parent) - 1
        childCounts[parent] = remaining > 0 ? remaining : nil
        return parent
    }
}
