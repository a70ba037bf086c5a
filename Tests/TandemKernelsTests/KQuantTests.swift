import CTandemKernels
import Foundation
import Testing
import TandemCore
@testable import TandemKernels

/// The GGML K-quants Q2_K to Q6_K, IQ4_NL, Q5_0 and Q5_1 against the `gguf` Python package's NumPy
/// dequantiser.
/// Fixtures/kquant_blocks.json (tools/reference/make_kquant_fixture.py): rows of random
/// super-blocks (random bytes, FP16 d/dmin any finite half, zero, negative and subnormal
/// included) and the float32 values gguf-py gives for them.
@Suite("K-quants (Q2_K to Q6_K) and IQ4_NL against gguf-py")
struct KQuantTests {
    struct Case {
        let dtype: DType
        let rows: Int, cols: Int
        let bytes: [UInt8]
        let values: [Float]
    }

    static let cases: [String: Case] = {
        guard let url = Bundle.module.url(forResource: "kquant_blocks", withExtension: "json", subdirectory: "Fixtures"),
              let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let rows = root["rows"] as? Int, let cols = root["cols"] as? Int,
              let types = root["types"] as? [String: [String: Any]] else {
            fatalError("Fixtures/kquant_blocks.json missing or unreadable")
        }
        var out: [String: Case] = [:]
        for (name, t) in types {
            let hex = Array((t["hex"] as! String).utf8)
            func nibble(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : c - 87 }
            let bytes = stride(from: 0, to: hex.count, by: 2).map { nibble(hex[$0]) << 4 | nibble(hex[$0 + 1]) }
            let values = (t["values"] as! [NSNumber]).map { Float($0.doubleValue) }
            let dtype = DType(rawValue: name.lowercased())!
            out[name] = Case(dtype: dtype, rows: rows, cols: cols, bytes: bytes, values: values)
        }
        return out
    }()

    /// The fixture's rows as a matrix (owned copy).
    static func matrix(_ c: Case) -> WeightMatrix {
        let buffer = RawBuffer(count: c.bytes.count)
        buffer.pointer.copyMemory(from: c.bytes, byteCount: c.bytes.count)
        return WeightMatrix(dtype: c.dtype, rows: c.rows, cols: c.cols, base: UnsafeRawPointer(buffer.pointer), owner: buffer)
    }

    /// A deterministic activation vector with both signs and a spread of magnitudes.
    static func activations(_ n: Int) -> [Float] {
        (0..<n).map { i in Float(sin(Double(i) * 0.37) * (1 + Double(i % 7))) }
    }

    @Test("sizes: 256-value super-blocks of 84, 110, 144, 176 and 210 bytes", arguments: [
        (DType.q2_k, TK_Q2_K, 84), (.q3_k, TK_Q3_K, 110), (.q4_k, TK_Q4_K, 144), (.q5_k, TK_Q5_K, 176), (.q6_k, TK_Q6_K, 210)])
    func sizes(dtype: DType, type: tk_type, bytes: Int) {
        #expect(dtype.blockSize == 256 && dtype.blockBytes == bytes)
        #expect(dtype.kernelType == type && dtype.hasFusedGEMV) // tk_gemv: fused on x86, portable elsewhere
        #expect(tk_row_bytes(type, 512) == 2 * bytes)
        #expect(tk_row_bytes(type, 288) == 0, "a row that is not whole super-blocks has no size")
        var out = [Float](repeating: 0, count: 288)
        let src = [UInt8](repeating: 0, count: 2 * bytes)
        #expect(tk_dequantize_row(type, src, &out, 288) == -1)
    }

    @Test("IQ4_NL: 32-value blocks of 18 bytes, fused GEMV on every path")
    func iq4nlSize() {
        #expect(DType.iq4_nl.blockSize == 32 && DType.iq4_nl.blockBytes == 18)
        #expect(DType.iq4_nl.kernelType == TK_IQ4_NL && DType.iq4_nl.hasFusedGEMV)
        #expect(tk_row_bytes(TK_IQ4_NL, 64) == 36 && tk_row_bytes(TK_IQ4_NL, 48) == 0)
    }

