import CTandemKernels
import CTandemKernelsEmulated
import Testing
import TandemCore
@testable import TandemKernels

/// The blocked GEMM (tandem_gemm.h) on every path and format, against a Double
/// dequantise-then-dot on fresh random inputs; and its batch invariance.
@Suite("Blocked GEMM: every path and format against the reference")
struct GEMMTests {
    static let paths = [TK_PATH_PORTABLE, TK_PATH_AVX2, TK_PATH_AVX512, TK_PATH_NEON, TK_PATH_DOTPROD]
        .filter { tk_gemv_path_supported($0) == 1 }

    /// Shapes cover partial panels (12 rows), partial 3-row and 4-token tiles, columns that are
    /// not a multiple of 8 (F32 only) and token blocks larger than one (cols 4096 → 16 tokens).
    static let cases: [(DType, Int, Int)] = [
        (.f32, 7, 172), (.f32, 25, 576), (.f16, 13, 256), (.bf16, 14, 96), (.q8_0, 26, 576),
        (.q4_0, 5, 128), (.q4_1, 37, 576), (.q4_1, 4, 4096), (.mxfp4, 11, 256), (.fp8_e4m3, 19, 200),
        (.nvfp4, 12, 160), (.nvfp4, 9, 176), (.q4_0, 17, 4096), (.q8_0, 8, 64), (.mxfp4, 33, 64),
    ]

    /// The integer route's activation rounding bound for token t of x (ldx apart) against row r of
    /// the dequantised weights: Σ over 32-value blocks of (amax/levels)/2 · Σ|w| (tandem_gemm.h),
    /// levels 127 for int8 activations, 32767 for int16.
    static func activationBound(dense: [Float], x: [Float], offset: Int, cols: Int, bits: Int32 = 8) -> Double {
        let levels = bits == 16 ? 32767.0 : 127.0
        var bound = 0.0
        for b in stride(from: 0, to: cols, by: 32) {
            let e = min(b + 32, cols)
            let amax = (b..<e).map { abs(Double(x[offset + $0])) }.max() ?? 0
            bound += amax / levels / 2 * (b..<e).map { abs(Double(dense[$0])) }.reduce(0, +)
        }
        return bound
    }

    /// The activation width the integer route uses for each format (tandem_gemm.h).
    static func integerBits(_ dtype: DType) -> Int32 {
        switch dtype {
        case .q8_0: 16
        case .q4_0, .mxfp4, .nvfp4: 8
        default: 0
        }
    }

