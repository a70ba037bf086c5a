/// The blocks that hold one sequence's K/V, in position order: token position `p` lives in
/// slot `p % blockSize` of block `blockIDs[p / blockSize]`.
public struct BlockTable: Hashable, Sendable {
    public let blockSize: Int
    public internal(set) var blockIDs: [BlockID]

    public init(blockSize: Int, blockIDs: [BlockID] = []) {
        self.blockSize = blockSize
        self.blockIDs = blockIDs
    }

    /// Token positions the table can hold.
    public var capacity: Int { blockIDs.count * blockSize }

    /// Where the K/V of `position` is stored; nil past the table's capacity.
    public func slot(forPosition position: Int) -> (block: BlockID, offset: Int)? {
        guard position >= 0, position < capacity else { return nil }
        return (blockIDs[position / blockSize], position % blockSize)
    }

    /// Blocks needed to hold `tokenCount` positions.
    public static func blocksNeeded(tokenCount: Int, blockSize: Int) -> Int {
        (max(0, tokenCount) + blockSize - 1) / blockSize
    }
}
