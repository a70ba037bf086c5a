import CTandemKernels
import Foundation
import TandemCore
import TandemKernels

/// An NVIDIA ModelOpt ("unified HF") checkpoint directory: a Hugging Face Llama directory plus
/// `hf_quant_config.json` whose `quantization.quant_algo` is FP8 or NVFP4 (or Tandem's MXFP4),
/// with per linear layer `weight`, `weight_scale`, `weight_scale_2` (NVFP4) and `input_scale`.
///
/// * FP8: `weight` F8_E4M3 (out, in); `weight_scale` F32, a scalar (per tensor) or (out) / (out, 1)
///   (per channel). value = e4m3 × weight_scale.
/// * NVFP4: `weight` U8 (out, in/2), even column in the low nibble; `weight_scale` F8_E4M3
///   (out, in/16); `weight_scale_2` F32 scalar, a multiplier (ModelOpt's sign convention, not
///   compressed-tensors' divisor). value = e2m1 × (weight_scale × weight_scale_2).
/// * MXFP4 (Tandem's own): `weight` U8 (out, in/2) as NVFP4, `weight_scale` U8 E8M0 (out, in/32).
///
/// Layers named in `exclude_modules` (or simply without `weight_scale`) load as plain F32/F16/BF16.
/// `input_scale` is read by engines that quantise activations; Tandem keeps activations in FP32.
/// The tokenizer is `tokenizer.json`, or a llama2.c `tokenizer.bin` when that is all there is.
public enum ModelOptCheckpoint {
    /// Whether `directory` is a ModelOpt checkpoint (has `hf_quant_config.json`).
    public static func isCheckpoint(directory: String) -> Bool {
        FileSystem.exists(directory + "/hf_quant_config.json")
    }

    /// The `quantization` section of `hf_quant_config.json`.
    public struct QuantConfig: Sendable, Equatable {
        public var algorithm: String
        public var groupSize: Int?
        public var excludedModules: [String]
    }

    public static func quantConfig(directory: String) throws -> QuantConfig {
        let path = directory + "/hf_quant_config.json"
        let j = try SafetensorsModel.readJSON(path)
        guard let q = j["quantization"] as? [String: Any], let algo = q["quant_algo"] as? String else {
            throw ModelLoadError(.badMetadata, file: path, place: "key quantization.quant_algo", "missing: not a ModelOpt quantisation config")
        }
        guard ["FP8", "NVFP4", "MXFP4"].contains(algo.uppercased()) else {
            throw ModelLoadError(.unknownTensorType, file: path, place: "key quantization.quant_algo",
                                 "quant_algo \(algo) is not supported (supported: FP8, NVFP4, MXFP4)")
        }
        let group = q["group_size"] as? Int
        if algo.uppercased() == "NVFP4", let g = group, g != 16 {
            throw ModelLoadError(.badMetadata, file: path, place: "key quantization.group_size", "NVFP4 group_size must be 16, not \(g)")
        }
        return QuantConfig(algorithm: algo.uppercased(), groupSize: group, excludedModules: q["exclude_modules"] as? [String] ?? [])
    }

    public static func load(directory: String) throws -> LoadedModel {
        let quant = try quantConfig(directory: directory)
        let configPath = directory + "/config.json"
        let config = try SafetensorsModel.configuration(path: configPath)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory))?
            .filter { $0.hasSuffix(".safetensors") }.sorted() ?? []
        guard !files.isEmpty else {
            throw ModelLoadError(.cannotOpen, file: directory, place: "directory", "no *.safetensors files in the directory")
        }
        let source = ModelOptTensorSource(files: try files.map { try RawSafetensors(path: directory + "/" + $0) }, path: directory)
        let weights = try LlamaWeights.load(from: source, names: .huggingFace, config: config)
        let json = try SafetensorsModel.readJSON(configPath)
        let tokenizer: any Tokenizer
        if FileSystem.exists(directory + "/tokenizer.json") {
            tokenizer = try HFTokenizerFile.load(path: directory + "/tokenizer.json",
                                                 bos: (json["bos_token_id"] as? Int).flatMap { TokenID(exactly: $0) },
                                                 eos: (json["eos_token_id"] as? Int).flatMap { TokenID(exactly: $0) })
        } else if FileSystem.exists(directory + "/tokenizer.bin") {
            tokenizer = try Llama2CTokenizerFile.load(path: directory + "/tokenizer.bin", vocabSize: config.vocabSize)
        } else {
            throw ModelLoadError(.cannotOpen, file: directory, place: "tokenizer", "no tokenizer.json (or llama2.c tokenizer.bin) in the directory")
        }
        var template: ChatTemplate?, problem: String?
        if let tc = try? SafetensorsModel.readJSON(directory + "/tokenizer_config.json"), let jinja = tc["chat_template"] as? String {
            (template, problem) = ChatTemplate.fromModelReporting(jinja: jinja, tokenizer: tokenizer)
        }
        return LoadedModel(model: LlamaModel(configuration: config, weights: weights), tokenizer: tokenizer,
                           chatTemplate: template,
                           chatTemplateProblem: problem.map { "\(directory)/tokenizer_config.json: chat_template: \($0)" }, path: directory,
                           formatDescription: "ModelOpt \(quant.algorithm) safetensors")
    }
}