    @Test(arguments: 0..<cases.count)
    func everyPathMatchesReference(index: Int) {
        let (dtype, rows, cols) = Self.cases[index]
        let m = KernelRoofline.randomMatrix(dtype, rows: rows, cols: cols, seed: UInt64(index + 17))
        var rng = TestRNG(seed: UInt64(index * 131 + 7))
        let n = 21, ldx = cols + 3, ldy = rows + 2
        let x = (0..<n * ldx).map { _ in rng.normal() }
        var dense = [Float](repeating: 0, count: cols)
        var ref = [Double](repeating: 0, count: n * rows), mag = ref, act = ref
        let bits = Self.integerBits(dtype)
        for r in 0..<rows {
            m.row(r, into: &dense)
            for t in 0..<n {
                for c in 0..<cols {
                    let p = Double(dense[c]) * Double(x[t * ldx + c])
                    ref[t * rows + r] += p
                    mag[t * rows + r] += abs(p)
                }
                if bits > 0 { act[t * rows + r] = Self.activationBound(dense: dense, x: x, offset: t * ldx, cols: cols, bits: bits) }
            }
        }
        var integerPaths = 0
        for path in Self.paths {
            let routeBits = tk_gemm_activation_bits(path, dtype.kernelType)
            #expect(routeBits == 0 || routeBits == bits, "\(dtype): \(routeBits)-bit activations")
            let integer = routeBits != 0
            if integer { integerPaths += 1 }
            var y = [Float](repeating: .nan, count: n * ldy)
            #expect(m.multiplyGEMM(batch: n, x, ldx: ldx, into: &y, ldy: ldy, path: path))
            for t in 0..<n {
                for r in 0..<rows {
                    // f32 accumulation over `cols` products plus the dequantisation's own rounding
                    // (one f32 multiply per weight): a relative bound on Σ|w·x|; on the integer
                    // route also the activation rounding.
                    let bound = mag[t * rows + r] * Double(cols + 8) * 6e-8 + 1e-6 + (integer ? act[t * rows + r] : 0)
                    let err = abs(Double(y[t * ldy + r]) - ref[t * rows + r])
                    #expect(err <= bound, "\(dtype) \(String(cString: tk_gemv_path_name(path))) t\(t) r\(r): \(err) > \(bound)")
                }
                for r in rows..<ldy { #expect(y[t * ldy + r].isNaN, "wrote outside its rows") }
            }
        }
        #if arch(x86_64)
        // The five integer formats take the integer route on both x86 SIMD paths.
        #expect(tk_gemm_activation_bits(TK_PATH_AVX512, dtype.kernelType) == bits)
        #expect(tk_gemm_activation_bits(TK_PATH_AVX2, dtype.kernelType) == bits)
        #expect(tk_gemm_activation_bits(TK_PATH_PORTABLE, dtype.kernelType) == 0)
        if tk_gemv_path_supported(TK_PATH_AVX2) == 1 { #expect(integerPaths >= (bits > 0 ? 1 : 0)) }
        #endif
        #expect(bits > 0 || integerPaths == 0)
        // The AVX-512 integer kernels through SIMDe (on a CPU without AVX-512 they run only here).
        if tk_emulated_avx512_available() == 1 && bits > 0 {
            var y = [Float](repeating: .nan, count: n * ldy)
            let rc = m.withKernelWeights { w in tk_emulated_avx512_gemm(w, x, Int64(ldx), &y, Int64(ldy), Int64(n), 0, Int64(rows)) }
            #expect(rc == 0)
            for t in 0..<n {
                for r in 0..<rows {
                    let bound = mag[t * rows + r] * Double(cols + 8) * 6e-8 + 1e-6 + act[t * rows + r]
                    let err = abs(Double(y[t * ldy + r]) - ref[t * rows + r])
                    #expect(err <= bound, "\(dtype) emulated avx512 t\(t) r\(r): \(err) > \(bound)")
                }
                for r in rows..<ldy { #expect(y[t * ldy + r].isNaN, "wrote outside its rows") }
            }
        }
    }

    /// The AArch64 integer route (gemm_int_neon.c) on x86-64 through SIMDe, both Arm paths, every
    /// integer format of `cases`: each output within the same bound as the real paths' (f32 chain
    /// plus activation rounding) of the Double dot, and the bits of the same token computed alone.
    /// Returns a message per output that is not. On AArch64 `everyPathMatchesReference` runs the
    /// real kernels through tk_gemm (and e2e/test_arm_kernels.py runs them under qemu here).
    /// The dot-product path runs twice, with the smmla kernel (as on a CPU with I8MM) and with the
    /// sdot one, which must give the same bits.
    static func neonIntegerRouteViolations(broken: Bool) -> [String] {
        var violations: [String] = []
        let gemm = broken ? tk_emulated_neon_broken_gemm : tk_emulated_neon_gemm
        let i8mm = broken ? tk_emulated_neon_broken_gemm_i8mm : tk_emulated_neon_gemm_i8mm
        defer { i8mm(0) }
        for (index, (dtype, rows, cols)) in cases.enumerated() where integerBits(dtype) > 0 {
            let m = KernelRoofline.randomMatrix(dtype, rows: rows, cols: cols, seed: UInt64(index + 17))
            var rng = TestRNG(seed: UInt64(index * 131 + 7))
            let n = 7, ldx = cols + 3, ldy = rows + 2
            let x = (0..<n * ldx).map { _ in rng.normal() }
            var dense = [Float](repeating: 0, count: cols)
            var sdotBits: [UInt32] = []
            for (path, mm) in [(TK_PATH_NEON, Int32(0)), (TK_PATH_DOTPROD, 0), (TK_PATH_DOTPROD, 1)] {
                i8mm(mm)
                var y = [Float](repeating: .nan, count: n * ldy)
                let rc = m.withKernelWeights { w in gemm(path, w, x, Int64(ldx), &y, Int64(ldy), Int64(n), 0, Int64(rows)) }
                guard rc == 0 else { return ["\(dtype): refused (\(rc))"] }
                for t in 0..<n {
                    var alone = [Float](repeating: .nan, count: ldy)
                    _ = x.withUnsafeBufferPointer { xp in
                        m.withKernelWeights { w in gemm(path, w, xp.baseAddress! + t * ldx, Int64(ldx), &alone, Int64(ldy), 1, 0, Int64(rows)) }
                    }
                    for r in 0..<rows {
                        m.row(r, into: &dense)
                        var ref = 0.0, mag = 0.0
                        for c in 0..<cols {
                            let p = Double(dense[c]) * Double(x[t * ldx + c])
                            ref += p
                            mag += abs(p)
                        }
                        let bound = mag * Double(cols + 8) * 6e-8 + 1e-6
                            + activationBound(dense: dense, x: x, offset: t * ldx, cols: cols, bits: integerBits(dtype))
                        let v = y[t * ldy + r]
                        if !(abs(Double(v) - ref) <= bound) || v.bitPattern != alone[r].bitPattern {
                            violations.append("\(dtype) \(String(cString: tk_gemv_path_name(path)))\(mm == 1 ? "+i8mm" : "") t\(t) r\(r): \(v) (alone \(alone[r])) vs \(ref) ± \(bound)")
                        }
                    }
                    for r in rows..<ldy where !y[t * ldy + r].isNaN { violations.append("\(dtype): wrote row \(r)") }
                }
                if path == TK_PATH_DOTPROD {
                    let bits = y.map(\.bitPattern)
                    if mm == 0 { sdotBits = bits } else if bits != sdotBits, !broken {
                        violations.append("\(dtype): the smmla kernel's bits differ from the sdot kernel's")
                    }
                }
            }
        }
        return violations
    }

    @Test func emulatedNEONIntegerRouteMatchesReference() throws {
        #if arch(x86_64)
        try #require(tk_emulated_neon_available() == 1,
                     "CTandemKernelsEmulated was built without SIMDe: install libsimde-dev (deploy/install-deps.sh does)")
        let violations = Self.neonIntegerRouteViolations(broken: false)
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        // With one lane of each block's sums negated, the same checks must fail, for every format.
        let broken = Self.neonIntegerRouteViolations(broken: true)
        for dtype in [DType.q8_0, .q4_0, .mxfp4, .nvfp4] {
            #expect(broken.contains { $0.hasPrefix("\(dtype) neon") } && broken.contains { $0.hasPrefix("\(dtype) dotprod") },
                    "a broken \(dtype) kernel went unseen")
        }
        #expect(broken.contains { $0.hasPrefix("q4_0 dotprod+i8mm") }, "a broken smmla kernel went unseen")
        #endif
    }

    /// The integer route's bound is tight enough to catch one wrong block: the result a kernel with
    /// block 0's sign flipped (a swapped offset or sign) would give breaks it.
    @Test func integerRouteBoundCatchesAWrongBlock() {
        #if arch(x86_64)
        let path = GEMVPath.best.raw
        guard tk_gemm_activation_bits(path, TK_Q4_0) == 8 else { return }
        let rows = 8, cols = 256
        let m = KernelRoofline.randomMatrix(.q4_0, rows: rows, cols: cols, seed: 77)
        var rng = TestRNG(seed: 78)
        let x = (0..<cols).map { _ in rng.normal() }
        var y = [Float](repeating: 0, count: rows)
        #expect(m.multiplyGEMM(batch: 1, x, ldx: cols, into: &y, ldy: rows, path: path))
        var dense = [Float](repeating: 0, count: cols)
        var failing = 0
        for r in 0..<rows {
            m.row(r, into: &dense)
            var ref = 0.0, mag = 0.0, wrong = 0.0
            for c in 0..<cols {
                let p = Double(dense[c]) * Double(x[c])
                ref += p
                mag += abs(p)
                wrong += c < 32 ? -p : p
            }
            let bound = mag * Double(cols + 8) * 6e-8 + 1e-6 + Self.activationBound(dense: dense, x: x, offset: 0, cols: cols)
            #expect(abs(Double(y[r]) - ref) <= bound)
            if abs(wrong - ref) > bound { failing += 1 }
        }
        #expect(failing >= rows / 2, "the bound is too loose to see a wrong block: \(failing) of \(rows)")
        #endif
    }

    /// The AArch64 GEMM tile (gemm_neon.c) on x86-64 through SIMDe, every tile shape (1-3 rows × 1-4
    /// tokens), columns with and without a tail of 8: each output within the f32 bound of its chain
    /// ((cols/8 + 16) u Σ|w·x|, u = 2^-24) of a Double dot, and equal in bits to the same token in a
    /// 1-token tile. Returns a message per output that is not. On AArch64 `everyPathMatchesReference`
    /// runs the real tile through tk_gemm.
    static func neonTileViolations(broken: Bool) -> [String] {
        var rng = TestRNG(seed: 404)
        var violations: [String] = []
        for cols in [8, 13, 64, 203] {
            let ldx = cols + 1, ldy = 5
            let w = (0..<3 * cols).map { _ in rng.normal() }, x = (0..<4 * ldx).map { _ in rng.normal() }
            let tile = broken ? tk_emulated_neon_broken_gemm_tile : tk_emulated_neon_gemm_tile
            for nr in 1...3 {
                for nt in 1...4 {
                    var y = [Float](repeating: .nan, count: nt * ldy), alone = [Float](repeating: .nan, count: ldy)
                    guard tile(w, Int64(nr), x, Int64(ldx), Int64(nt), &y, Int64(ldy), Int64(cols)) == 0 else { return ["refused"] }
                    for t in 0..<nt {
                        _ = x.withUnsafeBufferPointer { tile(w, Int64(nr), $0.baseAddress! + t * ldx, Int64(ldx), 1, &alone, Int64(ldy), Int64(cols)) }
                        for i in 0..<nr {
                            var ref = 0.0, mag = 0.0
                            for c in 0..<cols {
                                let p = Double(w[i * cols + c]) * Double(x[t * ldx + c])
                                ref += p
                                mag += abs(p)
                            }
                            let v = y[t * ldy + i]
                            if !(abs(Double(v) - ref) <= Double(cols / 8 + 16) * 0x1p-24 * mag) || v.bitPattern != alone[i].bitPattern {
                                violations.append("\(nr)x\(nt) cols \(cols) row \(i) token \(t): \(v) (alone \(alone[i])) vs \(ref)")
                            }
                        }
                        for i in nr..<ldy where !y[t * ldy + i].isNaN { violations.append("\(nr)x\(nt): wrote row \(i)") }
                    }
                }
            }
        }
        return violations
    }

    @Test func emulatedNEONTileMatchesReference() throws {
        #if arch(x86_64)
        try #require(tk_emulated_neon_available() == 1,
                     "CTandemKernelsEmulated was built without SIMDe: install libsimde-dev (deploy/install-deps.sh does)")
        let violations = Self.neonTileViolations(broken: false)
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        // The tile built with one accumulator lane negated must be caught by the same checks.
        #expect(Self.neonTileViolations(broken: true).count >= 10)
        #endif
    }

