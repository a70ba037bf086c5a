import CTandemKernels
import TandemCore
import TandemKernels

/// A piece of one sequence to run in a step: `tokens` at positions `startPosition...`, K/V
/// found and stored through `blockTable`. Prefill chunks carry many tokens, decodes one.
public struct SequenceChunk: Sendable, Equatable {
    public var tokens: [TokenID]
    public var startPosition: Int
    public var blockTable: [Int32]
    /// How many of the chunk's last positions want logits: 0 (a prefill chunk that samples
    /// nothing), 1 (the token to sample from), or 1 + k when the chunk ends with k draft tokens
    /// to verify (speculative decoding). Rows come back in position order.
    public var logitCount: Int

    public init(tokens: [TokenID], startPosition: Int, blockTable: [Int32], logitCount: Int) {
        precondition(logitCount >= 0 && logitCount <= tokens.count, "logits wanted for \(logitCount) of \(tokens.count) positions")
        self.tokens = tokens
        self.startPosition = startPosition
        self.blockTable = blockTable
        self.logitCount = logitCount
    }

    public init(tokens: [TokenID], startPosition: Int, blockTable: [Int32], wantsLogits: Bool) {
        self.init(tokens: tokens, startPosition: startPosition, blockTable: blockTable, logitCount: wantsLogits ? 1 : 0)
    }

    /// Whether any logits are wanted.
    public var wantsLogits: Bool { logitCount > 0 }
}

/// The batched forward pass of one tensor-parallel rank: many sequences at different positions
/// in one step, K/V in a paged store, two all-reduces per layer, logits gathered on rank 0.
/// Built and driven by `ModelRunner` (the one forward pass every command runs).
final class ShardForward {
    let shard: LlamaShard
    let kv: PagedKVStore
    let group: TensorParallelGroup
    var observer: ActivationObserver?
    /// Tokens routed to each expert (global expert number; every rank routes alike, so this
    /// counts the experts other ranks hold too), summed over layers and steps since the runner
    /// started (MoE models; empty otherwise).
    var expertLoad: [Int] = []
    private var moeScratch = ExpertScratch()

    init(shard: LlamaShard, kv: PagedKVStore, group: TensorParallelGroup) {
        self.shard = shard
        self.kv = kv
        self.group = group
        if let e = shard.configuration.experts { expertLoad = [Int](repeating: 0, count: e.count) }
    }