/// One safetensors file's directory of tensors, any dtype (the reader for quantised checkpoints;
/// `SafetensorsFile` stays the strict reader for plain float checkpoints).
final class RawSafetensors: @unchecked Sendable {
    struct Entry {
        let dtype: String
        let shape: [Int]
        let offset: Int   // absolute, in the file
        let byteCount: Int
        var count: Int { shape.reduce(1, *) }
    }

    let file: MappedFile
    let entries: [String: Entry]
    var path: String { file.path }

    static let elementBytes: [String: Int] = ["F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "U8": 1, "I8": 1]

    init(path: String) throws {
        file = try MappedFile(path: path)
        var entries: [String: Entry] = [:]
        try SafetensorsHeader.parse(file, elementBytes: { Self.elementBytes[$0] }) { name, dt, shape, offset, byteCount in
            entries[name] = Entry(dtype: dt, shape: shape, offset: offset, byteCount: byteCount)
        }
        self.entries = entries
    }

    /// All values of an F32/F16/BF16 tensor as FP32 (copied: safe whatever the alignment).
    func floats(_ name: String, _ e: Entry) throws -> [Float] {
        let raw = file.base + e.offset
        switch e.dtype {
        case "F32": return (0..<e.count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        case "F16": return (0..<e.count).map { tk_f16_to_f32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
        case "BF16": return (0..<e.count).map { Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) << 16) }
        default:
            throw ModelLoadError(.unknownTensorType, file: path, place: "tensor \(name)", "expected F32, F16 or BF16 values, found \(e.dtype)")
        }
    }
}

/// The tensors of a ModelOpt checkpoint as `WeightMatrix`es: quantised weights point into the
/// mapping (scale scalars and per-channel scales copied); MXFP4 is repacked into ggml blocks.
struct ModelOptTensorSource: TensorSource {
    let files: [RawSafetensors]
    let path: String

    func find(_ name: String) -> (RawSafetensors, RawSafetensors.Entry)? {
        for f in files { if let e = f.entries[name] { return (f, e) } }
        return nil
    }