    static let types = ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "Q5_0", "Q5_1"]

    @Test("tk_dequantize_row equals gguf-py bit for bit", arguments: types)
    func dequantizeMatchesGGUFPy(name: String) throws {
        let c = try #require(Self.cases[name])
        let type = c.dtype.kernelType
        let rowBytes = c.bytes.count / c.rows
        #expect(rowBytes == c.dtype.byteCount(elements: c.cols))
        var mismatches = 0
        for r in 0..<c.rows {
            var out = [Float](repeating: .nan, count: c.cols)
            let status = c.bytes.withUnsafeBytes { tk_dequantize_row(type, $0.baseAddress! + r * rowBytes, &out, Int64(c.cols)) }
            #expect(status == 0)
            for i in 0..<c.cols where out[i].bitPattern != c.values[r * c.cols + i].bitPattern {
                if mismatches < 5 { Issue.record("\(name) row \(r) value \(i): \(out[i]) vs gguf-py \(c.values[r * c.cols + i])") }
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
        // WeightMatrix.row (the embedding lookup and the re-quantisation source) takes the same route.
        let m = Self.matrix(c)
        var row = [Float](repeating: 0, count: c.cols)
        m.row(c.rows - 1, into: &row)
        #expect(row == Array(c.values[(c.rows - 1) * c.cols..<c.rows * c.cols]))
    }

    /// tk_matvec, the blocked GEMM on each path, and a column slice, against a Double dot of the
    /// gguf-py values. Tolerance: 1e-5 · Σ|w·x|, under the worst-case
    /// f32 summation bound for 512 products.
    @Test("tk_matvec, tk_gemv on every path and the GEMM equal a float64 dot of gguf-py's values", arguments: types)
    func multiplyMatchesDoubleDot(name: String) throws {
        let c = try #require(Self.cases[name])
        let m = Self.matrix(c)
        let x = Self.activations(c.cols)
        var ref = [Double](repeating: 0, count: c.rows), mag = ref
        for r in 0..<c.rows {
            for i in 0..<c.cols {
                let p = Double(c.values[r * c.cols + i]) * Double(x[i])
                ref[r] += p
                mag[r] += abs(p)
            }
        }
        func close(_ y: [Float], _ what: String) {
            for r in 0..<c.rows {
                #expect(abs(Double(y[r]) - ref[r]) <= 1e-5 * mag[r], "\(name) \(what) row \(r): \(y[r]) vs \(ref[r])")
            }
        }
        var y = [Float](repeating: .nan, count: c.rows)
        #expect(tk_matvec(c.dtype.kernelType, m.base, x, &y, 0, Int64(c.rows), Int64(c.cols)) == 0)
        close(y, "tk_matvec")
        y = [Float](repeating: .nan, count: c.rows)
        m.multiply(x, into: &y)
        close(y, "multiply")
        // The fused GEMV kernel of every path this CPU runs (the portable one anywhere).
        if m.dtype.hasFusedGEMV {
            for path in [TK_PATH_PORTABLE, TK_PATH_AVX2, TK_PATH_AVX512, TK_PATH_NEON, TK_PATH_DOTPROD] where tk_gemv_path_supported(path) == 1 {
                y = [Float](repeating: .nan, count: c.rows)
                let status = m.withKernelWeights { w in tk_gemv_with_path(path, w, x, &y, 0, Int64(c.rows)) }
                #expect(status == 0)
                close(y, "tk_gemv \(String(cString: tk_gemv_path_name(path)))")
            }
        }
        // The blocked GEMM: the same vector as three tokens, on every path this CPU runs.
        let xs = x + x + x
        for path in [TK_PATH_PORTABLE, TK_PATH_AVX2, TK_PATH_AVX512, TK_PATH_NEON, TK_PATH_DOTPROD] where tk_gemv_path_supported(path) == 1 {
            var ys = [Float](repeating: .nan, count: 3 * c.rows)
            #expect(m.multiplyGEMM(batch: 3, xs, ldx: c.cols, into: &ys, ldy: c.rows, path: path))
            for t in 0..<3 { close(Array(ys[t * c.rows..<(t + 1) * c.rows]), "GEMM \(String(cString: tk_gemv_path_name(path))) token \(t)") }
        }
        // A row-parallel shard's column slice: whole (super-)blocks copy, a cut block is refused.
        let slice = try #require(m.copyingColumns(256..<512))
        var half = [Float](repeating: 0, count: 256)
        slice.row(1, into: &half)
        #expect(half == Array(c.values[c.cols + 256..<2 * c.cols]))
        let bs = c.dtype.blockSize
        #expect(m.copyingColumns(0..<(bs / 2)) == nil)
        #expect(m.copyingColumns((bs / 2)..<(bs + bs / 2)) == nil)
    }

    @Test("re-quantisation at load reads K-quant rows through their dequantisation", arguments: ["Q2_K", "Q3_K", "Q4_K", "Q6_K", "IQ4_NL"])
    func conversionFromKQuant(name: String) throws {
        let c = try #require(Self.cases[name])
        let m = Self.matrix(c)
        let f32 = try m.converted(to: .f32)
        var row = [Float](repeating: 0, count: c.cols)
        for r in 0..<c.rows {
            f32.row(r, into: &row)
            #expect(row == Array(c.values[r * c.cols..<(r + 1) * c.cols]))
        }
        for target in [DType.fp8_e4m3, .nvfp4, .mxfp4] {
            #expect(m.conversionProblem(to: target) == nil)
            let q = try m.converted(to: target)
            #expect(q.dtype == target && q.rows == c.rows && q.cols == c.cols)
        }
    }
}