    /// Runs one step. Returns, on rank 0, the full-vocabulary logits of each chunk that wants
    /// them (in chunk order); other ranks get an empty array.
    func forward(_ chunks: [SequenceChunk]) throws -> [[Float]] {
        let c = shard.configuration
        let hd = c.headDim, dim = c.dim
        let qDim = shard.localQueryDim, kvDim = shard.localKVDim, ffn = shard.localFFN
        let T = chunks.reduce(0) { $0 + $1.tokens.count }
        guard T > 0 else { return [] }
        guard kv.kvHeads == shard.spec.kvHeads.count, kv.headDim == hd else {
            throw ShardingError(message: "K/V store holds \(kv.kvHeads) heads of \(kv.headDim); the shard has \(shard.spec.kvHeads.count) of \(hd)")
        }
        // Per token: which chunk, which position.
        var tokenChunk = [Int](), tokenPos = [Int](), tokenIDs = [TokenID]()
        tokenChunk.reserveCapacity(T); tokenPos.reserveCapacity(T); tokenIDs.reserveCapacity(T)
        for (i, ch) in chunks.enumerated() {
            let needed = (ch.startPosition + ch.tokens.count + kv.blockSize - 1) / kv.blockSize
            guard ch.blockTable.count >= needed, ch.blockTable.allSatisfy({ $0 >= 0 && Int($0) < kv.blockCount }) else {
                throw ShardingError(message: "chunk \(i): block table of \(ch.blockTable.count) blocks cannot hold positions up to \(ch.startPosition + ch.tokens.count)")
            }
            for (j, t) in ch.tokens.enumerated() {
                guard t >= 0, Int(t) < c.vocabSize else { throw ModelRuntimeError.tokenOutOfRange(token: t, vocabSize: c.vocabSize) }
                tokenChunk.append(i); tokenPos.append(ch.startPosition + j); tokenIDs.append(t)
            }
        }
        let x = FloatBuffer(count: T * dim, zeroed: false)       // (T, dim) residual stream
        let xb = FloatBuffer(count: T * dim, zeroed: false)      // (T, dim)
        let q = FloatBuffer(count: T * qDim, zeroed: false)      // (T, local q)
        let att = FloatBuffer(count: T * qDim, zeroed: false)    // (T, local q)
        let partial = FloatBuffer(count: T * dim, zeroed: false) // (T, dim) row-parallel output
        let hb = FloatBuffer(count: T * ffn, zeroed: false)      // (T, local ffn)
        let hb2 = FloatBuffer(count: T * ffn, zeroed: false)     // (T, local ffn)
        for t in 0..<T { shard.tokenEmbedding.row(Int(tokenIDs[t]), into: x.pointer + t * dim) }
        if c.gemmaStyle {
            // Gemma scales embeddings by sqrt(dim) (the output head reuses them unscaled).
            let s = Float(dim).squareRoot()
            for i in 0..<(T * dim) { x.pointer[i] *= s }
        }
        let qPerKV = c.queriesPerKVHead
        let unitNorm = [Float](repeating: 1, count: hd)

        // Every token's block table (its chunk's), flattened for the attention kernel.
        let flat = chunks.flatMap(\.blockTable)
        let tables = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(flat.count, 1))
        defer { tables.deallocate() }
        _ = tables.initialize(from: flat)
        var chunkOffset = [Int64](), offset: Int64 = 0
        for ch in chunks { chunkOffset.append(offset); offset += Int64(ch.blockTable.count) }
        let tableOffset = UnsafeMutableBufferPointer<Int64>.allocate(capacity: T)
        defer { tableOffset.deallocate() }
        let positions = UnsafeMutableBufferPointer<Int64>.allocate(capacity: T)
        defer { positions.deallocate() }
        for t in 0..<T { tableOffset[t] = chunkOffset[tokenChunk[t]]; positions[t] = Int64(tokenPos[t]) }
        // Every projection multiplies all T tokens in one call: from a few tokens on, that is the
        // blocked GEMM, which reads each weight once per step instead of once per token.
        let kNew = FloatBuffer(count: T * kvDim, zeroed: false)  // (T, local kv) before it is stored
        let vNew = FloatBuffer(count: T * kvDim, zeroed: false)
        for (l, w) in shard.layers.enumerated() {
            for t in 0..<T {
                tk_rmsnorm(xb.pointer + t * dim, x.pointer + t * dim, w.attentionNorm, Int64(dim), c.rmsNormEpsilon)
            }
            observer?(l, .attentionInput, xb.pointer, T * dim)
            w.wq.multiply(batch: T, xb.pointer, ldx: dim, into: q.pointer, ldy: qDim)
            w.wk.multiply(batch: T, xb.pointer, ldx: dim, into: kNew.pointer, ldy: kvDim)
            w.wv.multiply(batch: T, xb.pointer, ldx: dim, into: vNew.pointer, ldy: kvDim)
            for t in 0..<T {
                if let b = w.qBias { tk_add(q.pointer + t * qDim, b, Int64(qDim)) }
                if let b = w.kBias { tk_add(kNew.pointer + t * kvDim, b, Int64(kvDim)) }
                if let b = w.vBias { tk_add(vNew.pointer + t * kvDim, b, Int64(kvDim)) }
                // Each query and key head RMS-normalised in place with `qw` and `kw`.
                func normalizeHeads(_ qw: [Float], _ kw: [Float]) {
                    for h in 0..<shard.spec.queryHeads.count {
                        let p = q.pointer + t * qDim + h * hd
                        tk_rmsnorm(p, p, qw, Int64(hd), c.rmsNormEpsilon)
                    }
                    for h in 0..<shard.spec.kvHeads.count {
                        let p = kNew.pointer + t * kvDim + h * hd
                        tk_rmsnorm(p, p, kw, Int64(hd), c.rmsNormEpsilon)
                    }
                }
                if let qn = w.qNorm, let kn = w.kNorm { normalizeHeads(qn, kn) }
                if c.usesRoPE(layer: l) {
                    c.applyRoPE(q.pointer + t * qDim, heads: shard.spec.queryHeads.count, position: tokenPos[t], layer: l)
                    c.applyRoPE(kNew.pointer + t * kvDim, heads: shard.spec.kvHeads.count, position: tokenPos[t], layer: l)
                    // Llama 4: RMS-normalised without a weight, after RoPE.
                    if c.queryKeyL2Norm { normalizeHeads(unitNorm, unitNorm) }
                } else if c.attentionTemperatureScale != nil {
                    // Llama 4's layers without RoPE: queries scaled by the position's temperature.
                    let s = c.attentionTemperature(position: tokenPos[t])
                    if s != 1 { for i in 0..<qDim { q.pointer[t * qDim + i] *= s } }
                }
                kv.write(layer: l, slot: kv.slot(tokenPos[t], chunks[tokenChunk[t]].blockTable),
                         keys: kNew.pointer + t * kvDim, values: vNew.pointer + t * kvDim)
            }
            if c.queryScaleBase != nil || c.ropeAttentionFactor != nil {
                // The kernel divides scores by sqrt(headDim); the model's own query scale instead,
                // and YaRN's m on queries and keys both (m² on the queries alone).
                var s = c.queryScaleBase.map { Float(hd).squareRoot() / $0.squareRoot() } ?? 1
                if let m = c.ropeAttentionFactor, !(c.localRoPETheta != nil && c.isSlidingLayer(l)) { s *= m * m }
                for i in 0..<(T * qDim) { q.pointer[i] *= s }
            }
            // Attention after every token's K/V of this layer is stored (a chunk attends to itself):
            // every (token, head) pair of the step at once, spread over the kernel threads.
            let status = (w.sinks ?? []).withUnsafeBufferPointer { sinks in
                kv.attend(layer: l, out: att.pointer, q: q.pointer, tables: tables.baseAddress!, tableOffset: tableOffset.baseAddress!,
                          positions: positions.baseAddress!, tokens: T, heads: shard.spec.queryHeads.count,
                          queriesPerKVHead: qPerKV, qStride: qDim, window: c.attentionWindow(layer: l),
                          softcap: c.attentionSoftcap ?? 0, sinks: w.sinks == nil ? nil : sinks.baseAddress,
                          chunk: c.attentionChunk(layer: l))
            }
            guard status == 0 else {
                throw ShardingError(message: "attention kernel rejected the step")
            }
            observer?(l, .attentionOutput, att.pointer, T * qDim)
            w.wo.multiply(batch: T, att.pointer, ldx: qDim, into: partial.pointer, ldy: dim)
            try group.allReduceSum(UnsafeMutableBufferPointer(start: partial.pointer, count: T * dim))
            if let b = w.oBias { for t in 0..<T { tk_add(partial.pointer + t * dim, b, Int64(dim)) } }
            if let post = w.postAttentionNorm {
                for t in 0..<T { tk_rmsnorm(partial.pointer + t * dim, partial.pointer + t * dim, post, Int64(dim), c.rmsNormEpsilon) }
            }
            tk_add(x.pointer, partial.pointer, Int64(T * dim))
            for t in 0..<T {
                tk_rmsnorm(xb.pointer + t * dim, x.pointer + t * dim, w.ffnNorm, Int64(dim), c.rmsNormEpsilon)
            }
            observer?(l, .ffnInput, xb.pointer, T * dim)
            if let experts = w.experts {
                experts.forward(tokens: T, xb.pointer, into: partial.pointer, config: c, scratch: &moeScratch, load: &expertLoad)
            } else {
                w.gate.multiply(batch: T, xb.pointer, ldx: dim, into: hb.pointer, ldy: ffn)
                w.up.multiply(batch: T, xb.pointer, ldx: dim, into: hb2.pointer, ldy: ffn)
                if c.gemmaStyle {
                    tk_geglu_tanh(hb.pointer, hb2.pointer, Int64(T * ffn))
                } else {
                    tk_swiglu(hb.pointer, hb2.pointer, Int64(T * ffn))
                }
                observer?(l, .ffnHidden, hb.pointer, T * ffn)
                w.down.multiply(batch: T, hb.pointer, ldx: ffn, into: partial.pointer, ldy: dim)
            }
            try group.allReduceSum(UnsafeMutableBufferPointer(start: partial.pointer, count: T * dim))
            if let post = w.postFFNNorm {
                for t in 0..<T { tk_rmsnorm(partial.pointer + t * dim, partial.pointer + t * dim, post, Int64(dim), c.rmsNormEpsilon) }
            }
            tk_add(x.pointer, partial.pointer, Int64(T * dim))
        }

