import TandemCore
import TandemKernels

/// What load-time quantisation did: which matrices changed format, which stayed and why.
public struct WeightQuantizationReport: Sendable, Equatable {
    /// A matrix left as stored, and why (e.g. its width is not a whole number of blocks).
    public struct Kept: Sendable, Equatable {
        public var name: String
        public var dtype: DType
        public var reason: String
    }

    public var plan: WeightQuantizationPlan
    /// Formats the converted matrices were stored in before (their "full precision").
    public var sourceTypes: [DType]
    public var converted = 0
    public var kept: [Kept] = []
    /// Bytes of the matrices a token reads (row data and scales), before and after.
    public var bytesBefore = 0
    public var bytesAfter = 0

    /// One line for logs: what was converted from what, and what was kept.
    public var summary: String {
        if plan.isNative { return "weights as stored" }
        var parts: [String] = []
        let from = sourceTypes.map { $0.rawValue.uppercased() }.joined(separator: "/")
        let lossy = sourceTypes.contains { $0.isQuantized }
        parts.append("linear layers \(plan.linear.displayName), embedding/head \(plan.embedding.displayName)")
        parts.append("\(converted) matrices re-quantised from \(from)" +
                     (lossy ? " (this checkpoint's full precision is the dequantised \(from), not the original model)" : ""))
        if !kept.isEmpty {
            let reasons = Set(kept.map(\.reason)).sorted().joined(separator: "; ")
            parts.append("\(kept.count) kept as stored (\(reasons))")
        }
        parts.append(String(format: "%.1f → %.1f MB per token", Double(bytesBefore) / 1e6, Double(bytesAfter) / 1e6))
        return parts.joined(separator: "; ")
    }
}

extension LlamaWeights {
    /// The weights with every linear layer (and, if the plan says so, the embedding and output
    /// head) dequantised to FP32 and re-quantised into the plan's format. Norms stay FP32.
    /// Matrices a format cannot hold (NVFP4 needs a multiple of 16 input columns, MXFP4 of 32)
    /// are kept as stored and listed in the report. `progress(done, total)` follows the matrices.
    public func quantized(with plan: WeightQuantizationPlan, pool: KernelThreadPool? = nil,
                          progress: ((Int, Int) -> Void)? = nil) throws -> (LlamaWeights, WeightQuantizationReport) {
        var report = WeightQuantizationReport(plan: plan, sourceTypes: [])
        var sources = Set<DType>()
        let tied = tokenEmbedding.base == output.base && tokenEmbedding.dtype == output.dtype
        let expertMatrices = layers.reduce(0) { $0 + ($1.experts.map { 3 * $0.gate.count + ($0.sharedGate == nil ? 0 : 3) } ?? 0) }
        let total = layers.count * 7 + expertMatrices + (plan.embedding == .native ? 0 : (tied ? 1 : 2))
        var done = 0
        func convert(_ m: WeightMatrix, _ name: String, _ format: WeightFormat, countsPerToken: Bool = true) throws -> WeightMatrix {
            defer { done += 1; progress?(done, total) }
            var result = m
            // An MoE layer's dense slots hold no rows.
            guard m.rows > 0 else { return m }
            if let target = format.dtype, target != m.dtype || target == .fp8_e4m3 && plan.fp8Scaling == .perRow {
                if let problem = m.conversionProblem(to: target) {
                    report.kept.append(.init(name: name, dtype: m.dtype, reason: problem))
                } else {
                    result = try m.converted(to: target, fp8Scaling: plan.fp8Scaling, pool: pool)
                    report.converted += 1
                    sources.insert(m.dtype)
                }
            }
            if countsPerToken {
                report.bytesBefore += m.storageBytes
                report.bytesAfter += result.storageBytes
            }
            return result
        }
        var out = self
        for (l, layer) in layers.enumerated() {
            let p = "blk.\(l)."
            // Norms and biases stay as they are; only the matrices are converted.
            out.layers[l].wq = try convert(layer.wq, p + "attn_q", plan.linear)
            out.layers[l].wk = try convert(layer.wk, p + "attn_k", plan.linear)
            out.layers[l].wv = try convert(layer.wv, p + "attn_v", plan.linear)
            out.layers[l].wo = try convert(layer.wo, p + "attn_output", plan.linear)
            out.layers[l].gate = try convert(layer.gate, p + "ffn_gate", plan.linear)
            out.layers[l].down = try convert(layer.down, p + "ffn_down", plan.linear)
            out.layers[l].up = try convert(layer.up, p + "ffn_up", plan.linear)
            if let e = layer.experts {
                // Every expert's matrices (the router stays as stored). Bytes per token count
                // the experts a token runs, as LlamaWeights.bytesPerToken does.
                let share = { (i: Int) in i < (self.expertsPerToken > 0 ? self.expertsPerToken : e.gate.count) }
                for i in e.gate.indices {
                    let name = p + "expert\(e.ids.lowerBound + i)."
                    out.layers[l].experts!.gate[i] = try convert(e.gate[i], name + "ffn_gate", plan.linear, countsPerToken: share(i))
                    out.layers[l].experts!.up[i] = try convert(e.up[i], name + "ffn_up", plan.linear, countsPerToken: share(i))
                    out.layers[l].experts!.down[i] = try convert(e.down[i], name + "ffn_down", plan.linear, countsPerToken: share(i))
                }
                if let g = e.sharedGate, let u = e.sharedUp, let d = e.sharedDown {
                    out.layers[l].experts!.sharedGate = try convert(g, p + "ffn_gate_shexp", plan.linear)
                    out.layers[l].experts!.sharedUp = try convert(u, p + "ffn_up_shexp", plan.linear)
                    out.layers[l].experts!.sharedDown = try convert(d, p + "ffn_down_shexp", plan.linear)
                }
            }
        }
        if plan.embedding == .native {
            report.bytesBefore += output.storageBytes
            report.bytesAfter += output.storageBytes
        } else if tied {
            out.tokenEmbedding = try convert(tokenEmbedding, "token_embd", plan.embedding)
            out.output = out.tokenEmbedding
        } else {
            out.tokenEmbedding = try convert(tokenEmbedding, "token_embd", plan.embedding, countsPerToken: false)
            out.output = try convert(output, "output", plan.embedding)
        }
        report.sourceTypes = sources.sorted { $0.rawValue < $1.rawValue }
        return (out, report)
    }
}

extension LoadedModel {
    /// This model with its weights converted by `plan` (see `LlamaWeights.quantized(with:)`);
    /// the format description says what was converted from what.
    public func quantized(with plan: WeightQuantizationPlan, pool: KernelThreadPool? = nil,
                          progress: ((Int, Int) -> Void)? = nil) throws -> (LoadedModel, WeightQuantizationReport) {
        if plan.isNative { return (self, WeightQuantizationReport(plan: plan, sourceTypes: [])) }
        let (weights, report) = try model.weights.quantized(with: plan, pool: pool, progress: progress)
        let from = report.sourceTypes.map { $0.rawValue.uppercased() }.joined(separator: "/")
        let description = "\(formatDescription) → \(plan.linear.displayName) linear layers" +
            (plan.embedding == .native ? "" : ", \(plan.embedding.displayName) embedding/head") +
            (from.isEmpty ? "" : " (re-quantised from \(from))")
        return (LoadedModel(model: LlamaModel(configuration: configuration, weights: weights), tokenizer: tokenizer,
                            chatTemplate: chatTemplate, chatTemplateProblem: chatTemplateProblem, path: path,
                            formatDescription: description), report)
    }
}
