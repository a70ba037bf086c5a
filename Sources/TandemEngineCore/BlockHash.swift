import TandemCore

/// The chained content hash of one full block: SHA-256 over (parent hash, the block's token ids,
/// extra keys), so equal hashes mean equal whole prefixes. The index also checks each hit's own
/// tokens and keys, but a block's parent is known only by its hash: with a 64-bit hash a collision
/// could splice one chain under another; SHA-256 makes that infeasible.
///
/// Hashed bytes: a tag (0 = first block, 1 = parent follows), the parent's 32 bytes, the token
/// count as little-endian UInt64, each token as little-endian Int32, the key count as UInt64, and
/// each key as its UTF-8 length (UInt64) and bytes.
public struct BlockHash: Hashable, Sendable, CustomStringConvertible {
    /// The digest as four big-endian words (bytes 0-7, 8-15, 16-23, 24-31).
    public let words: (UInt64, UInt64, UInt64, UInt64)

    public init(digest: [UInt8]) {
        precondition(digest.count == 32, "a block hash is 32 bytes")
        func word(_ i: Int) -> UInt64 { digest[(8 * i)..<(8 * i + 8)].reduce(0) { $0 << 8 | UInt64($1) } }
        words = (word(0), word(1), word(2), word(3))
    }

    /// Hashes one block. `parent` is nil for the first block of a sequence; `extraKeys` carry
    /// whatever else the K/V depends on (the cache salt for the first block).
    public init(parent: BlockHash?, tokens: ArraySlice<TokenID>, extraKeys: [String]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1 + 32 + 8 + 4 * tokens.count + 8)
        if let parent {
            bytes.append(1)
            bytes += parent.bytes
        } else {
            bytes.append(0)
        }
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        le(UInt64(tokens.count))
        for token in tokens { le(token) }
        le(UInt64(extraKeys.count))
        for key in extraKeys {
            le(UInt64(key.utf8.count))
            bytes += key.utf8
        }
        self.init(digest: SHA256.hash(bytes))
    }

    /// The 32 digest bytes.
    public var bytes: [UInt8] {
        [words.0, words.1, words.2, words.3].flatMap { w in (0..<8).map { UInt8(truncatingIfNeeded: w >> (56 - 8 * UInt64($0))) } }
    }

    public static func == (a: BlockHash, b: BlockHash) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    public var description: String {
        bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }
}
