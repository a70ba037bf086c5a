import CTandemKernels
import CTandemKernelsEmulated
import Testing
@testable import TandemKernels

/// A quantised test matrix plus its exact dequantisation (the reference).
private struct QuantMatrix {
    let format: tk_type
    let rows: Int
    let cols: Int
    var data: [UInt8]
    var blockScales: [UInt8]
    var rowScales: [Float]
    var scale: Float
    /// rows × cols dequantised weights.
    var dense: [Float]

    static func make(_ format: tk_type, rows: Int, cols: Int, rng: inout TestRNG) -> QuantMatrix {
        let rowBytes = tk_row_bytes(format, Int64(cols))
        precondition(rowBytes > 0)
        var m = QuantMatrix(format: format, rows: rows, cols: cols, data: [UInt8](repeating: 0, count: rowBytes * rows),
                            blockScales: [], rowScales: [], scale: 1, dense: [Float](repeating: 0, count: rows * cols))
        let src = (0..<rows * cols).map { i in rng.normal() * Float(1 + (i % 7)) * 0.1 }
        switch format {
        case TK_FP8_E4M3:
            // Raw random codes (NaN codes excluded): every finite code, subnormals included.
            m.scale = 0.02
            m.rowScales = (0..<rows).map { _ in rng.uniform(0.25, 4) }
            for i in 0..<rows * cols {
                var c = UInt8(truncatingIfNeeded: rng.next())
                if c & 0x7F == 0x7F { c = 0x7E }
                m.data[i] = c
            }
            for r in 0..<rows {
                let dq = FP8Scaled.dequantize(Array(m.data[r * cols..<(r + 1) * cols]), scale: m.scale * m.rowScales[r])
                m.dense.replaceSubrange(r * cols..<(r + 1) * cols, with: dq)
            }
        case TK_NVFP4:
            m.scale = NVFP4.tensorScale(of: src)
            m.blockScales = [UInt8](repeating: 0, count: rows * cols / 16)
            for r in 0..<rows {
                let (p, s) = NVFP4.quantize(Array(src[r * cols..<(r + 1) * cols]), tensorScale: m.scale)
                m.data.replaceSubrange(r * rowBytes..<(r + 1) * rowBytes, with: p)
                m.blockScales.replaceSubrange(r * cols / 16..<(r + 1) * cols / 16, with: s)
                m.dense.replaceSubrange(r * cols..<(r + 1) * cols,
                                        with: NVFP4.dequantize(packed: p, blockScales: s, tensorScale: m.scale, count: cols))
            }
        case TK_MXFP4:
            for r in 0..<rows {
                let q = MXFP4.quantize(Array(src[r * cols..<(r + 1) * cols]))
                m.data.replaceSubrange(r * rowBytes..<(r + 1) * rowBytes, with: q)
                m.dense.replaceSubrange(r * cols..<(r + 1) * cols, with: MXFP4.dequantize(q, count: cols))
            }
        case TK_Q2_K, TK_Q3_K, TK_Q4_K, TK_Q5_K, TK_Q6_K:
            // Random codes, scales and minimums (every bit pattern of the packed scale fields and
            // of Q6_K's int8 scales) with random FP16 super-block scales; the reference dequantises
            // with tk_dequantize_row, which matches gguf-py bit for bit (KQuantTests).
            let superBytes = rowBytes / (cols / 256)
            for i in m.data.indices { m.data[i] = UInt8(truncatingIfNeeded: rng.next()) }
            for b in 0..<rows * cols / 256 {
                let at = b * superBytes
                let d = tk_f32_to_f16(rng.uniform(0.0005, 0.004)), dmin = tk_f32_to_f16(rng.uniform(0.0005, 0.004))
                if format == TK_Q6_K || format == TK_Q3_K {
                    let o = format == TK_Q6_K ? 208 : 108
                    m.data[at + o] = UInt8(d & 0xFF)
                    m.data[at + o + 1] = UInt8(d >> 8)
                } else if format == TK_Q2_K {
                    m.data[at + 80] = UInt8(d & 0xFF)
                    m.data[at + 81] = UInt8(d >> 8)
                    m.data[at + 82] = UInt8(dmin & 0xFF)
                    m.data[at + 83] = UInt8(dmin >> 8)
                } else {
                    m.data[at] = UInt8(d & 0xFF)
                    m.data[at + 1] = UInt8(d >> 8)
                    m.data[at + 2] = UInt8(dmin & 0xFF)
                    m.data[at + 3] = UInt8(dmin >> 8)
                }
            }
            m.data.withUnsafeBytes { raw in
                m.dense.withUnsafeMutableBufferPointer { out in
                    for r in 0..<rows {
                        let status = tk_dequantize_row(format, raw.baseAddress! + r * rowBytes, out.baseAddress! + r * cols, Int64(cols))
                        precondition(status == 0)
                    }
                }
            }
        default:
            // Q8_0 / Q4_0 / IQ4_NL / Q4_1: random quants with random FP16 block scales (Q4_1: and offsets).
            let blockBytes = format == TK_Q8_0 ? 34 : format == TK_Q4_1 ? 20 : 18
            for b in 0..<rows * cols / 32 {
                let h = tk_f32_to_f16(rng.uniform(0.001, 0.05))
                m.data[b * blockBytes] = UInt8(h & 0xFF)
                m.data[b * blockBytes + 1] = UInt8(h >> 8)
                for j in 2..<blockBytes { m.data[b * blockBytes + j] = UInt8(truncatingIfNeeded: rng.next()) }
                if format == TK_Q4_1 {
                    let mn = tk_f32_to_f16(rng.uniform(-0.4, 0.1))
                    m.data[b * blockBytes + 2] = UInt8(mn & 0xFF)
                    m.data[b * blockBytes + 3] = UInt8(mn >> 8)
                }
            }
            m.data.withUnsafeBytes { raw in
                m.dense.withUnsafeMutableBufferPointer { out in
                    for r in 0..<rows {
                        let status = tk_dequantize_row(format, raw.baseAddress! + r * rowBytes, out.baseAddress! + r * cols, Int64(cols))
                        precondition(status == 0)
                    }
                }
            }
        }
        return m
    }

