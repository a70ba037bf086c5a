import TandemCore
import TandemKernels

/// One metadata value of a GGUF file.
public enum GGUFValue: Sendable, Equatable {
    case uint(UInt64)
    case int(Int64)
    case float(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    public var intValue: Int? {
        switch self {
        case .uint(let v): Int(exactly: v)
        case .int(let v): Int(exactly: v)
        case .float(let v): Int(exactly: v)
        default: nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .uint(let v): Double(v)
        case .int(let v): Double(v)
        case .float(let v): v
        default: nil
        }
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var arrayValue: [GGUFValue]? { if case .array(let a) = self { a } else { nil } }
}

/// A tensor's entry in a GGUF file: its shape in GGML order (`dims[0]` varies fastest).
public struct GGUFTensorInfo: Sendable {
    public let name: String
    public let dims: [Int]
    public let ggmlType: UInt32
    /// Byte offset of the data within the file.
    public let fileOffset: Int
    public var elementCount: Int { dims.reduce(1, *) }
}

/// A memory-mapped GGUF file (llama.cpp's format): header, metadata, tensor directory.
/// Spec: ggml's docs/gguf.md. Tensor data is never copied.
public final class GGUFFile: @unchecked Sendable {
    public let file: MappedFile
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    public let tensors: [String: GGUFTensorInfo]
    /// Tensor names in file order.
    public let tensorOrder: [String]

    public var path: String { file.path }

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        var r = ByteReader(file)
        let magic = try r.read(UInt32.self, "the magic number")
        guard magic == 0x4655_4747 else { // "GGUF" little-endian
            throw ModelLoadError(.badMagic, file: file.path, place: "byte 0",
                                 "not a GGUF file: magic is 0x\(String(magic, radix: 16)), expected \"GGUF\" (0x46554747)")
        }
        version = try r.read(UInt32.self, "the version")
        guard version == 2 || version == 3 else {
            throw ModelLoadError(.unsupportedVersion, file: file.path, place: "byte 4",
                                 "GGUF version \(version) is not supported (supported: 2, 3)")
        }
        let tensorCount = try r.read(UInt64.self, "the tensor count")
        let kvCount = try r.read(UInt64.self, "the metadata count")
        guard tensorCount < 1_000_000, kvCount < 1_000_000 else {
            throw ModelLoadError(.badMetadata, file: file.path, place: "byte 8",
                                 "implausible counts (\(tensorCount) tensors, \(kvCount) keys): the header is corrupt")
        }
        var meta: [String: GGUFValue] = [:]
        for i in 0..<Int(kvCount) {
            let key = try Self.readString(&r, "metadata key #\(i)")
            let type = try r.read(UInt32.self, "the type of \(key)")
            meta[key] = try Self.readValue(&r, type: type, key: key, path: file.path)
        }
        metadata = meta
        var infos: [String: GGUFTensorInfo] = [:]
        var order: [String] = []
        var relative: [(String, [Int], UInt32, UInt64)] = []
        for i in 0..<Int(tensorCount) {
            let name = try Self.readString(&r, "the name of tensor #\(i)")
            let nd = try r.read(UInt32.self, "the rank of \(name)")
            guard nd >= 1 && nd <= 4 else {
                throw ModelLoadError(.badMetadata, file: file.path, place: "tensor \(name)", "rank \(nd) is outside 1...4")
            }
            var dims: [Int] = []
            var elements = 1
            for _ in 0..<nd {
                let d = try r.read(UInt64.self, "the shape of \(name)")
                guard d > 0, d < 1 << 40 else {
                    throw ModelLoadError(.badMetadata, file: file.path, place: "tensor \(name)", "dimension \(d) is not plausible")
                }
                dims.append(Int(d))
                let (product, overflow) = elements.multipliedReportingOverflow(by: Int(d))
                guard !overflow, product < 1 << 48 else {
                    throw ModelLoadError(.badMetadata, file: file.path, place: "tensor \(name)",
                                         "shape \(dims) holds more elements than any model file can: the header is corrupt")
                }
                elements = product
            }
            let type = try r.read(UInt32.self, "the type of \(name)")
            let off = try r.read(UInt64.self, "the offset of \(name)")
            guard off < UInt64(file.size) else {
                throw ModelLoadError(.truncated, file: file.path, place: "tensor \(name)",
                                     "data offset \(off) lies past the end of the file (\(file.size) bytes): the file is truncated or corrupt")
            }
            relative.append((name, dims, type, off))
            order.append(name)
        }
        let alignment = meta["general.alignment"]?.intValue ?? 32
        guard alignment > 0, alignment <= 1 << 16, alignment & (alignment - 1) == 0 else {
            throw ModelLoadError(.badMetadata, file: file.path, place: "key general.alignment",
                                 "alignment \(meta["general.alignment"].map { "\($0)" } ?? "") must be a power of two up to 65536 (GGUF's default is 32)")
        }
        let dataStart = (r.offset + alignment - 1) / alignment * alignment
        for (name, dims, type, off) in relative {
            let info = GGUFTensorInfo(name: name, dims: dims, ggmlType: type, fileOffset: dataStart + Int(off))
            if let dtype = GGUFFile.dtype(ggmlType: type) {
                let count = info.elementCount
                guard let bytes = dtype.byteCount(elements: count) else {
                    throw ModelLoadError(.shapeMismatch, file: file.path, place: "tensor \(name)",
                                         "\(count) elements is not a whole number of \(dtype) blocks of \(dtype.blockSize)")
                }
                if bytes > file.size - info.fileOffset {
                    throw ModelLoadError(.truncated, file: file.path, place: "tensor \(name) at byte \(info.fileOffset)",
                                         "data needs \(bytes) bytes but the file ends at \(file.size): the file is truncated — download it again")
                }
            }
            infos[name] = info
        }
        tensors = infos
        tensorOrder = order
    }

    /// Our dtype for a GGML type number, nil for types Tandem cannot compute with.
    public static func dtype(ggmlType: UInt32) -> DType? {
        switch ggmlType {
        case 0: .f32
        case 1: .f16
        case 2: .q4_0
        case 3: .q4_1
        case 6: .q5_0
        case 7: .q5_1
        case 8: .q8_0
        case 10: .q2_k
        case 11: .q3_k
        case 12: .q4_k
        case 13: .q5_k
        case 14: .q6_k
        case 20: .iq4_nl
        case 30: .bf16
        case 39: .mxfp4
        default: nil
        }
    }

    static let ggmlTypeNames: [UInt32: String] = [
        0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
        10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS",
        17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S", 23: "IQ4_XS",
        24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64", 29: "IQ1_M", 30: "BF16", 34: "TQ1_0",
        35: "TQ2_0", 39: "MXFP4",
    ]

    /// The element format of tensor `name`, or an error naming its type and what is supported.
    private func weightType(_ info: GGUFTensorInfo, _ name: String) throws -> DType {
        guard let dtype = GGUFFile.dtype(ggmlType: info.ggmlType) else {
            let tname = GGUFFile.ggmlTypeNames[info.ggmlType] ?? "#\(info.ggmlType)"
            throw ModelLoadError(.unknownTensorType, file: path, place: "tensor \(name)",
                                 "tensor type \(tname) is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, MXFP4); requantize the model, e.g. with llama-quantize to Q8_0")
        }
        return dtype
    }

    /// The tensor `name` as a matrix of `rows` × `cols` (GGML dims `[cols, rows]`).
    public func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
        guard let info = tensors[name] else {
            throw ModelLoadError(.missingTensor, file: path, place: "tensor \(name)",
                                 "the model has no tensor \"\(name)\" (expected shape [\(cols), \(rows)]); the file is incomplete or not a llama model")
        }
        let dtype = try weightType(info, name)
        let flat = info.dims.count == 1 ? [info.dims[0], 1] : info.dims
        guard flat.count == 2, flat[0] == cols, flat[1] == rows else {
            throw ModelLoadError(.shapeMismatch, file: path, place: "tensor \(name)",
                                 "shape \(info.dims) does not match the expected [\(cols), \(rows)]")
        }
        let m = WeightMatrix(dtype: dtype, rows: rows, cols: cols, base: file.base + info.fileOffset, owner: file)
        return dtype == .q5_0 ? Self.q8_0(fromQ5_0: m) : m
    }

