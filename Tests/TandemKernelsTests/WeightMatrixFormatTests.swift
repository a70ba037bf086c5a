import CTandemKernels
import Testing
import TandemCore
@testable import TandemKernels

/// Random FP32 weights as a WeightMatrix (owned), for conversion tests.
func randomF32Matrix(rows: Int, cols: Int, rng: inout TestRNG, spread: Float = 0.1) -> WeightMatrix {
    let buffer = RawBuffer(count: rows * cols * 4)
    let p = buffer.pointer.bindMemory(to: Float.self, capacity: rows * cols)
    for i in 0..<rows * cols { p[i] = rng.normal() * spread * Float(1 + (i % 5)) }
    return WeightMatrix(dtype: .f32, rows: rows, cols: cols, base: UnsafeRawPointer(buffer.pointer), owner: buffer)
}

/// y = W x in Double from the dequantised rows: the reference every kernel is compared with.
func referenceProduct(_ w: WeightMatrix, _ x: [Float]) -> (y: [Double], magnitude: [Double]) {
    let dense = w.dequantized()
    var y = [Double](repeating: 0, count: w.rows), mag = y
    for r in 0..<w.rows {
        for c in 0..<w.cols {
            let p = Double(dense[r * w.cols + c]) * Double(x[c])
            y[r] += p
            mag[r] += abs(p)
        }
    }
    return (y, mag)
}

/// The integer route's activation-rounding bound (see GEMVTests), for per-value weights `w`.
func activationBound(_ w: ArraySlice<Float>, _ x: [Float]) -> Double {
    var bound = 0.0
    for start in stride(from: 0, to: x.count, by: 32) {
        let end = min(start + 32, x.count)
        let amax = x[start..<end].map { abs(Double($0)) }.max() ?? 0
        let sw = w[w.startIndex + start..<w.startIndex + end].reduce(0.0) { $0 + abs(Double($1)) }
        bound += amax / 254 * sw * 1.001
    }
    return bound
}

@Suite("WeightMatrix in every format: multiply, row, slices")
struct WeightMatrixFormatTests {
    static let formats: [DType] = [.f32, .f16, .fp8_e4m3, .nvfp4, .mxfp4]

    /// The matrix in `dtype` (converted from random FP32) and its x.
    static func sample(_ dtype: DType, rows: Int = 37, cols: Int = 256, seed: UInt64) throws -> (WeightMatrix, [Float]) {
        var rng = TestRNG(seed: seed)
        let m = try randomF32Matrix(rows: rows, cols: cols, rng: &rng).converted(to: dtype)
        return (m, (0..<cols).map { _ in rng.normal() })
    }

    /// |y - ref| within f32 rounding, plus the activation-rounding bound on the integer route
    /// (NVFP4 and MXFP4 on AVX2/AVX-512).
    static func check(_ m: WeightMatrix, _ x: [Float], _ y: [Float], rows: Range<Int>? = nil, context: String) {
        let (ref, mag) = referenceProduct(m, x)
        let dense = m.dequantized()
        let integer = tk_gemv_quantizes_activations(TK_PATH_AUTO, m.dtype.kernelType) == 1
        for r in rows ?? 0..<m.rows {
            let extra = integer ? activationBound(dense[r * m.cols..<(r + 1) * m.cols], x) : 0
            #expect(abs(Double(y[r]) - ref[r]) <= 1e-5 * mag[r] + extra + 1e-12, "\(context) row \(r): \(y[r]) vs \(ref[r])")
        }
    }

    @Test(arguments: formats)
    func multiplyMatchesDequantisedReference(dtype: DType) throws {
        let (m, x) = try Self.sample(dtype, seed: 11)
        #expect(m.dtype == dtype)
        var y = [Float](repeating: .nan, count: m.rows)
        m.multiply(x, into: &y)
        Self.check(m, x, y, context: "\(dtype)")
        // A row range writes only those rows.
        var part = [Float](repeating: .nan, count: m.rows)
        m.multiply(x, into: &part, rows: 5..<9)
        #expect(part[4].isNaN && part[9].isNaN)
        #expect(Array(part[5..<9]) == Array(y[5..<9]))
    }