    /// Runs the GEMV on `path` for rows [begin, end); y outside stays as given.
    func run(path: tk_gemv_path, x: [Float], y: inout [Float], rows range: Range<Int>) -> Int32 {
        run(x: x, y: &y, rows: range) { w, x, y, b, e in tk_gemv_with_path(path, w, x, y, b, e) }
    }

    /// The same through the AArch64 kernels of `path` compiled against SIMDe (CTandemKernelsEmulated);
    /// `broken`: the build whose kernels each negate one lane.
    func runEmulatedNEON(path: tk_gemv_path, broken: Bool = false, x: [Float], y: inout [Float], rows range: Range<Int>) -> Int32 {
        run(x: x, y: &y, rows: range) { w, x, y, b, e in
            broken ? tk_emulated_neon_broken_gemv(path, w, x, y, b, e) : tk_emulated_neon_gemv(path, w, x, y, b, e)
        }
    }

    /// The Q4_1 offsets m, one per 32-value block, rows × cols/32 (empty for other formats).
    var offsets: [Float] {
        guard format == TK_Q4_1 else { return [] }
        return (0..<rows * cols / 32).map { b in tk_f16_to_f32(UInt16(data[b * 20 + 2]) | UInt16(data[b * 20 + 3]) << 8) }
    }

    /// The same through the AVX-512 path's kernels compiled against SIMDe (CTandemKernelsEmulated).
    func runEmulatedAVX512(x: [Float], y: inout [Float], rows range: Range<Int>) -> Int32 {
        run(x: x, y: &y, rows: range) { w, x, y, b, e in tk_emulated_avx512_gemv(w, x, y, b, e) }
    }

    private func run(x: [Float], y: inout [Float], rows range: Range<Int>,
                     kernel: (UnsafePointer<tk_weights>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int64, Int64) -> Int32) -> Int32 {
        data.withUnsafeBytes { d in
            blockScales.withUnsafeBufferPointer { bs in
                rowScales.withUnsafeBufferPointer { rs in
                    var w = tk_weights(format: format, cols: Int64(cols), data: d.baseAddress,
                                       block_scales: bs.baseAddress, row_scales: rs.baseAddress, scale: scale)
                    return kernel(&w, x, &y, Int64(range.lowerBound), Int64(range.upperBound))
                }
            }
        }
    }
}

private let allPaths: [tk_gemv_path] = [TK_PATH_PORTABLE, TK_PATH_AVX2, TK_PATH_AVX512, TK_PATH_NEON, TK_PATH_DOTPROD]

