import CTandemKernels
import TandemCore

/// How FP8 weights are scaled when quantised here.
public enum FP8Scaling: String, Sendable, CaseIterable {
    /// One FP32 scale for the matrix: amax / 448 (ModelOpt's default `weight_scale`).
    case perTensor = "tensor"
    /// One FP32 scale per output row: row amax / 448 (ModelOpt per-channel).
    case perRow = "row"
}

extension WeightMatrix {
    /// The formats `converted(to:)` can produce.
    public static let conversionTargets: [DType] = [.f32, .f16, .fp8_e4m3, .nvfp4, .mxfp4]

    /// Why this matrix cannot be converted to `target`, or nil if it can (NVFP4 needs a multiple
    /// of 16 columns, MXFP4 of 32).
    public func conversionProblem(to target: DType) -> String? {
        guard Self.conversionTargets.contains(target) else {
            return "conversion to \(target) is not supported (supported: \(Self.conversionTargets.map(\.rawValue).joined(separator: ", ")))"
        }
        if cols % target.blockSize != 0 {
            return "\(cols) columns is not a multiple of \(target)'s \(target.blockSize)-value blocks"
        }
        return nil
    }

    /// Every row dequantised to FP32 and re-quantised into `target` in owned memory, with the scale
    /// rules of `tandem_formats.h` (FP8: amax/448; NVFP4: tensor scale amax/(6·448), E4M3 block
    /// scales; MXFP4: ggml's reference). Rows are processed on `pool` when given.
    public func converted(to target: DType, fp8Scaling: FP8Scaling = .perTensor,
                          pool: KernelThreadPool? = nil) throws(KernelError) -> WeightMatrix {
        if let problem = conversionProblem(to: target) { throw KernelError(.unsupportedConversion, problem) }
        let rowBytes = target.byteCount(elements: cols)!
        let dataBytes = rowBytes * rows
        switch target {
        case .f32, .f16, .mxfp4:
            let buffer = RawBuffer(count: dataBytes)
            forEachRowChunk(pool: pool) { range, scratch in
                for r in range {
                    row(r, into: scratch)
                    let dst = buffer.pointer + r * rowBytes
                    switch target {
                    case .f32: dst.copyMemory(from: scratch, byteCount: rowBytes)
                    case .f16:
                        let h = dst.bindMemory(to: UInt16.self, capacity: cols)
                        for c in 0..<cols { h[c] = tk_f32_to_f16(scratch[c]).littleEndian }
                    default: _ = tk_quantize_row_mxfp4(scratch, dst, Int64(cols))
                    }
                }
            }
            return WeightMatrix(dtype: target, rows: rows, cols: cols, base: UnsafeRawPointer(buffer.pointer), owner: buffer)
        case .fp8_e4m3:
            let rowAmax = rowMaxima(pool: pool)
            let perRow = fp8Scaling == .perRow
            let buffer = RawBuffer(count: dataBytes + (perRow ? 4 * rows : 0))
            let tensorScale: Float = perRow ? 1 : FP8Scaled.scale(amax: rowAmax.max() ?? 0)
            let rowScales = perRow ? (buffer.pointer + dataBytes).bindMemory(to: Float.self, capacity: rows) : nil
            if let rowScales { for r in 0..<rows { rowScales[r] = FP8Scaled.scale(amax: rowAmax[r]) } }
            forEachRowChunk(pool: pool) { range, scratch in
                for r in range {
                    row(r, into: scratch)
                    let dst = (buffer.pointer + r * rowBytes).assumingMemoryBound(to: UInt8.self)
                    tk_quantize_row_fp8_e4m3(scratch, dst, Int64(cols), rowScales.map { $0[r] } ?? tensorScale)
                }
            }
            let scales: WeightScales = rowScales.map { .perRow(tensor: 1, rows: UnsafePointer($0)) } ?? .perTensor(tensorScale)
            return WeightMatrix(dtype: .fp8_e4m3, rows: rows, cols: cols, base: UnsafeRawPointer(buffer.pointer),
                                scales: scales, owner: buffer)
        case .nvfp4:
            let tensorScale = NVFP4.tensorScale(amax: rowMaxima(pool: pool).max() ?? 0)
            let perRow = cols / 16
            let buffer = RawBuffer(count: dataBytes + perRow * rows)
            let blocks = (buffer.pointer + dataBytes).bindMemory(to: UInt8.self, capacity: perRow * rows)
            forEachRowChunk(pool: pool) { range, scratch in
                for r in range {
                    row(r, into: scratch)
                    let dst = (buffer.pointer + r * rowBytes).assumingMemoryBound(to: UInt8.self)
                    _ = tk_quantize_row_nvfp4(scratch, dst, blocks + r * perRow, tensorScale, Int64(cols))
                }
            }
            return WeightMatrix(dtype: .nvfp4, rows: rows, cols: cols, base: UnsafeRawPointer(buffer.pointer),
                                scales: .blocks(tensor: tensorScale, blocks: UnsafePointer(blocks)), owner: buffer)
        default:
            throw KernelError(.unsupportedConversion, "conversion to \(target) is not supported")
        }
    }