    /// A Q5_0 matrix as Q8_0, value for value: Q5_0 stores d·(q − 16) with q in 0...31, which a
    /// Q8_0 block holds exactly with the same d and the int8 q − 16. The fused Q8_0 kernels then
    /// multiply it (Q5_0 has only the portable dequantise-and-dot route), for 12 more bytes per
    /// 32 values held in memory. llama-quantize's Q4_K_M puts Q5_0 on every matrix whose rows are
    /// not whole 256-value super-blocks (SmolLM2's 576 columns: 166 of its 211 matrices).
    static func q8_0(fromQ5_0 m: WeightMatrix) -> WeightMatrix {
        let blocks = m.cols / 32
        let buffer = RawBuffer(count: m.rows * blocks * 34)
        let dst = buffer.pointer.assumingMemoryBound(to: UInt8.self)
        for r in 0..<m.rows {
            let src = (m.base + r * m.rowBytes).assumingMemoryBound(to: UInt8.self)
            for b in 0..<blocks {
                let p = src + b * 22, out = dst + (r * blocks + b) * 34
                out[0] = p[0]
                out[1] = p[1]
                let qh = UInt32(p[2]) | UInt32(p[3]) << 8 | UInt32(p[4]) << 16 | UInt32(p[5]) << 24
                for j in 0..<16 {
                    let lo = Int(p[6 + j] & 0x0F) | Int((qh >> j) & 1) << 4
                    let hi = Int(p[6 + j] >> 4) | Int((qh >> (j + 16)) & 1) << 4
                    out[2 + j] = UInt8(bitPattern: Int8(lo - 16))
                    out[2 + j + 16] = UInt8(bitPattern: Int8(hi - 16))
                }
            }
        }
        return WeightMatrix(dtype: .q8_0, rows: m.rows, cols: m.cols, base: UnsafeRawPointer(buffer.pointer), owner: buffer)
    }