/// The formats tk_gemv takes, Q4_1 aside (GEMVQ4_1Tests), and the number each one's test data is seeded with.
private let gemvFormats: [tk_type] = [TK_FP8_E4M3, TK_NVFP4, TK_MXFP4, TK_Q8_0, TK_Q4_0]
private let gemvSeeds: [UInt64] = [1, 2, 3, 4, 5]
/// The Arm kernels' formats: all twelve (the NEON paths have their own Q4_1, K-quant and IQ4_NL kernels).
private let neonFormats: [tk_type] = gemvFormats + [TK_Q4_1] + kquantFormats

/// The K-quants and IQ4_NL: fused float-route kernels on every SIMD path.
private let kquantFormats: [tk_type] = [TK_Q4_K, TK_Q5_K, TK_Q6_K, TK_Q2_K, TK_Q3_K, TK_IQ4_NL]

private func shapes(for format: tk_type) -> [(rows: Int, cols: Int)] {
    switch format {
    case TK_Q2_K, TK_Q3_K, TK_Q4_K, TK_Q5_K, TK_Q6_K: [(5, 256), (3, 512), (4, 2304), (2, 4096), (1, 16384)]
    case TK_FP8_E4M3: [(5, 1), (7, 33), (3, 100), (9, 256), (4, 1000), (2, 4113), (3, 64), (1, 16416)]
    case TK_NVFP4: [(5, 16), (3, 48), (7, 80), (4, 272), (3, 64), (5, 576), (2, 4096), (3, 4112), (2, 8192), (1, 16384)]
    default: [(5, 32), (3, 96), (6, 160), (4, 64), (5, 576), (2, 4128), (4, 4096), (2, 8192), (1, 16384)]
    }
}

@Suite("Quantised GEMV: every path against dequantise-then-dot")
struct GEMVTests {
    /// Float route: each weight is dequantised exactly and products are summed in f32, so
    /// |y - ref| <= 1e-5 * sum |w_i x_i| (ref in Double), far above f32 summation error for these
    /// lengths (~1e-7 observed) and far below any layout or scale bug.
    static let relativeTolerance = 1e-5

    /// Integer route (tk_gemv_quantizes_activations): x is rounded to int8 per 32-value block with
    /// step d = amax/127, so each x_i moves by at most d/2: the extra error is at most
    /// sum over blocks of (amax_b / 254) * sum_{i in b} |w_i| (0.1% slack for the f32 step).
    /// With `bits` 16 (Q8_0) the step is amax/32767 instead.
    static func activationRoundingBound(weights: ArraySlice<Float>, x: [Float], bits: Int32 = 8) -> Double {
        let levels = bits == 16 ? 32767.0 : 127.0
        var bound = 0.0
        for start in stride(from: 0, to: x.count, by: 32) {
            let end = min(start + 32, x.count)
            let amax = x[start..<end].map { abs(Double($0)) }.max() ?? 0
            let sw = weights[weights.startIndex + start..<weights.startIndex + end].reduce(0.0) { $0 + abs(Double($1)) }
            bound += amax / (2 * levels) * sw * 1.001
        }
        return bound
    }

    @Test(arguments: zip(gemvFormats, gemvSeeds))
    func everyPathMatchesReference(format: tk_type, seed: UInt64) {
        checkEveryPath(format: format, seed: seed)
    }

    @Test(arguments: zip(kquantFormats, [UInt64(11), 12, 13, 14, 15, 16]))
    func kQuantsOnEveryPathMatchReference(format: tk_type, seed: UInt64) {
        #expect(tk_gemv_supports(format) == 1)
        checkEveryPath(format: format, seed: seed)
    }

