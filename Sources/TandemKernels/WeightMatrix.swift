import CTandemKernels
import TandemCore

/// Scales a `WeightMatrix` keeps outside its row bytes. GGML block formats, MXFP4 and the float
/// formats carry their scales inside the rows (`.none`).
public enum WeightScales: @unchecked Sendable {
    /// Nothing outside the rows (FP8 with `.none` means scale 1).
    case none
    /// FP8: value = e4m3 × scale.
    case perTensor(Float)
    /// FP8: value of row r = e4m3 × tensor × rows[r]; `rows` indexed from this matrix's row 0.
    case perRow(tensor: Float, rows: UnsafePointer<Float>)
    /// NVFP4: value = e2m1 × (e4m3(blocks[r·cols/16 + c/16]) × tensor); `blocks` (rows, cols/16)
    /// row-major, from this matrix's row 0.
    case blocks(tensor: Float, blocks: UnsafePointer<UInt8>)

    /// Whether these scales suit `dtype`.
    public func fits(_ dtype: DType) -> Bool {
        switch (dtype, self) {
        case (.fp8_e4m3, .none), (.fp8_e4m3, .perTensor), (.fp8_e4m3, .perRow): true
        case (.nvfp4, .blocks): true
        case (.nvfp4, _), (_, .perTensor), (_, .perRow), (_, .blocks): false
        default: true
        }
    }
}

/// A read-only matrix of weights, row-major with one output feature per row, stored in any
/// `DType`. The bytes usually live in a memory-mapped checkpoint; `owner` keeps them (and any
/// scale planes `scales` points into) alive.
public struct WeightMatrix: @unchecked Sendable {
    public let dtype: DType
    /// Output features.
    public let rows: Int
    /// Input features.
    public let cols: Int
    /// Row 0's data; row r starts at base + r · rowBytes.
    public let base: UnsafeRawPointer
    /// Scales stored outside the rows (FP8, NVFP4).
    public let scales: WeightScales
    /// Whatever owns the memory at `base` and in `scales` (a mapping, a buffer); retained, never read.
    public let owner: AnyObject?

    public init(dtype: DType, rows: Int, cols: Int, base: UnsafeRawPointer, scales: WeightScales = .none, owner: AnyObject?) {
        precondition(scales.fits(dtype), "\(dtype) weights cannot carry \(scales) scales")
        self.dtype = dtype
        self.rows = rows
        self.cols = cols
        self.base = base
        self.scales = scales
        self.owner = owner
    }

    /// Bytes of one row's data (NVFP4 block scales not included).
    public var rowBytes: Int { dtype.byteCount(elements: cols) ?? 0 }
    /// Bytes of row data (what `base` spans).
    public var byteCount: Int { rowBytes * rows }
    /// Bytes a full multiply reads: row data plus separate scale planes.
    public var storageBytes: Int {
        switch scales {
        case .none: byteCount
        case .perTensor: byteCount + 4
        case .perRow: byteCount + 4 * rows + 4
        case .blocks: byteCount + rows * (cols / 16) + 4
        }
    }

