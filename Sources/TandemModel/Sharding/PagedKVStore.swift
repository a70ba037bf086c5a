import TandemKernels

/// Worker-side K/V storage for one rank's KV heads, in fixed-size blocks whose ids the
/// coordinator's block manager hands out (every rank stores the same block ids).
public final class PagedKVStore: @unchecked Sendable {
    public let blockCount: Int
    public let blockSize: Int
    /// Floats per token per layer (this rank's KV heads × head_dim).
    public let tokenStride: Int
    let keys: [FloatBuffer]    // per layer (blocks, block_size, token_stride)
    let values: [FloatBuffer]  // per layer (blocks, block_size, token_stride)

    public init(layers: Int, blockCount: Int, blockSize: Int, tokenStride: Int) {
        self.blockCount = blockCount
        self.blockSize = blockSize
        self.tokenStride = tokenStride
        let n = blockCount * blockSize * tokenStride
        keys = (0..<layers).map { _ in FloatBuffer(count: n, zeroed: false) }
        values = (0..<layers).map { _ in FloatBuffer(count: n, zeroed: false) }
    }

    /// Bytes of K/V one token takes on this rank across all layers.
    public static func bytesPerToken(layers: Int, tokenStride: Int) -> Int { layers * tokenStride * 4 * 2 }

    /// Blocks that fit in `budgetBytes`.
    public static func blocks(budgetBytes: Int, layers: Int, blockSize: Int, tokenStride: Int) -> Int {
        budgetBytes / max(1, bytesPerToken(layers: layers, tokenStride: tokenStride) * blockSize)
    }

    /// Where position `position` of a sequence with `blockTable` lives (in floats, per layer).
    @inline(__always)
    func slotOffset(_ position: Int, _ blockTable: [Int32]) -> Int {
        (Int(blockTable[position / blockSize]) * blockSize + position % blockSize) * tokenStride
    }

    /// Copy-on-write: block `src` → block `dst` in every layer.
    public func copyBlock(from src: Int, to dst: Int) {
        let n = blockSize * tokenStride
        for l in keys.indices {
            (keys[l].pointer + dst * n).update(from: keys[l].pointer + src * n, count: n)
            (values[l].pointer + dst * n).update(from: values[l].pointer + src * n, count: n)
        }
    }
}