    func checkEveryPath(format: tk_type, seed: UInt64) {
        var rng = TestRNG(seed: 1000 + seed)
        var pathsRun = Set<UInt32>()
        for (rows, cols) in shapes(for: format) {
            let m = QuantMatrix.make(format, rows: rows, cols: cols, rng: &rng)
            let x = (0..<cols).map { _ in rng.normal() }
            var ref = [Double](repeating: 0, count: rows), mag = [Double](repeating: 0, count: rows)
            for r in 0..<rows {
                for c in 0..<cols {
                    let p = Double(m.dense[r * cols + c]) * Double(x[c])
                    ref[r] += p
                    mag[r] += abs(p)
                }
            }
            for path in allPaths where tk_gemv_path_supported(path) == 1 {
                pathsRun.insert(path.rawValue)
                // Two calls over split row ranges, as threads would; a sentinel checks nothing else is written.
                var y = [Float](repeating: .nan, count: rows + 1)
                let split = rows / 2
                #expect(m.run(path: path, x: x, y: &y, rows: 0..<split) == 0)
                #expect(m.run(path: path, x: x, y: &y, rows: split..<rows) == 0)
                #expect(y[rows].isNaN)
                let integerRoute = tk_gemv_quantizes_activations(path, format) == 1
                let bits = tk_gemv_activation_bits(path, format)
                if path == TK_PATH_PORTABLE || format == TK_FP8_E4M3 { #expect(!integerRoute && bits == 0) }
                if path != TK_PATH_PORTABLE && format == TK_Q8_0 { #expect(bits == 16) }
                for r in 0..<rows {
                    let err = abs(Double(y[r]) - ref[r])
                    let extra = integerRoute ? Self.activationRoundingBound(weights: m.dense[r * cols..<(r + 1) * cols], x: x, bits: bits) : 0
                    #expect(err <= Self.relativeTolerance * mag[r] + extra + 1e-30,
                            "\(String(cString: tk_gemv_path_name(path))) \(rows)x\(cols) row \(r): \(y[r]) vs \(ref[r])")
                }
            }
        }
        #expect(pathsRun.contains(TK_PATH_PORTABLE.rawValue))
        if tk_gemv_path_supported(TK_PATH_AVX2) == 1 { #expect(pathsRun.contains(TK_PATH_AVX2.rawValue)) }
    }

    /// The AVX-512 path's kernels (FP8 via F16C, the VNNI integer kernels for NVFP4/MXFP4/Q4_0, and
    /// Q8_0's int16 kernel) on every CPU: compiled a second time against SIMDe's portable
    /// intrinsics, so this VM (AVX2 only) runs their code too. Same shapes and bounds as above.
    @Test(arguments: zip(gemvFormats, gemvSeeds))
    func emulatedAVX512KernelsMatchReference(format: tk_type, seed: UInt64) throws {
        #if arch(x86_64)
        try #require(tk_emulated_avx512_available() == 1,
                     "CTandemKernelsEmulated was built without SIMDe: install libsimde-dev (deploy/install-deps.sh does)")
        var rng = TestRNG(seed: 2000 + seed)
        let bits = tk_gemv_activation_bits(TK_PATH_AVX512, format)
        for (rows, cols) in shapes(for: format) {
            let m = QuantMatrix.make(format, rows: rows, cols: cols, rng: &rng)
            let x = (0..<cols).map { _ in rng.normal() }
            var y = [Float](repeating: .nan, count: rows + 1)
            #expect(m.runEmulatedAVX512(x: x, y: &y, rows: 0..<rows / 2) == 0)
            #expect(m.runEmulatedAVX512(x: x, y: &y, rows: rows / 2..<rows) == 0)
            #expect(y[rows].isNaN)
            for r in 0..<rows {
                var ref = 0.0, mag = 0.0
                for c in 0..<cols {
                    let p = Double(m.dense[r * cols + c]) * Double(x[c])
                    ref += p
                    mag += abs(p)
                }
                let extra = bits != 0 ? Self.activationRoundingBound(weights: m.dense[r * cols..<(r + 1) * cols], x: x, bits: bits) : 0
                #expect(abs(Double(y[r]) - ref) <= Self.relativeTolerance * mag + extra + 1e-30,
                        "emulated avx512 \(rows)x\(cols) row \(r): \(y[r]) vs \(ref)")
            }
        }
        #endif
    }