    /// y (rows) = W · x (cols), over rows `range` (default: all). Runs the fastest kernel for the
    /// format (tk_gemv: FP8, NVFP4, MXFP4, Q8_0, Q4_0, Q4_1; tk_matvec: F32, F16, BF16, Q4_K, Q5_K,
    /// Q6_K), with
    /// rows split over `KernelThreads` when the matrix is large enough; same results on any thread count.
    public func multiply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows range: Range<Int>? = nil) {
        let r = range ?? 0..<rows
        precondition(r.lowerBound >= 0 && r.upperBound <= rows, "rows \(r) out of 0..<\(rows)")
        let status: Int32
        if dtype.hasFusedGEMV {
            status = withKernelWeights { w in tk_gemv_mt(w, x, y, Int64(r.lowerBound), Int64(r.upperBound)) }
        } else {
            status = tk_matvec_mt(dtype.kernelType, base, x, y, Int64(r.lowerBound), Int64(r.upperBound), Int64(cols))
        }
        precondition(status == 0, "matrix-vector kernel rejected \(dtype) with \(cols) columns (\(KernelError.describe(status: status))); loaders validate this")
    }

    /// As `multiply`, on one thread and an explicit GEMV path (for tests and benchmarks).
    /// Returns false if the path cannot run here.
    public func multiply(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows range: Range<Int>? = nil,
                         path: tk_gemv_path) -> Bool {
        let r = range ?? 0..<rows
        guard dtype.hasFusedGEMV else {
            return tk_matvec(dtype.kernelType, base, x, y, Int64(r.lowerBound), Int64(r.upperBound), Int64(cols)) == 0
        }
        return withKernelWeights { w in tk_gemv_with_path(path, w, x, y, Int64(r.lowerBound), Int64(r.upperBound)) } == 0
    }

    /// Tokens from which a batched multiply goes through the blocked GEMM (tandem_gemm.h) instead of
    /// one fused GEMV per token. F16/BF16: always (tk_matvec converts them one scalar at a time, the
    /// GEMM's panel conversion is vectorised: SmolLM2 F16 decode went from 2.6 to tens of tokens/s);
    /// F32 needs no conversion, so two tokens already pay. Quantised rows are repacked (integer
    /// route: Q8_0, Q4_0, MXFP4, NVFP4 on x86) or dequantised (float route) once per call. The
    /// repack costs about one GEMV, so the integer route is ahead from 2 tokens (1.2-1.6x two GEMVs,
    /// `bench-kernels --batches`, 1536 x 576, Xeon with AVX-512; NVFP4, which also converts a scale
    /// per 16 values, level at 2 and ahead from 3); the float route's dequantisation costs about
    /// three GEMVs, level at 4 tokens.
    public var gemmMinTokens: Int {
        switch dtype {
        case .f16, .bf16: 1
        case .f32: 2
        default:
            tk_gemm_activation_bits(TK_PATH_AUTO, dtype.kernelType) == 0 ? 4 : dtype == .nvfp4 ? 3 : 2
        }
    }

    /// Every `multiply(batch:)` through the GEMM, whatever n is, so a token's result never
    /// depends on how many tokens share the call (`serve --batch-invariant on`). Set once at
    /// start, before any forward pass.
    nonisolated(unsafe) public static var batchInvariant = false

    /// Y (n, rows) = X (n, cols) · Wᵀ: `x` holds n token vectors `ldx` floats apart, `y` gets n
    /// rows `ldy` floats apart (columns `rows`, default all, written at their own indices).
    /// From `gemmMinTokens` tokens the blocked GEMM runs (each weight read once per call); below,
    /// one `multiply` per token. A token's result depends only on its own vector and on whether
    /// the call took the GEMM route (the two routes differ by f32 rounding).
    public func multiply(batch n: Int, _ x: UnsafePointer<Float>, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
                         rows range: Range<Int>? = nil) {
        let r = range ?? 0..<rows
        precondition(r.lowerBound >= 0 && r.upperBound <= rows, "rows \(r) out of 0..<\(rows)")
        precondition(ldx >= cols && ldy >= r.upperBound, "strides \(ldx), \(ldy) too small for \(cols) columns, \(r.upperBound) rows")
        guard n >= (Self.batchInvariant ? 1 : gemmMinTokens) else {
            for t in 0..<n { multiply(x + t * ldx, into: y + t * ldy, rows: r) }
            return
        }
        let status = withKernelWeights { w in
            tk_gemm_mt(w, x, Int64(ldx), y, Int64(ldy), Int64(n), Int64(r.lowerBound), Int64(r.upperBound))
        }
        precondition(status == 0, "GEMM kernel rejected \(dtype) with \(cols) columns (\(KernelError.describe(status: status))); loaders validate this")
    }

    /// As `multiply(batch:)` through the GEMM on one thread and an explicit path, whatever n is
    /// (tests and benchmarks). Returns false if the path cannot run here.
    public func multiplyGEMM(batch n: Int, _ x: UnsafePointer<Float>, ldx: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
                             path: tk_gemv_path) -> Bool {
        withKernelWeights { w in tk_gemm_with_path(path, w, x, Int64(ldx), y, Int64(ldy), Int64(n), 0, Int64(rows)) } == 0
    }

    /// The kernel library's description of this matrix, as tk_gemv and tk_gemm take it (valid
    /// inside `body` only).
    public func withKernelWeights<R>(_ body: (UnsafePointer<tk_weights>) -> R) -> R {
        var w = tk_weights(format: dtype.kernelType, cols: Int64(cols), data: base,
                           block_scales: nil, row_scales: nil, scale: 1)
        switch scales {
        case .none: break
        case .perTensor(let s): w.scale = s
        case .perRow(let t, let rs): w.scale = t; w.row_scales = rs
        case .blocks(let t, let bs): w.scale = t; w.block_scales = bs
        }
        return body(&w)
    }

    /// Dequantised copy of row `r` into `out` (cols).
    public func row(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(r >= 0 && r < rows, "row \(r) out of 0..<\(rows)")
        let src = base + r * rowBytes
        switch (dtype, scales) {
        case (.fp8_e4m3, _):
            tk_dequantize_row_fp8_e4m3(src.assumingMemoryBound(to: UInt8.self), out, Int64(cols), rowScale(r))
        case (.nvfp4, .blocks(let t, let bs)):
            let status = tk_dequantize_row_nvfp4(src.assumingMemoryBound(to: UInt8.self), bs + r * (cols / 16), t, out, Int64(cols))
            precondition(status == 0, "NVFP4 rows need a multiple of 16 columns")
        default:
            let status = tk_dequantize_row(dtype.kernelType, src, out, Int64(cols))
            precondition(status == 0, "tk_dequantize_row rejected \(dtype) (\(KernelError.describe(status: status)))")
        }
    }

    /// FP8: the scale of row r (tensor × per-row); 1 for other formats.
    public func rowScale(_ r: Int) -> Float {
        switch scales {
        case .none, .blocks: 1
        case .perTensor(let s): s
        case .perRow(let t, let rs): t * rs[r]
        }
    }

    /// Rows `range` as a matrix sharing the same storage (scale planes sliced alike).
    public func slicingRows(_ range: Range<Int>) -> WeightMatrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "rows \(range) out of 0..<\(rows)")
        let s: WeightScales
        switch scales {
        case .none, .perTensor: s = scales
        case .perRow(let t, let rs): s = .perRow(tensor: t, rows: rs + range.lowerBound)
        case .blocks(let t, let bs): s = .blocks(tensor: t, blocks: bs + range.lowerBound * (cols / 16))
        }
        return WeightMatrix(dtype: dtype, rows: range.count, cols: cols, base: base + range.lowerBound * rowBytes,
                            scales: s, owner: owner)
    }
}