    /// A token's output is the same bits whether it is alone, first, last or in the middle of a
    /// batch, on every path, and on any thread count (the batched engine relies on this).
    @Test(arguments: [DType.f32, .q4_1, .fp8_e4m3, .q8_0, .q4_0, .mxfp4, .nvfp4])
    func resultsDoNotDependOnTheBatch(dtype: DType) throws {
        let rows = 30, cols = 576
        let m = KernelRoofline.randomMatrix(dtype, rows: rows, cols: cols, seed: 5)
        var rng = TestRNG(seed: 99)
        let n = 9
        let x = (0..<n * cols).map { _ in rng.normal() }
        for path in Self.paths {
            var all = [Float](repeating: 0, count: n * rows)
            #expect(m.multiplyGEMM(batch: n, x, ldx: cols, into: &all, ldy: rows, path: path))
            for t in [0, 4, n - 1] {
                var one = [Float](repeating: 0, count: rows)
                x.withUnsafeBufferPointer { xp in
                    #expect(m.multiplyGEMM(batch: 1, xp.baseAddress! + t * cols, ldx: cols, into: &one, ldy: rows, path: path))
                }
                #expect(Array(all[t * rows..<(t + 1) * rows]) == one)
            }
        }
        // Threads: the pool splits panels; every row is still computed by one thread the same way.
        // The path is pinned for this thread: `GEMVPathTests` switches the process-wide path
        // while other suites run, and a portable run beside an AVX2 one differs in rounding.
        let before = KernelThreads.count
        defer { try? KernelThreads.setCount(before) }
        var single = [Float](repeating: 0, count: n * rows), multi = single
        try GEMVPath.best.whileSelectedOnThisThread {
            try KernelThreads.setCount(1)
            m.multiply(batch: n, x, ldx: cols, into: &single, ldy: rows)
            try KernelThreads.setCount(2)
            m.multiply(batch: n, x, ldx: cols, into: &multi, ldy: rows)
        }
        #expect(single == multi)
    }