    /// The AArch64 kernels of both Arm paths (gemv_neon.c: NEON and dot product) on x86-64, compiled
    /// against SIMDe's portable NEON; on AArch64 `everyPathMatchesReference` runs the real ones. Same
    /// shapes and bounds as above; Q4_1's magnitude also counts |d·q_i·x_i| (its kernel sums d·(q·x)
    /// and m·Σx apart, as GEMVQ4_1Tests explains). Returns a message per row outside its bound.
    static func neonViolations(format: tk_type, path: tk_gemv_path, broken: Bool, seed: UInt64) -> [String] {
        var rng = TestRNG(seed: seed)
        var violations: [String] = []
        // The routes the Arm paths take, as tandem_gemv.h states them.
        let bits: Int32 = format == TK_Q8_0 ? 16 : [TK_Q4_0, TK_MXFP4, TK_NVFP4].contains(format) ? 8 : 0
        if tk_gemv_activation_bits(path, format) != bits { violations.append("activation bits \(tk_gemv_activation_bits(path, format)) != \(bits)") }
        for (rows, cols) in shapes(for: format) {
            let m = QuantMatrix.make(format, rows: rows, cols: cols, rng: &rng)
            let offsets = m.offsets
            let x = (0..<cols).map { _ in rng.normal() }
            var y = [Float](repeating: .nan, count: rows + 1)
            if m.runEmulatedNEON(path: path, broken: broken, x: x, y: &y, rows: 0..<rows / 2) != 0
                || m.runEmulatedNEON(path: path, broken: broken, x: x, y: &y, rows: rows / 2..<rows) != 0 || !y[rows].isNaN {
                violations.append("\(rows)x\(cols): call refused or wrote past its rows")
                continue
            }
            for r in 0..<rows {
                var ref = 0.0, mag = 0.0
                for c in 0..<cols {
                    let w = Double(m.dense[r * cols + c])
                    ref += w * Double(x[c])
                    mag += abs(w * Double(x[c]))
                    if !offsets.isEmpty { mag += abs((w - Double(offsets[(r * cols + c) / 32])) * Double(x[c])) }
                }
                let extra = bits != 0 ? activationRoundingBound(weights: m.dense[r * cols..<(r + 1) * cols], x: x, bits: bits) : 0
                if !(abs(Double(y[r]) - ref) <= relativeTolerance * mag + extra + 1e-30) {
                    violations.append("\(rows)x\(cols) row \(r): \(y[r]) vs \(ref)")
                }
            }
        }
        return violations
    }

    @Test(arguments: neonFormats)
    func emulatedNEONKernelsMatchReference(format: tk_type) throws {
        #if arch(x86_64)
        try #require(tk_emulated_neon_available() == 1,
                     "CTandemKernelsEmulated was built without SIMDe: install libsimde-dev (deploy/install-deps.sh does)")
        for path in [TK_PATH_NEON, TK_PATH_DOTPROD] {
            let violations = Self.neonViolations(format: format, path: path, broken: false, seed: 3000 + UInt64(format.rawValue))
            #expect(violations.isEmpty, "emulated \(String(cString: tk_gemv_path_name(path))): \(violations.prefix(5))")
        }
        #endif
    }

    /// The same kernels built with TK_TEST_BREAK_LANE (each negates one lane of its block dot or of
    /// its widened weights) must fail the bounds above: the check catches a broken lane.
    @Test(arguments: neonFormats)
    func emulatedNEONKernelWithABrokenLaneIsCaught(format: tk_type) throws {
        #if arch(x86_64)
        try #require(tk_emulated_neon_available() == 1,
                     "CTandemKernelsEmulated was built without SIMDe: install libsimde-dev (deploy/install-deps.sh does)")
        for path in [TK_PATH_NEON, TK_PATH_DOTPROD] {
            let violations = Self.neonViolations(format: format, path: path, broken: true, seed: 3000 + UInt64(format.rawValue))
            #expect(violations.count >= 3, "broken \(String(cString: tk_gemv_path_name(path))) passed: \(violations)")
        }
        #endif
    }

    @Test func rejectsBadShapesAndPointers() {
        let x = [Float](repeating: 1, count: 48)
        var y = [Float](repeating: 0, count: 4)
        let data = [UInt8](repeating: 0, count: 4 * 48)
        data.withUnsafeBytes { d in
            // MXFP4 / Q8_0 / Q4_0 need cols % 32 == 0; NVFP4 needs block scales.
            for f in [TK_MXFP4, TK_Q8_0, TK_Q4_0] {
                var w = tk_weights(format: f, cols: 48, data: d.baseAddress, block_scales: nil, row_scales: nil, scale: 1)
                #expect(tk_gemv(&w, x, &y, 0, 1) == TK_ERR_INVALID)
            }
            var nv = tk_weights(format: TK_NVFP4, cols: 48, data: d.baseAddress, block_scales: nil, row_scales: nil, scale: 1)
            #expect(tk_gemv(&nv, x, &y, 0, 1) == TK_ERR_INVALID)
            var fp8 = tk_weights(format: TK_FP8_E4M3, cols: 48, data: d.baseAddress, block_scales: nil, row_scales: nil, scale: 1)
            #expect(tk_gemv(&fp8, x, &y, 2, 1) == TK_ERR_INVALID)
            #expect(tk_gemv(&fp8, x, &y, 0, 4) == 0)
            #expect(y == [0, 0, 0, 0])
        }
        #expect(tk_row_bytes(TK_NVFP4, 48) == 24 && tk_row_bytes(TK_NVFP4, 40) == 0)
        #expect(tk_row_bytes(TK_MXFP4, 64) == 34 && tk_row_bytes(TK_Q4_0, 64) == 36)
        #expect(tk_row_bytes(TK_FP8_E4M3, 33) == 33 && tk_row_bytes(TK_FP8_E4M3, 0) == 0)
    }
}

