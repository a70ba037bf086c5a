import CTandemKernels
import Testing
import TandemCore
@testable import TandemKernels

/// Q4_1 (the default SmolLM2's format) through tk_gemv on every path, against the reference
/// tk_matvec and a Double dequantise-then-dot.
@Suite("Q4_1 GEMV: every path against the reference")
struct GEMVQ4_1Tests {
    @Test(arguments: [(5, 32), (3, 96), (6, 160), (2, 4128), (4, 4096), (9, 576), (3, 1536)])
    func everyPathMatchesReference(rows: Int, cols: Int) {
        var rng = TestRNG(seed: UInt64(rows * 10_000 + cols))
        let m = randomQ4_1(rows: rows, cols: cols, rng: &rng)
        let x = (0..<cols).map { _ in rng.normal() }
        // Reference in Double. Every path dequantises exactly (float route); the SIMD path computes
        // d·(q·x) + m·Σx, so the f32 rounding bound also counts |d·q_i·x_i| (= |(w_i - m)·x_i|).
        let dense = m.dequantized()
        var dq = [Float](repeating: 0, count: rows * cols)
        let raw = m.base.assumingMemoryBound(to: UInt8.self)
        for b in 0..<rows * cols / 32 {
            let mn = tk_f16_to_f32(UInt16(raw[b * 20 + 2]) | UInt16(raw[b * 20 + 3]) << 8)
            for j in 0..<32 { dq[b * 32 + j] = dense[b * 32 + j] - mn }
        }
        var ref = [Double](repeating: 0, count: rows), mag = ref
        for r in 0..<rows {
            for c in 0..<cols {
                let p = Double(dense[r * cols + c]) * Double(x[c])
                ref[r] += p
                mag[r] += abs(p) + abs(Double(dq[r * cols + c]) * Double(x[c]))
            }
        }
        var matvec = [Float](repeating: 0, count: rows)
        #expect(tk_matvec(TK_Q4_1, m.base, x, &matvec, 0, Int64(rows), Int64(cols)) == 0)
        // Both x86 block dots (denormal placement and conversion), whichever this CPU would pick.
        let route = tk_gemv_q4_1_denormal_route(-1)
        defer { _ = tk_gemv_q4_1_denormal_route(route) }
        for (path, denormal) in [(TK_PATH_PORTABLE, -1), (TK_PATH_AVX2, 1), (TK_PATH_AVX2, 0), (TK_PATH_AVX512, 1), (TK_PATH_AVX512, 0),
                                 (TK_PATH_NEON, -1), (TK_PATH_DOTPROD, -1)]
        where tk_gemv_path_supported(path) == 1 {
            if denormal >= 0 { _ = tk_gemv_q4_1_denormal_route(Int32(denormal)) }
            var y = [Float](repeating: .nan, count: rows + 1)
            #expect(m.multiply(x, into: &y, rows: 0..<rows / 2, path: path))
            #expect(m.multiply(x, into: &y, rows: rows / 2..<rows, path: path))
            #expect(y[rows].isNaN)
            #expect(tk_gemv_quantizes_activations(path, TK_Q4_1) == 0)
            for r in 0..<rows {
                let name = String(cString: tk_gemv_path_name(path)) + (denormal == 0 ? " (converted nibbles)" : "")
                #expect(abs(Double(y[r]) - ref[r]) <= 1e-5 * mag[r] + 1e-12, "\(name) \(rows)x\(cols) row \(r)")
                #expect(abs(y[r] - matvec[r]) <= Float(2e-5 * mag[r]) + 1e-12, "\(name) vs tk_matvec row \(r)")
            }
        }
    }