    /// Below `gemmMinTokens` the batched multiply is one GEMV per token, exactly.
    @Test func smallBatchesUseTheGEMV() {
        let m = KernelRoofline.randomMatrix(.q4_1, rows: 16, cols: 64, seed: 3)
        var rng = TestRNG(seed: 4)
        let n = m.gemmMinTokens - 1
        let x = (0..<n * 64).map { _ in rng.normal() }
        var batched = [Float](repeating: 0, count: n * 16), each = batched
        m.multiply(batch: n, x, ldx: 64, into: &batched, ldy: 16)
        x.withUnsafeBufferPointer { xp in
            each.withUnsafeMutableBufferPointer { yp in
                for t in 0..<n { m.multiply(xp.baseAddress! + t * 64, into: yp.baseAddress! + t * 16) }
            }
        }
        #expect(batched == each)
    }

    @Test func rejectsBadShapesAndPointers() {
        let m = KernelRoofline.randomMatrix(.q8_0, rows: 4, cols: 64, seed: 1)
        let x = [Float](repeating: 1, count: 128)
        var y = [Float](repeating: 0, count: 8)
        m.withKernelWeights { w in
            #expect(tk_gemm(w, x, 32, &y, 4, 2, 0, 4) == -1)   // ldx < cols
            #expect(tk_gemm(w, x, 64, &y, 3, 2, 0, 4) == -1)   // ldy < row_end
            #expect(tk_gemm(w, x, 64, &y, 4, 2, 3, 2) == -1)   // row_end < row_begin
            #expect(tk_gemm(w, nil, 64, &y, 4, 2, 0, 4) == -1)
            #expect(tk_gemm(w, x, 64, &y, 4, 2, 0, 4) == 0)
            var bad = w.pointee
            bad.cols = 60  // not a whole number of Q8_0 blocks
            #expect(tk_gemm(&bad, x, 64, &y, 4, 2, 0, 4) == -1)
        }
    }
}

