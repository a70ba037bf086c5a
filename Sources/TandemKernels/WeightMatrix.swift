import CTandemKernels
import TandemCore

/// A read-only matrix of weights, row-major with one output feature per row, stored in any
/// `DType`. The bytes usually live in a memory-mapped checkpoint; `owner` keeps them alive.
public struct WeightMatrix: @unchecked Sendable {
    public let dtype: DType
    /// Output features.
    public let rows: Int
    /// Input features.
    public let cols: Int
    public let base: UnsafeRawPointer
    /// Whatever owns the memory at `base` (a mapping, an array box); retained, never read.
    public let owner: AnyObject?

    public init(dtype: DType, rows: Int, cols: Int, base: UnsafeRawPointer, owner: AnyObject?) {
        self.dtype = dtype
        self.rows = rows
        self.cols = cols
        self.base = base
        self.owner = owner
    }

    public var rowBytes: Int { dtype.byteCount(elements: cols) ?? 0 }
    public var byteCount: Int { rowBytes * rows }

    /// y (rows) = W · x (cols), over rows `range` (default: all).
    public func multiply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows range: Range<Int>? = nil) {
        let r = range ?? 0..<rows
        let status = tk_matvec(dtype.kernelType, base, x, y, Int64(r.lowerBound), Int64(r.upperBound), Int64(cols))
        precondition(status == 0, "tk_matvec rejected \(dtype) with \(cols) columns; loaders validate this")
    }

    /// Dequantised copy of row `r` into `out` (cols).
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(r >= 0 && r < rows, "row \(r) out of 0..<\(rows)")
        let status = tk_dequantize_row(dtype.kernelType, base + r * rowBytes, out, Int64(cols))
        precondition(status == 0, "tk_dequantize_row rejected \(dtype)")
    }

    /// Rows `range` as a matrix sharing the same storage.
    public func slicingRows(_ range: Range<Int>) -> WeightMatrix {
        WeightMatrix(dtype: dtype, rows: range.count, cols: cols, base: base + range.lowerBound * rowBytes, owner: owner)
    }
}

extension DType {
    /// The kernel library's number for this type (GGUF's numbering).
    public var kernelType: tk_type {
        switch self {
        case .f32: TK_F32
        case .f16: TK_F16
        case .bf16: TK_BF16
        case .q8_0: TK_Q8_0
        case .q4_0: TK_Q4_0
        case .q4_1: TK_Q4_1
        }
    }
}
