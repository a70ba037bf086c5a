import TandemCore

/// The chained hashes of a token sequence's full blocks, extended incrementally as tokens are
/// appended (each block hashed once).
///
/// `hashes[i] = BlockHash(parent: hashes[i-1], tokens: block i, extraKeys: i == 0 ? salt : [])`.
public struct BlockHashChain: Hashable, Sendable {
    public let blockSize: Int
    public let salt: CacheSalt
    public private(set) var hashes: [BlockHash] = []

    public init(blockSize: Int, salt: CacheSalt) {
        self.blockSize = blockSize
        self.salt = salt
    }

    public init(tokens: [TokenID], blockSize: Int, salt: CacheSalt) {
        self.init(blockSize: blockSize, salt: salt)
        extend(with: tokens)
    }

    /// Extra keys of block `index`.
    public func extraKeys(forBlock index: Int) -> [String] {
        index == 0 ? salt.extraKeys : []
    }

    /// Hashes every full block of `tokens` not hashed yet. `tokens` must extend the tokens seen
    /// by earlier calls.
    public mutating func extend(with tokens: [TokenID]) {
        let fullBlocks = tokens.count / blockSize
        while hashes.count < fullBlocks {
            let index = hashes.count
            let slice = tokens[(index * blockSize)..<((index + 1) * blockSize)]
            hashes.append(BlockHash(parent: hashes.last, tokens: slice, extraKeys: extraKeys(forBlock: index)))
        }
    }
}