/// The step attention kernel (every token and head of a step at once, through block tables)
/// against the contiguous reference `tk_attention_head`, on every path, one thread and two.
@Suite("Step attention through block tables")
struct StepAttentionTests {
    /// The AArch64 kernel for one head (attention_neon.c) on x86-64 through SIMDe, against the
    /// portable tk_attention_paged_ex on the same shuffled blocks: head dims through every loop of
    /// the kernel (8-column key steps, 32-dimension value passes, 4-dimension steps, a scalar tail),
    /// windows and soft-caps. The largest |difference| per case. On AArch64 `matchesTheContiguousReference`
    /// runs the real kernel.
    static func neonAttentionErrors(broken: Bool) -> [Float] {
        let blockSize = 16
        let table: [Int32] = [7, 2, 9, 0, 4, 11, 1, 10, 3, 8, 5, 6]
        let cases: [(hd: Int, len: Int, first: Int, softcap: Float)] = [
            (8, 1, 0, 0), (20, 37, 0, 30), (64, 150, 0, 0), (72, 100, 68, 0), (128, 64, 0, 50), (7, 33, 10, 0),
        ]
        var rng = TestRNG(seed: 909)
        return cases.map { c in
            let stride = c.hd + 3
            let k = (0..<table.count * blockSize * stride).map { _ in rng.normal() }
            let v = (0..<table.count * blockSize * stride).map { _ in rng.normal() }
            let q = (0..<c.hd).map { _ in 2 * rng.normal() }
            var neon = [Float](repeating: .nan, count: c.hd), portable = neon, scores = [Float](repeating: 0, count: c.len)
            let attention = broken ? tk_emulated_neon_broken_attention : tk_emulated_neon_attention
            guard attention(&neon, q, k, v, table, Int64(blockSize), Int64(stride), Int64(c.len), Int64(c.hd), &scores,
                            Int64(c.first), c.softcap, nil) == 0 else { return .infinity }
            tk_attention_paged_ex(&portable, q, k, v, table, Int64(blockSize), Int64(stride), Int64(c.len), Int64(c.hd), &scores,
                                  Int64(c.first), c.softcap)
            return zip(neon, portable).map { abs($0 - $1) }.max()!
        }
    }