extension DType {
    /// The kernel library's number for this type (tk_type, tandem_kernels.h): GGUF's number for the
    /// GGML types, Tandem's own (1024 up) for FP8 and NVFP4. Total: every DType has one, and the
    /// switch has no default, so a new DType does not compile until it is given its kernel type.
    public var kernelType: tk_type {
        switch self {
        case .f32: TK_F32
        case .f16: TK_F16
        case .bf16: TK_BF16
        case .q8_0: TK_Q8_0
        case .q4_0: TK_Q4_0
        case .q4_1: TK_Q4_1
        case .q5_0: TK_Q5_0
        case .q5_1: TK_Q5_1
        case .mxfp4: TK_MXFP4
        case .q4_k: TK_Q4_K
        case .q5_k: TK_Q5_K
        case .q6_k: TK_Q6_K
        case .q2_k: TK_Q2_K
        case .q3_k: TK_Q3_K
        case .iq4_nl: TK_IQ4_NL
        case .fp8_e4m3: TK_FP8_E4M3
        case .nvfp4: TK_NVFP4
        }
    }

    /// The type a kernel type number stands for.
    /// - Throws: `KernelError.unsupportedFormat` naming the number when no DType has it.
    public init(kernelType: tk_type) throws {
        guard let dtype = DType.allCases.first(where: { $0.kernelType == kernelType }) else {
            throw KernelError(.unsupportedFormat, "kernel type \(kernelType.rawValue) is not a weight format Tandem knows")
        }
        self = dtype
    }

