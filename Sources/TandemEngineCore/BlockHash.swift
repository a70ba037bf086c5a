import TandemCore

/// The chained content hash of one full block: `hash(parent hash, the block's token ids, extra
/// keys)`, so equal hashes mean equal whole prefixes (up to collisions, which the index checks).
public struct BlockHash: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Hashes one block. `parent` is nil for the first block of a sequence; `extraKeys` carry
    /// whatever else the K/V depends on (the cache salt for the first block).
    public init(parent: BlockHash?, tokens: ArraySlice<TokenID>, extraKeys: [String]) {
        var hasher = StableHasher()
        // A tag byte keeps "no parent" distinct from any parent value.
        if let parent {
            hasher.combine(byte: 1)
            hasher.combine(parent.rawValue)
        } else {
            hasher.combine(byte: 0)
        }
        hasher.combine(UInt64(tokens.count))
        for token in tokens { hasher.combine(token) }
        hasher.combine(UInt64(extraKeys.count))
        for key in extraKeys { hasher.combine(key) }
        rawValue = hasher.finalize()
    }

    public var description: String {
        let hex = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
