import TandemCore
import TandemKernels

/// A llama2.c legacy checkpoint: 7 int32 header (dim, hidden_dim, n_layers, n_heads,
/// n_kv_heads, vocab_size (negative: untied classifier), seq_len), then FP32 tensors in a fixed
/// order. Tensors are exposed under GGUF names so one loader serves both formats.
public final class Llama2CCheckpoint: TensorSource, @unchecked Sendable {
    public let file: MappedFile
    public let configuration: ModelConfiguration
    private var offsets: [String: (offset: Int, rows: Int, cols: Int)] = [:]

    public var path: String { file.path }

    public init(path: String) throws {
        file = try MappedFile(path: path)
        var r = ByteReader(file)
        var h: [Int] = []
        for name in ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"] {
            h.append(Int(try r.read(Int32.self, "header field \(name)")))
        }
        let shared = h[5] > 0
        let config = ModelConfiguration(
            architecture: "llama", dim: h[0], hiddenDim: h[1], layerCount: h[2], headCount: h[3],
            kvHeadCount: h[4], vocabSize: abs(h[5]), contextLength: h[6], ropeTheta: 10000,
            rmsNormEpsilon: 1e-5, ropeStyle: .interleaved, tiedEmbeddings: shared)
        if let problem = config.validationProblem() {
            throw ModelLoadError(.badMetadata, file: path, place: "header (bytes 0-27)",
                                 "\(problem); this is not a llama2.c checkpoint")
        }
        guard config.contextLength > 0, config.contextLength < 1 << 24 else {
            throw ModelLoadError(.badMetadata, file: path, place: "header field seq_len", "seq_len \(config.contextLength) is not plausible")
        }
        configuration = config
        let c = config
        var at = 28
        func add(_ name: String, rows: Int, cols: Int) {
            offsets[name] = (at, rows, cols)
            at += rows * cols * 4
        }
        func perLayer(_ template: String, rows: Int, cols: Int) {
            for l in 0..<c.layerCount { add(template.replacing("{l}", with: String(l)), rows: rows, cols: cols) }
        }
        let qDim = c.headCount * c.headDim
        add("token_embd.weight", rows: c.vocabSize, cols: c.dim)
        perLayer("blk.{l}.attn_norm.weight", rows: 1, cols: c.dim)
        perLayer("blk.{l}.attn_q.weight", rows: qDim, cols: c.dim)
        perLayer("blk.{l}.attn_k.weight", rows: c.kvDim, cols: c.dim)
        perLayer("blk.{l}.attn_v.weight", rows: c.kvDim, cols: c.dim)
        perLayer("blk.{l}.attn_output.weight", rows: c.dim, cols: qDim)
        perLayer("blk.{l}.ffn_norm.weight", rows: 1, cols: c.dim)
        perLayer("blk.{l}.ffn_gate.weight", rows: c.hiddenDim, cols: c.dim)
        perLayer("blk.{l}.ffn_down.weight", rows: c.dim, cols: c.hiddenDim)
        perLayer("blk.{l}.ffn_up.weight", rows: c.hiddenDim, cols: c.dim)
        add("output_norm.weight", rows: 1, cols: c.dim)
        at += c.contextLength * c.headDim / 2 * 4 * 2 // legacy freq_cis_real and freq_cis_imag
        if !shared { add("output.weight", rows: c.vocabSize, cols: c.dim) }
        if at > file.size {
            throw ModelLoadError(.truncated, file: path, place: "byte \(file.size)",
                                 "the header describes \(at) bytes of weights but the file has \(file.size): it is truncated or the header is wrong")
        }
    }

    public func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        guard let e = offsets[name] else {
            throw ModelLoadError(.missingTensor, file: path, place: "tensor \(name)", "a llama2.c checkpoint has no tensor \"\(name)\"")
        }
        guard e.rows == rows, e.cols == cols else {
            throw ModelLoadError(.shapeMismatch, file: path, place: "tensor \(name)",
                                 "shape (\(e.rows), \(e.cols)) does not match the expected (\(rows), \(cols))")
        }
        return WeightMatrix(dtype: .f32, rows: rows, cols: cols, base: file.base + e.offset, owner: file)
    }
}