    /// All values as FP32, row-major (rows × cols).
    public func dequantized() -> [Float] {
        var out = [Float](repeating: 0, count: rows * cols)
        out.withUnsafeMutableBufferPointer { buf in
            for r in 0..<rows { row(r, into: buf.baseAddress! + r * cols) }
        }
        return out
    }

    /// max |value| of each row (NaN ignored).
    public func rowMaxima(pool: KernelThreadPool? = nil) -> [Float] {
        let out = FloatBuffer(count: rows)
        forEachRowChunk(pool: pool) { range, scratch in
            for r in range {
                row(r, into: scratch)
                out[r] = tk_amax(scratch, Int64(cols))
            }
        }
        return out.array
    }

    /// Calls `body` with disjoint row ranges covering all rows (in parallel on `pool`), each with
    /// a private scratch row of `cols` floats.
    private func forEachRowChunk(pool: KernelThreadPool?, _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let tasks = pool.map { min($0.size * 4, max(1, rows / 8)) } ?? 1
        func run(_ t: Int) {
            let range = (rows * t / tasks)..<(rows * (t + 1) / tasks)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(cols, 1))
            defer { scratch.deallocate() }
            body(range, scratch)
        }
        if let pool, tasks > 1 { pool.run(tasks: tasks, run) } else { run(0) }
    }
}

extension WeightMatrix {
    /// Row `i` of the result is row `order[i]` of this matrix (data and per-row scale planes
    /// copied; a per-tensor scale is shared). `order` must be a permutation of 0..<rows.
    public func permutingRows(_ order: [Int]) -> WeightMatrix {
        precondition(order.count == rows && Set(order).count == rows && order.allSatisfy { $0 >= 0 && $0 < rows },
                     "permutingRows needs a permutation of 0..<\(rows)")
        let dataBytes = byteCount
        let planeRow: Int  // bytes per row of a separate scale plane
        switch scales {
        case .none, .perTensor: planeRow = 0
        case .perRow: planeRow = 4
        case .blocks: planeRow = cols / 16
        }
        let buffer = RawBuffer(count: dataBytes + planeRow * rows)
        for (i, r) in order.enumerated() {
            (buffer.pointer + i * rowBytes).copyMemory(from: base + r * rowBytes, byteCount: rowBytes)
        }
        let s: WeightScales
        switch scales {
        case .none, .perTensor: s = scales
        case .perRow(let t, let rs):
            let dst = (buffer.pointer + dataBytes).bindMemory(to: Float.self, capacity: rows)
            for (i, r) in order.enumerated() { dst[i] = rs[r] }
            s = .perRow(tensor: t, rows: dst)
        case .blocks(let t, let bs):
            let dst = (buffer.pointer + dataBytes).bindMemory(to: UInt8.self, capacity: planeRow * rows)
            for (i, r) in order.enumerated() { (dst + i * planeRow).update(from: bs + r * planeRow, count: planeRow) }
            s = .blocks(tensor: t, blocks: dst)
        }
        return WeightMatrix(dtype: dtype, rows: rows, cols: cols, base: UnsafeRawPointer(buffer.pointer), scales: s, owner: buffer)
    }
}

/// Keeps several owners alive for one `WeightMatrix` (e.g. a mapped file and a copied scale plane).
public final class OwnerGroup: @unchecked Sendable {
    public let members: [AnyObject]
    public init(_ members: [AnyObject]) { self.members = members }
}