    @Test(arguments: formats)
    func slicedRowsAndColumnsComputeTheSameProducts(dtype: DType) throws {
        let (m, x) = try Self.sample(dtype, seed: 12)
        var full = [Float](repeating: 0, count: m.rows)
        m.multiply(x, into: &full)
        // Rows: a view; same rows, same bits.
        let rs = m.slicingRows(10..<30)
        var ys = [Float](repeating: 0, count: 20)
        rs.multiply(x, into: &ys)
        #expect(ys == Array(full[10..<30]))
        var row = [Float](repeating: 0, count: m.cols), sliced = row
        m.row(17, into: &row)
        rs.row(7, into: &sliced)
        #expect(row == sliced)
        // Columns: two halves (block-aligned) sum to the whole product; rows dequantise to the halves.
        let left = try #require(m.copyingColumns(0..<128)), right = try #require(m.copyingColumns(128..<256))
        var yl = [Float](repeating: 0, count: m.rows), yr = yl
        Array(x[0..<128]).withUnsafeBufferPointer { left.multiply($0.baseAddress!, into: &yl) }
        Array(x[128..<256]).withUnsafeBufferPointer { right.multiply($0.baseAddress!, into: &yr) }
        let (ref, mag) = referenceProduct(m, x)
        let dense = m.dequantized()
        let integer = tk_gemv_quantizes_activations(TK_PATH_AUTO, dtype.kernelType) == 1
        for r in 0..<m.rows {
            let extra = integer ? activationBound(dense[r * 256..<(r + 1) * 256], x) : 0
            #expect(abs(Double(yl[r] + yr[r]) - ref[r]) <= 1e-5 * mag[r] + extra + 1e-12)
        }
        var half = [Float](repeating: 0, count: 128)
        right.row(3, into: &half)
        m.row(3, into: &row)
        #expect(half == Array(row[128..<256]))
        // Copies are independent of the source and equal to it.
        let copy = m.copied()
        var yc = [Float](repeating: 0, count: m.rows)
        copy.multiply(x, into: &yc)
        #expect(yc == full)
        #expect(copy.storageBytes == m.storageBytes)
    }

    @Test func nvfp4ColumnSlicesNeedWholeBlocks() throws {
        let (m, _) = try Self.sample(.nvfp4, seed: 13)
        #expect(m.copyingColumns(0..<24) == nil)
        #expect(m.copyingColumns(16..<48) != nil)
        let (mx, _) = try Self.sample(.mxfp4, seed: 13)
        #expect(mx.copyingColumns(16..<48) == nil)
        #expect(mx.copyingColumns(32..<96) != nil)
    }

    @Test func fp8PerRowScalesSurviveSlicing() throws {
        var rng = TestRNG(seed: 14)
        let src = randomF32Matrix(rows: 24, cols: 96, rng: &rng)
        let m = try src.converted(to: .fp8_e4m3, fp8Scaling: .perRow)
        guard case .perRow = m.scales else { Issue.record("expected per-row scales"); return }
        let x = (0..<96).map { _ in rng.normal() }
        var y = [Float](repeating: 0, count: 24)
        m.multiply(x, into: &y)
        Self.check(m, x, y, context: "fp8 per-row")
        // Per-row scales fit each row: every row uses the full E4M3 range (its amax maps to 448).
        let amax = src.rowMaxima()
        for r in 0..<24 { #expect(abs(m.rowScale(r) * 448 - amax[r]) <= 1e-6 * amax[r]) }
        let s = m.slicingRows(8..<16)
        var ys = [Float](repeating: 0, count: 8)
        s.multiply(x, into: &ys)
        #expect(ys == Array(y[8..<16]))
        let c = try #require(m.copyingColumns(0..<48))
        #expect(c.rowScale(5) == m.rowScale(5))
    }

    @Test func conversionErrorsAreReported() throws {
        var rng = TestRNG(seed: 15)
        let m = randomF32Matrix(rows: 4, cols: 40, rng: &rng)
        #expect(m.conversionProblem(to: .nvfp4) != nil)
        #expect(m.conversionProblem(to: .mxfp4) != nil)
        #expect(m.conversionProblem(to: .fp8_e4m3) == nil)
        #expect(m.conversionProblem(to: .q4_1) != nil)
        #expect(throws: KernelError.self) { try m.converted(to: .nvfp4) }
    }

    @Test func quantisationErrorIsWithinEachFormatsStep() throws {
        // Relative RMS error of the weights themselves (observed: FP8 0.027, NVFP4 0.094, MXFP4
        // 0.124, F16 0.0002 on these normal-ish values); a wrong scale or layout lands far above.
        var rng = TestRNG(seed: 16)
        let src = randomF32Matrix(rows: 64, cols: 512, rng: &rng)
        let dense = src.dequantized()
        let norm = dense.reduce(0.0) { $0 + Double($1) * Double($1) }
        for (dtype, limit) in [(DType.fp8_e4m3, 0.035), (.nvfp4, 0.11), (.mxfp4, 0.14), (.f16, 3e-4)] {
            let q = try src.converted(to: dtype).dequantized()
            let err = zip(q, dense).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            #expect((err / norm).squareRoot() < limit, "\(dtype): relative RMS \((err / norm).squareRoot())")
        }
    }

    @Test func storageSizes() throws {
        let (fp8, _) = try Self.sample(.fp8_e4m3, rows: 8, cols: 64, seed: 17)
        #expect(fp8.byteCount == 512 && fp8.storageBytes == 516)
        let (nv, _) = try Self.sample(.nvfp4, rows: 8, cols: 64, seed: 17)
        #expect(nv.byteCount == 256 && nv.storageBytes == 256 + 32 + 4)
        let (mx, _) = try Self.sample(.mxfp4, rows: 8, cols: 64, seed: 17)
        #expect(mx.byteCount == 8 * 34 && mx.storageBytes == mx.byteCount)
        #expect(DType.nvfp4.bitsPerValue == 4.5 && DType.mxfp4.bitsPerValue == 4.25 && DType.fp8_e4m3.bitsPerValue == 8)
    }
}
