import Foundation

/// Writes one safetensors file: 8-byte little-endian header length, a JSON header (name →
/// dtype, shape, data_offsets), then the tensors back to back with no gaps (the format forbids
/// holes). Tensors are ordered by element size, widest first, so every F32 tensor starts at a
/// 4-byte aligned file offset (the header is padded to 8 bytes) and can be read in place.
public struct SafetensorsWriter {
    /// One tensor: its safetensors dtype name ("F32", "F8_E4M3", "U8", ...), shape, byte count,
    /// and a closure producing exactly that many bytes when the file is written.
    public struct Tensor {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        public var byteCount: Int
        public var bytes: () throws -> [UInt8]

        public init(name: String, dtype: String, shape: [Int], byteCount: Int, bytes: @escaping () throws -> [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.byteCount = byteCount
            self.bytes = bytes
        }

        /// Bytes per element of `dtype` (1 for the byte formats).
        var elementSize: Int {
            switch dtype {
            case "F64", "I64", "U64": 8
            case "F32", "I32", "U32": 4
            case "F16", "BF16", "I16", "U16": 2
            default: 1
            }
        }
    }

    public var tensors: [Tensor] = []
    public var metadata: [String: String] = ["format": "pt"]

    public init() {}

    public mutating func add(_ tensor: Tensor) { tensors.append(tensor) }

    /// FP32 values as a tensor.
    public mutating func addF32(_ name: String, shape: [Int], _ values: @escaping () -> [Float]) {
        let count = shape.reduce(1, *)
        add(Tensor(name: name, dtype: "F32", shape: shape, byteCount: count * 4) {
            let v = values()
            precondition(v.count == count, "\(name): \(v.count) values for shape \(shape)")
            return v.withUnsafeBytes { Array($0) }
        })
    }

    /// Writes the file; `progress(bytesWritten, totalBytes)` after each tensor.
    public func write(to path: String, progress: ((Int, Int) throws -> Void)? = nil) throws {
        let ordered = tensors.enumerated().sorted {
            ($0.element.elementSize, -$0.offset) > ($1.element.elementSize, -$1.offset)
        }.map(\.element)
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for t in ordered {
            header[t.name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.byteCount]] as [String: Any]
            offset += t.byteCount
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw ModelExportError("cannot create \(path)")
        }
        defer { try? handle.close() }
        var prefix = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { prefix.append(contentsOf: $0) }
        prefix.append(json)
        try handle.write(contentsOf: prefix)
        var written = 0
        for t in ordered {
            let bytes = try t.bytes()
            guard bytes.count == t.byteCount else {
                throw ModelExportError("\(t.name): produced \(bytes.count) bytes, the header says \(t.byteCount)")
            }
            try handle.write(contentsOf: bytes)
            written += bytes.count
            try progress?(written, offset)
        }
    }
}

/// Why a checkpoint could not be exported (an unsupported format or tokenizer, a file that
/// cannot be written).
public struct ModelExportError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