    /// `count` matrices of (rows, cols) stacked in a 3-D tensor of GGUF shape [cols, rows, count]
    /// (llama.cpp's `ffn_*_exps`): row views of the one mapped tensor, expert e at rows e·rows.
    public func stackedMatrices(_ name: String, count: Int, rows: Int, cols: Int) throws -> [WeightMatrix] {
        guard let info = tensors[name] else {
            throw ModelLoadError(.missingTensor, file: path, place: "tensor \(name)",
                                 "the model has no tensor \"\(name)\" (expected shape [\(cols), \(rows), \(count)]: one matrix per expert)")
        }
        guard info.dims == [cols, rows, count] else {
            throw ModelLoadError(.shapeMismatch, file: path, place: "tensor \(name)",
                                 "shape \(info.dims) does not match the expected [\(cols), \(rows), \(count)] (columns, rows, experts)")
        }
        let dtype = try weightType(info, name)
        var all = WeightMatrix(dtype: dtype, rows: rows * count, cols: cols, base: file.base + info.fileOffset, owner: file)
        if dtype == .q5_0 { all = Self.q8_0(fromQ5_0: all) }
        return (0..<count).map { all.slicingRows(($0 * rows)..<(($0 + 1) * rows)) }
    }

    private static func readString(_ r: inout ByteReader, _ what: String) throws -> String {
        let n = try r.read(UInt64.self, "the length of \(what)")
        guard n < 1 << 30 else {
            throw ModelLoadError(.badMetadata, file: r.file.path, place: "byte \(r.offset - 8)", "string length \(n) in \(what) is not plausible: the file is corrupt")
        }
        return try r.readString(length: Int(n), what)
    }

    private static func readValue(_ r: inout ByteReader, type: UInt32, key: String, path: String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case 0: return .uint(UInt64(try r.read(UInt8.self, key)))
        case 1: return .int(Int64(try r.read(Int8.self, key)))
        case 2: return .uint(UInt64(try r.read(UInt16.self, key)))
        case 3: return .int(Int64(try r.read(Int16.self, key)))
        case 4: return .uint(UInt64(try r.read(UInt32.self, key)))
        case 5: return .int(Int64(try r.read(Int32.self, key)))
        case 6: return .float(Double(try r.readFloat(key)))
        case 7: return .bool(try r.read(UInt8.self, key) != 0)
        case 8: return .string(try readString(&r, key))
        case 9:
            let elementType = try r.read(UInt32.self, "the element type of \(key)")
            let count = try r.read(UInt64.self, "the length of \(key)")
            // Every element takes at least one byte, so a count past the bytes left is corrupt (and
            // must not reserve memory); arrays nest at most a few levels in real files.
            guard count < 1 << 28, count <= UInt64(r.file.size - r.offset) else {
                throw ModelLoadError(.badMetadata, file: path, place: "key \(key)", "array length \(count) is not plausible")
            }
            guard depth < 4 else {
                throw ModelLoadError(.badMetadata, file: path, place: "key \(key)", "arrays nested more than 4 deep: the file is corrupt")
            }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { values.append(try readValue(&r, type: elementType, key: key, path: path, depth: depth + 1)) }
            return .array(values)
        case 10: return .uint(try r.read(UInt64.self, key))
        case 11: return .int(try r.read(Int64.self, key))
        case 12: return .float(try r.readDouble(key))
        default:
            throw ModelLoadError(.badMetadata, file: path, place: "key \(key) at byte \(r.offset - 4)",
                                 "unknown metadata value type \(type) (known: 0...12)")
        }
    }
}