/// The process-wide path selection; serialized because it changes global state.
@Suite("GEMV path selection", .serialized)
struct GEMVPathTests {
    @Test func selectionAndNames() {
        let best = tk_gemv_best_path()
        #expect(tk_gemv_path_supported(best) == 1)
        #expect(tk_gemv_path_supported(TK_PATH_PORTABLE) == 1)
        #expect(tk_gemv_set_path(TK_PATH_PORTABLE) == 0)
        #expect(tk_gemv_get_path() == TK_PATH_PORTABLE)
        // The convenience entry points follow the selection and agree with the explicit-path call.
        var rng = TestRNG(seed: 77)
        let m = QuantMatrix.make(TK_MXFP4, rows: 3, cols: 64, rng: &rng)
        let x = (0..<64).map { _ in rng.normal() }
        var y1 = [Float](repeating: 0, count: 3), y2 = [Float](repeating: 0, count: 3)
        #expect(tk_gemv_mxfp4(m.data, x, &y1, 0, 3, 64) == 0)
        #expect(m.run(path: TK_PATH_PORTABLE, x: x, y: &y2, rows: 0..<3) == 0)
        #expect(y1 == y2)
        for path in [TK_PATH_AVX2, TK_PATH_AVX512, TK_PATH_NEON, TK_PATH_DOTPROD] {
            if tk_gemv_path_supported(path) == 1 {
                #expect(tk_gemv_set_path(path) == 0 && tk_gemv_get_path() == path)
            } else {
                #expect(tk_gemv_set_path(path) == -1 && tk_gemv_get_path() == TK_PATH_PORTABLE)
                var y = [Float](repeating: 0, count: 3)
                #expect(m.run(path: path, x: x, y: &y, rows: 0..<3) == -1)
            }
            _ = tk_gemv_set_path(TK_PATH_PORTABLE)
        }
        #expect(tk_gemv_set_path(TK_PATH_AUTO) == 0)
        #expect(tk_gemv_get_path() == best)
        #expect(String(cString: tk_gemv_path_name(TK_PATH_PORTABLE)) == "portable")
        #expect(String(cString: tk_gemv_path_name(TK_PATH_AVX2)) == "avx2")
        #expect(String(cString: tk_gemv_path_name(TK_PATH_AVX512)) == "avx512")
        #expect(String(cString: tk_gemv_path_name(TK_PATH_NEON)) == "neon")
        #expect(String(cString: tk_gemv_path_name(TK_PATH_DOTPROD)) == "dotprod")
        // The features the paths are chosen from: named for this CPU's architecture.
        var features = [CChar](repeating: 0, count: 256)
        #expect(tk_cpu_features(&features, 256) == 0)
        let names = String(cString: features).split(separator: " ").map(String.init)
        #if arch(x86_64)
        #expect(names.contains("avx2") == (tk_gemv_path_supported(TK_PATH_AVX2) == 1))
        #elseif arch(arm64)
        #expect(names.contains("asimd") && names.contains("dotprod") == (tk_gemv_path_supported(TK_PATH_DOTPROD) == 1))
        #endif
        #expect(tk_cpu_features(&features, 2) == (names.joined(separator: " ").count < 2 ? 0 : -1))
    }

    @Test func decodeTablesMatchScalarDecoders() {
        for c in 0..<256 {
            #expect(sameFloat(table(c, e4m3: true), FP8E4M3.decode(UInt8(c))))
            #expect(sameFloat(table(c, e4m3: false), E8M0.decode(UInt8(c))))
        }
    }

    private func table(_ c: Int, e4m3: Bool) -> Float {
        withUnsafeBytes(of: e4m3 ? tk_e4m3_f32_table : tk_e8m0_f32_table) { $0.load(fromByteOffset: c * 4, as: Float.self) }
    }
}
