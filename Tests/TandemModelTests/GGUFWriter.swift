import Foundation

/// Writes small GGUF v3 files for loader tests (metadata of a few kinds, raw tensor bytes).
struct GGUFWriter {
    enum Value {
        case u32(UInt32), f32(Float), string(String), bool(Bool), strings([String]), i32s([Int32])
    }

    var metadata: [(String, Value)] = []
    var tensors: [(name: String, dims: [UInt64], type: UInt32, data: [UInt8])] = []
    /// Data offsets written instead of the computed ones (hostile-file tests).
    var offsetOverrides: [String: UInt64] = [:]
    /// Raw metadata entries appended as given: key, type number, value bytes.
    var rawMetadata: [(String, UInt32, [UInt8])] = []

    private static func put<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    private static func put(_ s: String, _ out: inout [UInt8]) {
        put(UInt64(s.utf8.count), &out)
        out += Array(s.utf8)
    }

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        Self.put(UInt32(0x4655_4747), &out)
        Self.put(UInt32(3), &out)
        Self.put(UInt64(tensors.count), &out)
        Self.put(UInt64(metadata.count + rawMetadata.count), &out)
        for (k, type, value) in rawMetadata {
            Self.put(k, &out)
            Self.put(type, &out)
            out += value
        }
        for (k, v) in metadata {
            Self.put(k, &out)
            switch v {
            case .u32(let x): Self.put(UInt32(4), &out); Self.put(x, &out)
            case .f32(let x): Self.put(UInt32(6), &out); Self.put(x.bitPattern, &out)
            case .bool(let x): Self.put(UInt32(7), &out); out.append(x ? 1 : 0)
            case .string(let x): Self.put(UInt32(8), &out); Self.put(x, &out)
            case .strings(let xs):
                Self.put(UInt32(9), &out); Self.put(UInt32(8), &out); Self.put(UInt64(xs.count), &out)
                for x in xs { Self.put(x, &out) }
            case .i32s(let xs):
                Self.put(UInt32(9), &out); Self.put(UInt32(5), &out); Self.put(UInt64(xs.count), &out)
                for x in xs { Self.put(x, &out) }
            }
        }
        var offset: UInt64 = 0
        var offsets: [UInt64] = []
        for t in tensors {
            offsets.append(offset)
            offset += (UInt64(t.data.count) + 31) / 32 * 32
        }
        for (t, off) in zip(tensors, offsets) {
            Self.put(t.name, &out)
            Self.put(UInt32(t.dims.count), &out)
            for d in t.dims { Self.put(d, &out) }
            Self.put(t.type, &out)
            Self.put(offsetOverrides[t.name] ?? off, &out)
        }
        while out.count % 32 != 0 { out.append(0) }
        for t in tensors {
            out += t.data
            while out.count % 32 != 0 { out.append(0) }
        }
        return out
    }

    func write(to path: String) throws {
        try Data(bytes()).write(to: URL(fileURLWithPath: path))
    }

    /// A tiny llama model's metadata (dim 32, 1 layer, 2 heads, vocab 4).
    static func tinyLlama() -> GGUFWriter {
        var w = GGUFWriter()
        w.metadata = [
            ("general.architecture", .string("llama")),
            ("llama.embedding_length", .u32(32)), ("llama.feed_forward_length", .u32(64)),
            ("llama.block_count", .u32(1)), ("llama.attention.head_count", .u32(2)),
            ("llama.context_length", .u32(16)), ("llama.vocab_size", .u32(4)),
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("gpt2")),
            ("tokenizer.ggml.tokens", .strings(["a", "b", "c", "d"])),
            ("tokenizer.ggml.token_type", .i32s([1, 1, 1, 1])), ("tokenizer.ggml.merges", .strings([])),
        ]
        return w
    }

    static func f32(_ count: Int, _ value: Float = 0.01) -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<count { withUnsafeBytes(of: value.bitPattern.littleEndian) { out += $0 } }
        return out
    }

    /// All tensors of `tinyLlama`, F32.
    mutating func addAllTinyTensors(except skipped: Set<String> = []) {
        let specs: [(String, [UInt64])] = [
            ("token_embd.weight", [32, 4]), ("output_norm.weight", [32]),
            ("blk.0.attn_norm.weight", [32]), ("blk.0.attn_q.weight", [32, 32]), ("blk.0.attn_k.weight", [32, 32]),
            ("blk.0.attn_v.weight", [32, 32]), ("blk.0.attn_output.weight", [32, 32]), ("blk.0.ffn_norm.weight", [32]),
            ("blk.0.ffn_gate.weight", [32, 64]), ("blk.0.ffn_down.weight", [64, 32]), ("blk.0.ffn_up.weight", [32, 64]),
        ]
        for (n, d) in specs where !skipped.contains(n) {
            tensors.append((n, d, 0, Self.f32(Int(d.reduce(1, *)))))
        }
    }
}

func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent(name).path
}