    @Test func emulatedNEONAttentionMatchesPortable() throws {
        #if arch(x86_64)
        try #require(tk_emulated_neon_available() == 1,
                     "CTandemKernelsEmulated was built without SIMDe: install libsimde-dev (deploy/install-deps.sh does)")
        // Softmax-weighted sums of O(1) values, as below: f32 rounding well under 2e-5.
        let errors = Self.neonAttentionErrors(broken: false)
        #expect(errors.allSatisfy { $0 < 2e-5 }, "\(errors)")
        // One lane of the key dot products negated: caught in every case whose keys reach the
        // vector loop (head dim 8 or more, 4 or more positions): all but the first and the last.
        let broken = Self.neonAttentionErrors(broken: true)
        #expect(broken.filter { $0 > 1e-3 }.count == 4, "\(broken)")
        #endif
    }

    @Test(arguments: [(64, 16), (48, 4), (72, 8), (20, 4)])
    func matchesTheContiguousReference(headDim: Int, blockSize: Int) throws {
        let heads = 6, qPerKV = 3, kvHeads = heads / qPerKV
        let stride = kvHeads * headDim, blocks = 12
        var rng = TestRNG(seed: UInt64(headDim * 100 + blockSize))
        let k = (0..<blocks * blockSize * stride).map { _ in rng.normal() }
        let v = (0..<blocks * blockSize * stride).map { _ in rng.normal() }
        // Two sequences with shuffled blocks; tokens at assorted positions (a prefill chunk's tail, decodes).
        let tables: [[Int32]] = [[7, 2, 9, 0, 4], [1, 11, 3, 5]]
        let tokens: [(seq: Int, pos: Int)] = [(0, 0), (0, 1), (0, 2 * blockSize + 3), (1, 3 * blockSize + 1), (0, 4 * blockSize), (1, 5), (1, 4)]
        let qStride = heads * headDim
        let q = (0..<tokens.count * qStride).map { _ in rng.normal() }
        let flat = tables.flatMap { $0 }
        let offsets: [Int64] = tokens.map { $0.seq == 0 ? 0 : Int64(tables[0].count) }
        let positions: [Int64] = tokens.map { Int64($0.pos) }
        // Reference: gather each sequence's K/V contiguously, then tk_attention_head.
        var ref = [Float](repeating: 0, count: tokens.count * qStride)
        for (i, tok) in tokens.enumerated() {
            let len = tok.pos + 1
            var kc = [Float](repeating: 0, count: len * stride), vc = kc
            for t in 0..<len {
                let slot = Int(tables[tok.seq][t / blockSize]) * blockSize + t % blockSize
                for d in 0..<stride { kc[t * stride + d] = k[slot * stride + d]; vc[t * stride + d] = v[slot * stride + d] }
            }
            var scores = [Float](repeating: 0, count: len)
            for h in 0..<heads {
                let kvh = h / qPerKV
                ref.withUnsafeMutableBufferPointer { r in
                    q.withUnsafeBufferPointer { qp in
                        kc.withUnsafeBufferPointer { kp in
                            vc.withUnsafeBufferPointer { vp in
                                tk_attention_head(r.baseAddress! + i * qStride + h * headDim, qp.baseAddress! + i * qStride + h * headDim,
                                                  kp.baseAddress! + kvh * headDim, vp.baseAddress! + kvh * headDim,
                                                  Int64(stride), Int64(len), Int64(headDim), &scores)
                            }
                        }
                    }
                }
            }
        }
        func run() -> [Float] {
            var out = [Float](repeating: .nan, count: tokens.count * qStride)
            let status = out.withUnsafeMutableBufferPointer { o in
                q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in
                    flat.withUnsafeBufferPointer { fp in offsets.withUnsafeBufferPointer { op in positions.withUnsafeBufferPointer { pp in
                        var s = tk_attention_step(out: o.baseAddress, q: qp.baseAddress, k_base: kp.baseAddress, v_base: vp.baseAddress,
                                                  tables: fp.baseAddress, table_offset: op.baseAddress, positions: pp.baseAddress,
                                                  tokens: Int64(tokens.count), heads: Int64(heads), q_per_kv: Int64(qPerKV),
                                                  head_dim: Int64(headDim), q_stride: Int64(qStride), block_size: Int64(blockSize),
                                                  token_stride: Int64(stride), window: 0, softcap: 0, sinks: nil, chunk: 0)
                        return tk_attention_step_mt(&s)
                    } } }
                } } }
            }
            #expect(status == 0)
            return out
        }
        let before = KernelThreads.count
        defer { try? KernelThreads.setCount(before) }
        for path in GEMMTests.paths {
            for threads in [1, 2] {
                try KernelThreads.setCount(threads)
                #expect(tk_gemv_set_thread_path(path) == 0)
                let out = run()
                _ = tk_gemv_set_thread_path(TK_PATH_AUTO)
                // Softmax-weighted sums of O(1) values: f32 rounding well under 1e-5.
                let worst = zip(out, ref).map { abs($0 - $1) }.max()!
                #expect(worst < 2e-5, "\(String(cString: tk_gemv_path_name(path))) \(threads) threads: max error \(worst)")
            }
        }
    }
}