    func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        guard let (file, e) = find(name) else {
            throw ModelLoadError(.missingTensor, file: path, place: "tensor \(name)", "no file has tensor \"\(name)\" (expected shape [\(rows), \(cols)])")
        }
        let module = name.hasSuffix(".weight") ? String(name.dropLast(".weight".count)) : name
        func fail(_ message: String) -> ModelLoadError { ModelLoadError(.shapeMismatch, file: file.path, place: "tensor \(name)", message) }
        func scalar(_ suffix: String) throws -> Float? {
            guard let (f, s) = find(module + suffix) else { return nil }
            let v = try f.floats(module + suffix, s)
            guard v.count == 1 else { throw fail("\(module + suffix) has \(v.count) values, expected a scalar") }
            return v[0]
        }
        let flat = e.shape.count == 1 ? [1, e.shape[0]] : e.shape
        switch e.dtype {
        case "F32", "F16", "BF16":
            guard flat == [rows, cols] else { throw fail("shape \(e.shape) does not match the expected [\(rows), \(cols)]") }
            let dtype: DType = e.dtype == "F32" ? .f32 : e.dtype == "F16" ? .f16 : .bf16
            if e.dtype == "F32", (e.offset % 4) != 0 {
                // Misaligned FP32 (foreign writers): copy.
                let buffer = RawBuffer(count: e.byteCount)
                buffer.pointer.copyMemory(from: file.file.base + e.offset, byteCount: e.byteCount)
                return WeightMatrix(dtype: .f32, rows: rows, cols: cols, base: UnsafeRawPointer(buffer.pointer), owner: buffer)
            }
            return WeightMatrix(dtype: dtype, rows: rows, cols: cols, base: file.file.base + e.offset, owner: file.file)
        case "F8_E4M3":
            guard flat == [rows, cols] else { throw fail("FP8 weight shape \(e.shape) does not match the expected [\(rows), \(cols)]") }
            guard let (sf, se) = find(module + ".weight_scale") else { throw fail("FP8 weight without \(module).weight_scale") }
            let s = try sf.floats(module + ".weight_scale", se)
            let base = file.file.base + e.offset
            if s.count == 1 {
                return WeightMatrix(dtype: .fp8_e4m3, rows: rows, cols: cols, base: base, scales: .perTensor(s[0]), owner: file.file)
            }
            guard s.count == rows else { throw fail("weight_scale has \(s.count) values: neither per tensor (1) nor per channel (\(rows))") }
            let plane = RawBuffer(count: 4 * rows)
            let ps = plane.pointer.bindMemory(to: Float.self, capacity: rows)
            ps.initialize(from: s, count: rows)
            return WeightMatrix(dtype: .fp8_e4m3, rows: rows, cols: cols, base: base, scales: .perRow(tensor: 1, rows: ps),
                                owner: OwnerGroup([file.file, plane]))
        case "U8":
            guard flat == [rows, cols / 2], cols % 2 == 0 else { throw fail("packed FP4 weight shape \(e.shape) does not match [\(rows), \(cols / 2)]") }
            guard let (sf, se) = find(module + ".weight_scale") else { throw fail("packed FP4 weight without \(module).weight_scale") }
            let packed = (file.file.base + e.offset).assumingMemoryBound(to: UInt8.self)
            let scalesPtr = (sf.file.base + se.offset).assumingMemoryBound(to: UInt8.self)
            switch se.dtype {
            case "F8_E4M3":
                guard cols % 16 == 0, se.count == rows * cols / 16 else { throw fail("NVFP4 weight_scale must be [\(rows), \(cols / 16)], not \(se.shape)") }
                guard let tensor = try scalar(".weight_scale_2") else { throw fail("NVFP4 weight without \(module).weight_scale_2") }
                return WeightMatrix(dtype: .nvfp4, rows: rows, cols: cols, base: UnsafeRawPointer(packed),
                                    scales: .blocks(tensor: tensor, blocks: scalesPtr), owner: OwnerGroup([file.file, sf.file]))
            case "U8":
                guard cols % 32 == 0, se.count == rows * cols / 32 else { throw fail("MXFP4 weight_scale must be [\(rows), \(cols / 32)], not \(se.shape)") }
                let blocks = MXFP4Planes.ggmlBlocks(packed: packed, scales: scalesPtr, rows: rows, cols: cols)
                return WeightMatrix(dtype: .mxfp4, rows: rows, cols: cols, base: UnsafeRawPointer(blocks.pointer), owner: blocks)
            default:
                throw ModelLoadError(.unknownTensorType, file: sf.path, place: "tensor \(module).weight_scale",
                                     "block scales of dtype \(se.dtype) are not supported (NVFP4: F8_E4M3, MXFP4: U8)")
            }
        default:
            throw ModelLoadError(.unknownTensorType, file: file.path, place: "tensor \(name)", "dtype \(e.dtype) cannot hold weights")
        }
    }

    func vector(_ name: String, count: Int) throws -> [Float] {
        guard let (file, e) = find(name) else {
            throw ModelLoadError(.missingTensor, file: path, place: "tensor \(name)", "no file has tensor \"\(name)\" (expected \(count) values)")
        }
        let v = try file.floats(name, e)
        guard v.count == count else {
            throw ModelLoadError(.shapeMismatch, file: file.path, place: "tensor \(name)", "has \(v.count) values, expected \(count)")
        }
        return v
    }
}
