import TandemCore
import TandemKernels

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
    /// MoE models: the experts this rank holds, the columns it holds of each, and its columns of
    /// the shared expert (empty for dense models).
    public var experts: Range<Int> = 0..<0
    public var expertColumns: Range<Int> = 0..<0
    public var sharedExpertColumns: Range<Int> = 0..<0
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
    /// How the experts are split (MoE models).
    public var expertParallelism: ExpertParallelism = .tensor

    /// Splits `config` over `ranks`; uneven splits give the earlier ranks the extra unit
    /// (SmolLM2's 3 KV heads over 2 ranks: 2 and 1). FFN columns and vocabulary rows are split
    /// on multiples of `alignment` (a quantisation block) so every slice stays whole blocks.
    /// Attention output (`attn_output`) columns follow the KV-head split, so each rank's first
    /// and last query-head column must be multiples of `attentionAlignment` (the attn_output
    /// block, e.g. 256 for the K-quants); a split that would cut a block is refused.
    /// `bytesPerElement` estimates weight bytes (e.g. 0.625 for Q4_1).
    /// MoE models split their experts as `experts` says: each expert's columns as the dense FFN's
    /// (`tensor`), or whole experts, the earlier ranks one more when uneven (`expert`).
    public static func make(_ config: ModelConfiguration, ranks: Int, alignment: Int = 32,
                            attentionAlignment: Int = 1, bytesPerElement: Double = 4,
                            experts parallelism: ExpertParallelism = .tensor) throws -> ShardingPlan {
        guard ranks >= 1 else { throw ShardingError(message: "need at least one rank (got \(ranks))") }
        guard ranks <= config.kvHeadCount else {
            throw ShardingError(message: "cannot split \(config.kvHeadCount) KV heads over \(ranks) ranks: attention is split by KV-head groups, so tensor-parallel size must be at most \(config.kvHeadCount)")
        }
        let alignment = ranks == 1 ? 1 : alignment
        func columns(_ width: Int, _ what: String) throws -> [Range<Int>] {
            guard width % alignment == 0, width / alignment >= ranks else {
                throw ShardingError(message: "\(what) \(width) cannot be split into \(ranks) slices of whole \(alignment)-value blocks")
            }
            return split(width / alignment, into: ranks, unit: 1).map { ($0.lowerBound * alignment)..<($0.upperBound * alignment) }
        }
        let moe = config.experts
        // An MoE model's layers have no dense FFN, unless experts skip layers (Llama 4 Maverick).
        let denseLayers = moe == nil ? config.layerCount : (0..<config.layerCount).filter { !moe!.isExpertLayer($0) }.count
        let expertLayers = config.layerCount - denseLayers
        let ffn = denseLayers > 0 ? try columns(config.hiddenDim, "FFN width") : [Range<Int>](repeating: 0..<0, count: ranks)
        var expertIDs = [Range<Int>](repeating: 0..<0, count: ranks)
        var expertColumns = expertIDs, sharedColumns = expertIDs
        if let e = moe {
            switch parallelism {
            case .tensor:
                expertIDs = [Range<Int>](repeating: 0..<e.count, count: ranks)
                expertColumns = try columns(e.hiddenDim, "expert FFN width")
            case .expert:
                guard e.count >= ranks else {
                    throw ShardingError(message: "cannot place \(e.count) experts on \(ranks) ranks: expert parallelism gives every rank at least one; use parallel: tensor")
                }
                expertIDs = split(e.count, into: ranks, unit: 1)
                expertColumns = [Range<Int>](repeating: 0..<e.hiddenDim, count: ranks)
            }
            if e.sharedHiddenDim > 0 { sharedColumns = try columns(e.sharedHiddenDim, "shared expert FFN width") }
        }
        let kv = split(config.kvHeadCount, into: ranks, unit: 1)
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
            var perLayer = 0
            perLayer += heads.count * hd * d * 2          // wq rows + wo columns
            perLayer += kv[r].count * hd * d * 2          // wk, wv rows
            var elements = perLayer * config.layerCount
            elements += ffn[r].count * d * 3 * denseLayers // gate, up rows + down columns
            if let e = moe {
                var expert = e.count * d                   // router (replicated)
                expert += expertIDs[r].count * expertColumns[r].count * d * 3
                expert += sharedColumns[r].count * d * 3 + (e.sharedGated ? d : 0)
                elements += expert * expertLayers
            }
            elements += config.vocabSize * d               // embedding (replicated)
            if !config.tiedEmbeddings { elements += vocab[r].count * d }
            let norms = (config.layerCount * 2 + 1) * d * 4
            shards.append(ShardSpec(rank: r, kvHeads: kv[r], queryHeads: heads, ffnColumns: ffn[r],
                                    vocabRows: vocab[r], weightBytes: Int(Double(elements) * bytesPerElement) + norms,
                                    experts: expertIDs[r], expertColumns: expertColumns[r], sharedExpertColumns: sharedColumns[r]))
        }
        return ShardingPlan(ranks: ranks, shards: shards, expertParallelism: moe == nil ? .tensor : parallelism)
    }

    /// The plan for `model`, aligned to its quantisation blocks and with its real weight bytes.
    public static func make(model: LlamaModel, ranks: Int, experts parallelism: ExpertParallelism = .tensor) throws -> ShardingPlan {
        let layers = model.weights.layers
        func expertMatrices(_ l: LlamaLayerWeights) -> [WeightMatrix] {
            guard let e = l.experts else { return [] }
            return [e.router] + e.gate + e.up + e.down + [e.sharedGate, e.sharedUp, e.sharedDown].compactMap { $0 }
        }
        // Column slices (down projections, attn_output) must be whole blocks.
        let alignment = layers.map { l in
            ([l.down, l.wo] + (l.experts.map { $0.down + [$0.sharedDown].compactMap { $0 } } ?? [])).map(\.dtype.blockSize).max() ?? 1
        }.max() ?? 1
        let attentionAlignment = layers.map(\.wo.dtype.blockSize).max() ?? 1
        let matrices = layers.flatMap { [$0.wq, $0.wk, $0.wv, $0.wo, $0.gate, $0.up, $0.down] + expertMatrices($0) }
        let elements = matrices.reduce(0) { $0 + $1.rows * $1.cols }
        let bytes = matrices.reduce(0) { $0 + $1.byteCount }
        return try make(model.configuration, ranks: ranks, alignment: alignment, attentionAlignment: attentionAlignment,
                        bytesPerElement: elements > 0 ? Double(bytes) / Double(elements) : 4, experts: parallelism)
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
        let ffn = config.experts.map { $0.layerStep > 1 ? "FFN \(config.hiddenDim) between the expert layers" : "FFN: experts" }
            ?? "FFN \(config.hiddenDim)"
        var s = "tensor-parallel plan: \(ranks) rank(s); \(config.layerCount) layers, \(config.headCount) query heads, \(config.kvHeadCount) KV heads, \(ffn), vocab \(config.vocabSize)\n"
        s += "rank  kv heads  query heads  ffn columns   vocab rows      weight MiB\n"
        for sh in shards {
            func r(_ x: Range<Int>) -> String { "\(x.lowerBound)..<\(x.upperBound)" }
            let mib = Double(sh.weightBytes) / 1_048_576
            s += "\(sh.rank)".padding(6) + r(sh.kvHeads).padding(10) + r(sh.queryHeads).padding(13)
                + r(sh.ffnColumns).padding(14) + r(sh.vocabRows).padding(16) + String(Int(mib.rounded())) + "\n"
        }
        if let e = config.experts {
            let layers = e.layerStep > 1 ? " on one layer in \(e.layerStep)" : ""
            s += "experts (\(expertParallelism.rawValue)-parallel): \(e.count) per layer\(layers), \(e.perToken) per token, FFN \(e.hiddenDim) each"
            s += e.sharedHiddenDim > 0 ? "; shared expert FFN \(e.sharedHiddenDim)\n" : "\n"
            s += "rank  experts     expert columns  shared columns\n"
            for sh in shards {
                func r(_ x: Range<Int>) -> String { "\(x.lowerBound)..<\(x.upperBound)" }
                s += "\(sh.rank)".padding(6) + r(sh.experts).padding(12) + r(sh.expertColumns).padding(16)
                    + (e.sharedHiddenDim > 0 ? r(sh.sharedExpertColumns) : "-") + "\n"
            }
        }
        s += "per layer: 2 all-reduces of \(config.dim) floats per token (\(config.dim * 4 * 2 * config.layerCount) bytes/token/rank over \(config.layerCount) layers)"
        return s
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