        // Logits for the last `logitCount` tokens of each chunk, this rank's vocabulary rows.
        var last: [Int] = []
        var t0 = 0
        for ch in chunks {
            let end = t0 + ch.tokens.count
            last += (end - ch.logitCount)..<end
            t0 = end
        }
        guard !last.isEmpty else { return [] }
        let localVocab = shard.spec.vocabRows.count
        let local = FloatBuffer(count: last.count * localVocab, zeroed: false)   // (n, local vocab)
        for (i, t) in last.enumerated() {
            tk_rmsnorm(xb.pointer + i * dim, x.pointer + t * dim, shard.finalNorm, Int64(dim), c.rmsNormEpsilon)
        }
        shard.output.multiply(batch: last.count, xb.pointer, ldx: dim, into: local.pointer, ldy: localVocab)
        if let cap = c.finalLogitSoftcap { tk_softcap(local.pointer, Int64(local.count), cap) }
        let vocabSplit = ShardingPlan.split(c.vocabSize, into: group.size, unit: 1)
        let counts = vocabSplit.map { $0.count * last.count }
        let gathered = group.rank == 0 ? FloatBuffer(count: last.count * c.vocabSize, zeroed: false) : nil  // (rank, n, rank vocab)
        try group.gather(UnsafeBufferPointer(start: local.pointer, count: local.count), counts: counts,
                         into: gathered.map { UnsafeMutableBufferPointer(start: $0.pointer, count: $0.count) })
        guard let gathered else { return [] }
        var out = [[Float]](repeating: [], count: last.count)
        for i in 0..<last.count {
            var row = [Float](repeating: 0, count: c.vocabSize)
            var offset = 0
            for r in vocabSplit {
                for v in 0..<r.count { row[r.lowerBound + v] = gathered[offset + i * r.count + v] }
                offset += r.count * last.count
            }
            out[i] = row
        }
        return out
    }
}
