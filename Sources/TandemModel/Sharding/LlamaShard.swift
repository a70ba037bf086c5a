import TandemCore
import TandemKernels

/// The weights one tensor-parallel rank holds: its row slices (mapped from the checkpoint,
/// no copy) and its column slices (copied, since a column slice of a row-major matrix is
/// strided). Norms and the embedding are shared by every rank.
public struct LlamaShard: Sendable {
    public let configuration: ModelConfiguration
    public let spec: ShardSpec
    public let layers: [LlamaLayerWeights]
    public let tokenEmbedding: WeightMatrix
    public let finalNorm: [Float]
    /// Output rows `spec.vocabRows`.
    public let output: WeightMatrix

    public var localQueryDim: Int { spec.queryHeads.count * configuration.headDim }
    public var localKVDim: Int { spec.kvHeads.count * configuration.headDim }
    public var localFFN: Int { spec.ffnColumns.count }

    /// Slices `model` for `spec`. With one rank the model's own matrices are used unchanged.
    public init(model: LlamaModel, spec: ShardSpec) throws {
        let c = model.configuration
        configuration = c
        self.spec = spec
        let hd = c.headDim
        let dense = c.experts.map { e in (0..<c.layerCount).contains { !e.isExpertLayer($0) } } ?? true
        let whole = spec.kvHeads == 0..<c.kvHeadCount && (!dense || spec.ffnColumns == 0..<c.hiddenDim)
            && (c.experts.map { spec.experts == 0..<$0.count && spec.expertColumns == 0..<$0.hiddenDim
                && spec.sharedExpertColumns == 0..<$0.sharedHiddenDim } ?? true)
        let qRows = (spec.queryHeads.lowerBound * hd)..<(spec.queryHeads.upperBound * hd)
        let kvRows = (spec.kvHeads.lowerBound * hd)..<(spec.kvHeads.upperBound * hd)
        func columns(_ m: WeightMatrix, _ r: Range<Int>, _ what: String) throws -> WeightMatrix {
            guard let s = m.copyingColumns(r) else {
                throw ShardingError(message: "\(what): columns \(r) of a \(m.dtype) matrix are not whole \(m.dtype.blockSize)-value blocks")
            }
            // The copy read every page of the mapped matrix; give the pages back so this rank's
            // resident memory holds only its share.
            if let file = m.owner as? MappedFile {
                file.release(offset: m.base - file.base, count: m.byteCount)
            }
            return s
        }
        layers = try model.weights.layers.enumerated().map { l, w in
            if whole { return w }
            var experts: ExpertLayerWeights?
            if let e = w.experts {
                let held = spec.experts.map { $0 - e.ids.lowerBound }
                var s = ExpertLayerWeights(
                    router: e.router, ids: spec.experts,
                    gate: held.map { e.gate[$0].slicingRows(spec.expertColumns) },
                    up: held.map { e.up[$0].slicingRows(spec.expertColumns) },
                    down: try held.map { i in
                        spec.expertColumns.count == e.down[i].cols ? e.down[i] : try columns(e.down[i], spec.expertColumns, "layer \(l) expert \(i + e.ids.lowerBound) ffn_down")
                    })
                s.routerBias = e.routerBias
                s.gateBias = e.gateBias.map { b in held.map { Array(b[$0][spec.expertColumns]) } }
                s.upBias = e.upBias.map { b in held.map { Array(b[$0][spec.expertColumns]) } }
                s.downBias = e.downBias.map { b in held.map { b[$0] } }
                // Column slices add up across ranks: the down bias once, on the first slice.
                s.addsDownBias = spec.expertColumns.lowerBound == 0
                if let g = e.sharedGate, let u = e.sharedUp, let d = e.sharedDown {
                    s.sharedGate = g.slicingRows(spec.sharedExpertColumns)
                    s.sharedUp = u.slicingRows(spec.sharedExpertColumns)
                    s.sharedDown = try columns(d, spec.sharedExpertColumns, "layer \(l) shared expert ffn_down")
                    s.sharedGateInput = e.sharedGateInput
                }
                experts = s
            }
            return LlamaLayerWeights(
                attentionNorm: w.attentionNorm,
                wq: w.wq.slicingRows(qRows), wk: w.wk.slicingRows(kvRows), wv: w.wv.slicingRows(kvRows),
                wo: try columns(w.wo, qRows, "layer \(l) attn_output"),
                ffnNorm: w.ffnNorm,
                gate: experts == nil ? w.gate.slicingRows(spec.ffnColumns) : w.gate,
                down: experts == nil ? try columns(w.down, spec.ffnColumns, "layer \(l) ffn_down") : w.down,
                up: experts == nil ? w.up.slicingRows(spec.ffnColumns) : w.up,
                // Biases follow their projection's rows; the per-head norms are the same on every rank.
                qBias: w.qBias.map { Array($0[qRows]) }, kBias: w.kBias.map { Array($0[kvRows]) },
                vBias: w.vBias.map { Array($0[kvRows]) }, qNorm: w.qNorm, kNorm: w.kNorm,
                postAttentionNorm: w.postAttentionNorm, postFFNNorm: w.postFFNNorm, experts: experts,
                oBias: w.oBias, sinks: w.sinks.map { Array($0[spec.queryHeads]) })
        }
        tokenEmbedding = model.weights.tokenEmbedding
        finalNorm = model.weights.finalNorm
        output = model.weights.output.slicingRows(spec.vocabRows)
    }
}

/// The ranks of one tensor-parallel group as the forward pass sees them. The transport layer's
/// communicators implement it; `SingleRank` is the group of one.
public protocol TensorParallelGroup: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Element-wise sum across ranks, in place, result everywhere.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Rank order concatenation of every rank's `local` (counts[r] floats from rank r) into
    /// `result` on rank 0; other ranks pass nil.
    func gather(_ local: UnsafeBufferPointer<Float>, counts: [Int], into result: UnsafeMutableBufferPointer<Float>?) throws
}

/// The group of one rank: collectives are no-ops.
public final class SingleRank: TensorParallelGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func gather(_ local: UnsafeBufferPointer<Float>, counts: [Int], into result: UnsafeMutableBufferPointer<Float>?) throws {
        if let result, let src = local.baseAddress, let dst = result.baseAddress { dst.update(from: src, count: local.count) }
    }
}