    @Test(arguments: [DType.q4_1, .fp8_e4m3])
    func denormalsAreZeroModeChangesNothing(dtype: DType) {
        // The Q4_1 and FP8 SIMD kernels read weights as f32 denormals; with MXCSR's DAZ bit set (as
        // -ffast-math start-up code sets it) they would read 0 unless the kernel clears it. Same
        // thread throughout: the mode is per thread and this test has no suspension point.
        let previous = tk_cpu_set_denormals_are_zero(0)
        #if arch(x86_64)
        #expect(previous >= 0, "x86-64 has a denormals-are-zero mode")
        #endif
        guard previous >= 0 else { return }  // no such mode (aarch64): nothing to check
        defer { _ = tk_cpu_set_denormals_are_zero(previous) }
        let rows = 16, cols = 1024
        let m = KernelRoofline.randomMatrix(dtype, rows: rows, cols: cols, seed: 12)
        var rng = TestRNG(seed: 13)
        let x = (0..<cols).map { _ in rng.normal() }
        // The denormal placement is the form DAZ would break: force it for Q4_1.
        let route = tk_gemv_q4_1_denormal_route(1)
        defer { _ = tk_gemv_q4_1_denormal_route(route) }
        for path in [TK_PATH_AVX2, TK_PATH_AVX512] where tk_gemv_path_supported(path) == 1 {
            var plain = [Float](repeating: .nan, count: rows), daz = plain
            #expect(m.multiply(x, into: &plain, path: path))
            #expect(tk_cpu_set_denormals_are_zero(1) == 0)
            #expect(m.multiply(x, into: &daz, path: path))
            #expect(tk_cpu_set_denormals_are_zero(0) == 1, "the kernel left the thread's DAZ mode changed")
            #expect(plain.contains { $0 != 0 } && plain == daz, "\(dtype) on \(String(cString: tk_gemv_path_name(path)))")
        }
    }

    @Test func simdPathAgreesWithPortableOnModelShapes() {
        // SmolLM2's shapes (576 and 1536 columns): relative RMS difference at f32-rounding level,
        // far below the ~1e-2 an int8-activation route or a wrong nibble order would show.
        var rng = TestRNG(seed: 41)
        for cols in [576, 1536] {
            let m = randomQ4_1(rows: 64, cols: cols, rng: &rng)
            let x = (0..<cols).map { _ in rng.normal() }
            var fast = [Float](repeating: 0, count: 64), exact = fast
            #expect(m.multiply(x, into: &fast, path: TK_PATH_AUTO))
            #expect(m.multiply(x, into: &exact, path: TK_PATH_PORTABLE))
            let num = zip(fast, exact).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }
            let den = exact.reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect((num / den).squareRoot() < 1e-5)
        }
    }

    @Test func shapesAndConvenienceEntryPoint() {
        #expect(tk_row_bytes(TK_Q4_1, 64) == 40 && tk_row_bytes(TK_Q4_1, 48) == 0)
        var rng = TestRNG(seed: 42)
        let m = randomQ4_1(rows: 3, cols: 64, rng: &rng)
        let x = (0..<64).map { _ in rng.normal() }
        var a = [Float](repeating: 0, count: 3), b = a
        #expect(tk_gemv_q4_1(m.base, x, &a, 0, 3, 64) == 0)
        #expect(m.multiply(x, into: &b, path: TK_PATH_AUTO))
        #expect(a == b)
        #expect(tk_gemv_q4_1(m.base, x, &a, 0, 3, 48) == -1)
    }

    @Test func mxfp4ThroughTheReferenceMatvec() throws {
        // TK_MXFP4 in tk_matvec / tk_dequantize_row (GGUF type 39) agrees with tk_gemv's portable path.
        var rng = TestRNG(seed: 43)
        let m = try randomF32Matrix(rows: 7, cols: 96, rng: &rng).converted(to: .mxfp4)
        let x = (0..<96).map { _ in rng.normal() }
        var a = [Float](repeating: 0, count: 7), b = a
        #expect(tk_matvec(TK_MXFP4, m.base, x, &a, 0, 7, 96) == 0)
        #expect(m.multiply(x, into: &b, path: TK_PATH_PORTABLE))
        let (ref, mag) = referenceProduct(m, x)
        for r in 0..<7 {
            #expect(abs(Double(a[r]) - ref[r]) <= 1e-5 * mag[r])
            #expect(abs(Double(b[r]) - ref[r]) <= 1e-5 * mag[r])
        }
        #expect(tk_row_bytes(TK_MXFP4, 96) == 51 && tk_row_bytes(TK_MXFP4, 40) == 0)
    }
}
