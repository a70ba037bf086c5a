import CTandemKernels
import TandemCore
import TandemKernels

/// Worker-side K/V storage for one rank's KV heads, in fixed-size blocks whose ids the
/// coordinator's block manager hands out (every rank stores the same block ids).
///
/// `dtype` `.f32` keeps K and V as written; `.fp8` quantises each (token, KV head) vector to E4M3
/// codes with one FP32 scale when it is written (`KVCacheDType` says why per vector), and the
/// attention kernel dequantises on the fly. The scales sit in a plane beside the codes, indexed by
/// the same (block, slot), so copy-on-write copies a block's codes and scales together and the
/// SIMD loads of a head's codes stay contiguous.
public final class PagedKVStore: @unchecked Sendable {
    public let dtype: KVCacheDType
    public let blockCount: Int
    public let blockSize: Int
    public let headDim: Int
    /// This rank's KV heads.
    public let kvHeads: Int
    /// Values per token per layer (kvHeads × headDim).
    public var tokenStride: Int { kvHeads * headDim }
    let keys: [KVPages]    // per layer
    let values: [KVPages]  // per layer

    public init(layers: Int, blockCount: Int, blockSize: Int, kvHeads: Int, headDim: Int, dtype: KVCacheDType = .f32) {
        self.dtype = dtype
        self.blockCount = blockCount
        self.blockSize = blockSize
        self.kvHeads = kvHeads
        self.headDim = headDim
        let slots = blockCount * blockSize
        func pages() -> KVPages {
            switch dtype {
            case .f32: .f32(FloatBuffer(count: slots * kvHeads * headDim, zeroed: false))
            case .fp8: .fp8(codes: KVCodeBuffer(count: slots * kvHeads * headDim), scales: FloatBuffer(count: slots * kvHeads, zeroed: false))
            }
        }
        keys = (0..<layers).map { _ in pages() }
        values = (0..<layers).map { _ in pages() }
    }

    /// Bytes of K/V one token takes on a rank with `kvHeads` KV heads, across all layers.
    public static func bytesPerToken(layers: Int, kvHeads: Int, headDim: Int, dtype: KVCacheDType) -> Int {
        layers * 2 * kvHeads * dtype.bytesPerVector(headDim: headDim)
    }

    /// Blocks that fit in `budgetBytes`.
    public static func blocks(budgetBytes: Int, layers: Int, blockSize: Int, kvHeads: Int, headDim: Int, dtype: KVCacheDType) -> Int {
        budgetBytes / max(1, bytesPerToken(layers: layers, kvHeads: kvHeads, headDim: headDim, dtype: dtype) * blockSize)
    }

    /// The slot (block × block_size + offset) of position `position` of a sequence with `blockTable`.
    @inline(__always)
    func slot(_ position: Int, _ blockTable: [Int32]) -> Int {
        Int(blockTable[position / blockSize]) * blockSize + position % blockSize
    }

    /// Writes one token's K and V (tokenStride values each, RoPE already applied to K) of `layer`
    /// into `slot`, quantising them when the store is FP8.
    func write(layer: Int, slot: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        write(k, into: keys[layer], slot: slot)
        write(v, into: values[layer], slot: slot)
    }

    private func write(_ src: UnsafePointer<Float>, into pages: KVPages, slot: Int) {
        switch pages {
        case .f32(let b):
            (b.pointer + slot * tokenStride).update(from: src, count: tokenStride)
        case .fp8(let codes, let scales):
            tk_quantize_vectors_fp8_e4m3(src, codes.pointer + slot * tokenStride, scales.pointer + slot * kvHeads,
                                         Int64(kvHeads), Int64(headDim))
        }
    }

    /// Attention of every (token, query head) pair of a step over `layer` (`tk_attention_step_mt`
    /// or its FP8 sibling). q and out are (tokens, qStride); token t attends to positions
    /// 0...positions[t] through the block table at tables + tableOffset[t]. Returns the kernel status.
    func attend(layer: Int, out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, tables: UnsafePointer<Int32>,
                tableOffset: UnsafePointer<Int64>, positions: UnsafePointer<Int64>, tokens: Int, heads: Int,
                queriesPerKVHead: Int, qStride: Int, window: Int = 0, softcap: Float = 0,
                sinks: UnsafePointer<Float>? = nil, chunk: Int = 0) -> Int32 {
        switch (keys[layer], values[layer]) {
        case (.f32(let k), .f32(let v)):
            var s = tk_attention_step(out: out, q: q, k_base: k.pointer, v_base: v.pointer, tables: tables,
                                      table_offset: tableOffset, positions: positions, tokens: Int64(tokens),
                                      heads: Int64(heads), q_per_kv: Int64(queriesPerKVHead), head_dim: Int64(headDim),
                                      q_stride: Int64(qStride), block_size: Int64(blockSize), token_stride: Int64(tokenStride),
                                      window: Int64(window), softcap: softcap, sinks: sinks, chunk: Int64(chunk))
            return tk_attention_step_mt(&s)
        case (.fp8(let kc, let ks), .fp8(let vc, let vs)):
            var s = tk_attention_step_fp8(out: out, q: q, k_codes: kc.pointer, v_codes: vc.pointer, k_scales: ks.pointer,
                                          v_scales: vs.pointer, tables: tables, table_offset: tableOffset,
                                          positions: positions, tokens: Int64(tokens), heads: Int64(heads),
                                          q_per_kv: Int64(queriesPerKVHead), head_dim: Int64(headDim),
                                          q_stride: Int64(qStride), block_size: Int64(blockSize),
                                          token_stride: Int64(tokenStride), scale_stride: Int64(kvHeads),
                                          window: Int64(window), softcap: softcap, sinks: sinks, chunk: Int64(chunk))
            return tk_attention_step_fp8_mt(&s)
        default:
            return -1
        }
    }

    /// Copy-on-write: block `src` → block `dst` in every layer (codes and scales alike).
    public func copyBlock(from src: Int, to dst: Int) {
        let n = blockSize * tokenStride, ns = blockSize * kvHeads
        for pages in keys + values {
            switch pages {
            case .f32(let b):
                (b.pointer + dst * n).update(from: b.pointer + src * n, count: n)
            case .fp8(let codes, let scales):
                (codes.pointer + dst * n).update(from: codes.pointer + src * n, count: n)
                (scales.pointer + dst * ns).update(from: scales.pointer + src * ns, count: ns)
            }
        }
    }
}

/// One layer's K (or V) pages in the store's dtype.
enum KVPages {
    /// (blocks, block_size, kv_heads, head_dim) f32.
    case f32(FloatBuffer)
    /// codes (blocks, block_size, kv_heads, head_dim) E4M3; scales (blocks, block_size, kv_heads) f32.
    case fp8(codes: KVCodeBuffer, scales: FloatBuffer)
}

/// Bytes of FP8 codes, allocated once and freed with the store.
final class KVCodeBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<UInt8>

    init(count: Int) {
        pointer = .allocate(capacity: max(count, 1))
    }

    deinit { pointer.deallocate() }
}
