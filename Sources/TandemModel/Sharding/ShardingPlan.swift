import TandemCore

/// What one tensor-parallel rank owns of every layer (Megatron-style).
///
/// Attention is split by KV-head groups so each rank's query heads find their K/V locally:
/// Q/K/V rows (column-parallel) and the matching O input columns (row-parallel). The MLP is
/// split by FFN columns: gate/up rows and down input columns. The output head is split by
/// vocabulary rows and the logits gathered. Norms and the embedding are replicated.
public struct ShardSpec: Sendable, Equatable, Codable {
    public var rank: Int
    public var kvHeads: Range<Int>
    public var queryHeads: Range<Int>
    public var ffnColumns: Range<Int>
    public var vocabRows: Range<Int>
    /// Weight bytes this rank holds (its slices plus the replicated embedding and norms).
    public var weightBytes: Int
}

/// Why a model cannot be split over the requested ranks.
public struct ShardingError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public var description: String { message }
}

/// The sharding of a model over N ranks: a value, computed from the configuration alone,
/// printed by `tandem plan` and tested without a network.
public struct ShardingPlan: Sendable, Equatable, Codable {
    public var ranks: Int
    public var shards: [ShardSpec]

    /// Splits `config` over `ranks`; uneven splits give the earlier ranks the extra unit
    /// (SmolLM2's 3 KV heads over 2 ranks: 2 and 1). FFN columns and vocabulary rows are split
    /// on multiples of `alignment` (a quantisation block) so every slice stays whole blocks.
    /// Attention output (`attn_output`) columns follow the KV-head split, so each rank's first
    /// and last query-head column must be multiples of `attentionAlignment` (the attn_output
    /// block, e.g. 256 for the K-quants); a split that would cut a block is refused.
    /// `bytesPerElement` estimates weight bytes (e.g. 0.625 for Q4_1).
    public static func make(_ config: ModelConfiguration, ranks: Int, alignment: Int = 32,
                            attentionAlignment: Int = 1, bytesPerElement: Double = 4) throws -> ShardingPlan {
        guard ranks >= 1 else { throw ShardingError(message: "need at least one rank (got \(ranks))") }
        guard ranks <= config.kvHeadCount else {
            throw ShardingError(message: "cannot split \(config.kvHeadCount) KV heads over \(ranks) ranks: attention is split by KV-head groups, so tensor-parallel size must be at most \(config.kvHeadCount)")
        }
        let alignment = ranks == 1 ? 1 : alignment
        guard config.hiddenDim % alignment == 0, config.hiddenDim / alignment >= ranks else {
            throw ShardingError(message: "FFN width \(config.hiddenDim) cannot be split into \(ranks) slices of whole \(alignment)-value blocks")
        }
        let kv = split(config.kvHeadCount, into: ranks, unit: 1)
        let ffn = split(config.hiddenDim / alignment, into: ranks, unit: 1).map { ($0.lowerBound * alignment)..<($0.upperBound * alignment) }
        let vocab = split(config.vocabSize, into: ranks, unit: 1)
        let q = config.queriesPerKVHead
        let hd = config.headDim
        if ranks > 1, attentionAlignment > 1,
           let bad = kv.first(where: { ($0.lowerBound * q * hd) % attentionAlignment != 0 || ($0.upperBound * q * hd) % attentionAlignment != 0 }) {
            let cols = (bad.lowerBound * q * hd)..<(bad.upperBound * q * hd)
            throw ShardingError(message: "attn_output cannot be split over \(ranks) ranks: a rank's query-head columns \(cols.lowerBound)..<\(cols.upperBound) (KV heads \(bad.lowerBound)..<\(bad.upperBound), \(q * hd) columns per KV head) are not whole \(attentionAlignment)-value blocks of its quantisation; use fewer ranks or re-quantise at load (--weights f32, fp8, nvfp4 or mxfp4)")
        }
        let d = config.dim
        var shards: [ShardSpec] = []
        for r in 0..<ranks {
            let heads = (kv[r].lowerBound * q)..<(kv[r].upperBound * q)
            var elements = 0
            elements += heads.count * hd * d * 2          // wq rows + wo columns
            elements += kv[r].count * hd * d * 2          // wk, wv rows
            elements += ffn[r].count * d * 3              // gate, up rows + down columns
            elements *= config.layerCount
            elements += config.vocabSize * d               // embedding (replicated)
            if !config.tiedEmbeddings { elements += vocab[r].count * d }
            let norms = (config.layerCount * 2 + 1) * d * 4
            shards.append(ShardSpec(rank: r, kvHeads: kv[r], queryHeads: heads, ffnColumns: ffn[r],
                                    vocabRows: vocab[r], weightBytes: Int(Double(elements) * bytesPerElement) + norms))
        }
        return ShardingPlan(ranks: ranks, shards: shards)
    }

    /// The plan for `model`, aligned to its quantisation blocks and with its real weight bytes.
    public static func make(model: LlamaModel, ranks: Int) throws -> ShardingPlan {
        let layers = model.weights.layers
        let alignment = layers.map { max($0.down.dtype.blockSize, $0.wo.dtype.blockSize) }.max() ?? 1
        let attentionAlignment = layers.map(\.wo.dtype.blockSize).max() ?? 1
        let elements = layers.reduce(0) { $0 + $1.wq.rows * $1.wq.cols * 2 + $1.wk.rows * $1.wk.cols * 2 + $1.gate.rows * $1.gate.cols * 3 }
        let bytes = layers.reduce(0) { $0 + $1.wq.byteCount + $1.wo.byteCount + $1.wk.byteCount + $1.wv.byteCount + $1.gate.byteCount + $1.up.byteCount + $1.down.byteCount }
        return try make(model.configuration, ranks: ranks, alignment: alignment, attentionAlignment: attentionAlignment,
                        bytesPerElement: elements > 0 ? Double(bytes) / Double(elements) : 4)
    }

    /// `count` units over `parts`, earlier parts one larger when uneven.
    static func split(_ count: Int, into parts: Int, unit: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        for p in 0..<parts {
            let n = count / parts + (p < count % parts ? 1 : 0)
            out.append(start..<(start + n))
            start += n
        }
        return out
    }

    /// A table for people: one line per rank.
    public func describe(_ config: ModelConfiguration) -> String {
        var s = "tensor-parallel plan: \(ranks) rank(s); \(config.layerCount) layers, \(config.headCount) query heads, \(config.kvHeadCount) KV heads, FFN \(config.hiddenDim), vocab \(config.vocabSize)\n"
        s += "rank  kv heads  query heads  ffn columns   vocab rows      weight MiB\n"
        for sh in shards {
            func r(_ x: Range<Int>) -> String { "\(x.lowerBound)..<\(x.upperBound)" }
            let mib = Double(sh.weightBytes) / 1_048_576
            s += "\(sh.rank)".padding(6) + r(sh.kvHeads).padding(10) + r(sh.queryHeads).padding(13)
                + r(sh.ffnColumns).padding(14) + r(sh.vocabRows).padding(16) + String(Int(mib.rounded())) + "\n"
        }
        s += "per layer: 2 all-reduces of \(config.dim) floats per token (\(config.dim * 4 * 2 * config.layerCount) bytes/token/rank over \(config.layerCount) layers)"
        return s
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