    /// Whether tk_gemv has a fused dequantise-and-multiply kernel for this type (FP8, NVFP4, MXFP4,
    /// Q8_0, Q4_0, Q4_1: the kernel library says); the float formats and the K-quants go through tk_matvec.
    public var hasFusedGEMV: Bool { tk_gemv_supports(kernelType) == 1 }
}

/// Owned, aligned raw bytes that outlive the views made of them.
public final class RawBuffer: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int

    public init(count: Int) {
        self.count = count
        pointer = .allocate(byteCount: max(count, 1), alignment: 64)
    }

    deinit { pointer.deallocate() }
}

extension WeightMatrix {
    /// Columns `range` copied into owned memory (row-parallel shards: a strided slice of a
    /// row-major matrix is not contiguous). Block formats need block-aligned bounds; NVFP4's
    /// block-scale plane is sliced alike, FP8's tensor and row scales are shared.
    public func copyingColumns(_ range: Range<Int>) -> WeightMatrix? {
        let bs = dtype.blockSize
        guard range.lowerBound >= 0, range.lowerBound % bs == 0, range.count % bs == 0, range.upperBound <= cols,
              let newRowBytes = dtype.byteCount(elements: range.count) else { return nil }
        let startByte = range.lowerBound / bs * dtype.blockBytes
        let dataBytes = newRowBytes * rows
        let extraBytes: Int  // scale planes copied after the rows
        switch scales {
        case .none, .perTensor: extraBytes = 0
        case .perRow: extraBytes = 4 * rows
        case .blocks: extraBytes = rows * (range.count / 16)
        }
        let buffer = RawBuffer(count: dataBytes + extraBytes)
        for r in 0..<rows {
            (buffer.pointer + r * newRowBytes).copyMemory(from: base + r * rowBytes + startByte, byteCount: newRowBytes)
        }
        let s: WeightScales
        switch scales {
        case .none, .perTensor: s = scales
        case .perRow(let t, let rs):
            // Copied too, so the slice does not depend on the source's row-scale storage.
            let dst = (buffer.pointer + dataBytes).bindMemory(to: Float.self, capacity: rows)
            dst.update(from: rs, count: rows)
            s = .perRow(tensor: t, rows: dst)
        case .blocks(let t, let blocks):
            let dst = (buffer.pointer + dataBytes).bindMemory(to: UInt8.self, capacity: extraBytes)
            let oldPerRow = cols / 16, newPerRow = range.count / 16, first = range.lowerBound / 16
            for r in 0..<rows {
                (dst + r * newPerRow).update(from: blocks + r * oldPerRow + first, count: newPerRow)
            }
            s = .blocks(tensor: t, blocks: dst)
        }
        return WeightMatrix(dtype: dtype, rows: rows, cols: range.count, base: UnsafeRawPointer(buffer.pointer),
                            scales: s, owner: buffer)
    }

    /// Rows (and scale planes) copied into owned memory (so the mapping's pages need not stay resident).
    public func copied() -> WeightMatrix {
        switch scales {
        case .none, .perTensor: break
        case .perRow, .blocks: return copyingColumns(0..<cols)!
        }
        let buffer = RawBuffer(count: byteCount)
        buffer.pointer.copyMemory(from: base, byteCount: byteCount)
        return WeightMatrix(dtype: dtype, rows: rows, cols: cols, base: UnsafeRawPointer(buffer.pointer), scales: scales, owner: buffer)
    }
}
