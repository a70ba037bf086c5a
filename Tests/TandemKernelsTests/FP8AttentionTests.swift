import CTandemKernels
import CTandemKernelsEmulated
import Foundation
import Testing
@testable import TandemKernels

/// The step attention over an FP8 K/V cache (`tk_attention_step_fp8_mt`) on every path, one
/// thread and two: against a Double reference on the dequantised FP8 values (f32 rounding only),
/// and against the f32 kernel on the unquantised K/V (the quantisation error, a loose bound).
@Suite("Step attention over an FP8 K/V cache")
struct FP8AttentionTests {
    /// A paged cache with random K/V: two sequences over shuffled blocks, tokens at assorted
    /// positions (a prefill chunk's tail, decodes), 6 query heads over 2 KV heads.
    struct Case {
        let headDim: Int, blockSize: Int
        let heads = 6, qPerKV = 3, kvHeads = 2, blocks = 12
        var stride: Int { kvHeads * headDim }
        var qStride: Int { heads * headDim }
        let k: [Float], v: [Float], q: [Float]              // (slots, kv_heads, head_dim) ×2, (tokens, q_stride)
        var kCodes: [UInt8], vCodes: [UInt8]                 // (slots, kv_heads, head_dim)
        var kScales: [Float], vScales: [Float]               // (slots, kv_heads)
        let tables: [[Int32]] = [[7, 2, 9, 0, 4], [1, 11, 3, 5]]
        let tokens: [(seq: Int, pos: Int)]
        /// Sliding window and logit soft-capping (0: off).
        var window = 0
        var softcap: Float = 0
        /// Attention sinks, one logit per query head (gpt-oss; nil: none).
        var sinks: [Float]?
        /// Chunked attention (Llama 4; 0: none): positions from the query's chunk start only.
        var chunk = 0

        init(headDim: Int, blockSize: Int, seed: UInt64) {
            self.headDim = headDim
            self.blockSize = blockSize
            var rng = TestRNG(seed: seed)
            let slots = 12 * blockSize, n = slots * 2 * headDim
            k = (0..<n).map { _ in rng.normal() }
            v = (0..<n).map { _ in rng.normal() }
            tokens = [(0, 0), (0, 1), (0, 2 * blockSize + 3), (1, 3 * blockSize + 1), (0, 4 * blockSize), (1, 5), (1, 4)]
            q = (0..<tokens.count * 6 * headDim).map { _ in rng.normal() }
            kCodes = [UInt8](repeating: 0, count: n); vCodes = kCodes
            kScales = [Float](repeating: 0, count: slots * 2); vScales = kScales
            tk_quantize_vectors_fp8_e4m3(k, &kCodes, &kScales, Int64(slots * 2), Int64(headDim))
            tk_quantize_vectors_fp8_e4m3(v, &vCodes, &vScales, Int64(slots * 2), Int64(headDim))
        }

        func slot(_ seq: Int, _ pos: Int) -> Int { Int(tables[seq][pos / blockSize]) * blockSize + pos % blockSize }

        /// Softmax(q·k / √d) · v in Double with K/V given per (slot, kv head, d).
        func reference(key: (Int, Int, Int) -> Double, value: (Int, Int, Int) -> Double) -> [Double] {
            var out = [Double](repeating: 0, count: tokens.count * qStride)
            for (i, tok) in tokens.enumerated() {
                for h in 0..<heads {
                    let g = h / qPerKV, qo = i * qStride + h * headDim
                    // The window: the last `window` positions, the query's own included.
                    let first = chunk > 0 ? tok.pos / chunk * chunk : window > 0 ? max(0, tok.pos + 1 - window) : 0
                    let scores = (first...tok.pos).map { p -> Double in
                        let s = (0..<headDim).reduce(0.0) { $0 + Double(q[qo + $1]) * key(slot(tok.seq, p), g, $1) } / Double(headDim).squareRoot()
                        return softcap > 0 ? Double(softcap) * tanh(s / Double(softcap)) : s
                    }
                    // A sink joins the normalisation with no value.
                    let sink = sinks.map { Double($0[h]) }
                    let mx = max(scores.max()!, sink ?? -.infinity)
                    let e = scores.map { exp($0 - mx) }, sum = e.reduce(0, +) + (sink.map { exp($0 - mx) } ?? 0)
                    for d in 0..<headDim {
                        out[qo + d] = (first...tok.pos).enumerated().reduce(0.0) { $0 + e[$1.offset] / sum * value(slot(tok.seq, $1.element), g, d) }
                    }
                }
            }
            return out
        }

        var flat: [Int32] { tables.flatMap { $0 } }
        var offsets: [Int64] { tokens.map { $0.seq == 0 ? 0 : Int64(tables[0].count) } }
        var positions: [Int64] { tokens.map { Int64($0.pos) } }

        /// The table arrays as the kernels take them, valid inside `body`.
        func withTables<R>(_ body: (UnsafePointer<Int32>, UnsafePointer<Int64>, UnsafePointer<Int64>) -> R) -> R {
            let (flat, offsets, positions) = (flat, offsets, positions)
            return flat.withUnsafeBufferPointer { f in offsets.withUnsafeBufferPointer { o in positions.withUnsafeBufferPointer { p in
                body(f.baseAddress!, o.baseAddress!, p.baseAddress!)
            } } }
        }

        /// `sinks` as the kernels take them, valid inside `body`.
        func withSinks<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
            guard let sinks else { return body(nil) }
            return sinks.withUnsafeBufferPointer { body($0.baseAddress) }
        }

        func runFP8(scaleStride: Int? = nil) -> ([Float], Int32) {
            var out = [Float](repeating: .nan, count: tokens.count * qStride)
            let status = withSinks { sp in out.withUnsafeMutableBufferPointer { o in
                q.withUnsafeBufferPointer { qp in kCodes.withUnsafeBufferPointer { kc in vCodes.withUnsafeBufferPointer { vc in
                    kScales.withUnsafeBufferPointer { ks in vScales.withUnsafeBufferPointer { vs in withTables { f, off, pos in
                        var s = tk_attention_step_fp8(out: o.baseAddress, q: qp.baseAddress, k_codes: kc.baseAddress, v_codes: vc.baseAddress,
                                                      k_scales: ks.baseAddress, v_scales: vs.baseAddress, tables: f, table_offset: off,
                                                      positions: pos, tokens: Int64(tokens.count), heads: Int64(heads),
                                                      q_per_kv: Int64(qPerKV), head_dim: Int64(headDim), q_stride: Int64(qStride),
                                                      block_size: Int64(blockSize), token_stride: Int64(stride),
                                                      scale_stride: Int64(scaleStride ?? kvHeads), window: Int64(window), softcap: softcap, sinks: sp, chunk: Int64(chunk))
                        return tk_attention_step_fp8_mt(&s)
                    } } }
                } } }
            } }
            return (out, status)
        }

        func runF32() -> [Float] {
            var out = [Float](repeating: .nan, count: tokens.count * qStride)
            let status = withSinks { sp in out.withUnsafeMutableBufferPointer { o in
                q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in withTables { f, off, pos in
                    var s = tk_attention_step(out: o.baseAddress, q: qp.baseAddress, k_base: kp.baseAddress, v_base: vp.baseAddress,
                                              tables: f, table_offset: off, positions: pos, tokens: Int64(tokens.count),
                                              heads: Int64(heads), q_per_kv: Int64(qPerKV), head_dim: Int64(headDim),
                                              q_stride: Int64(qStride), block_size: Int64(blockSize), token_stride: Int64(stride),
                                              window: Int64(window), softcap: softcap, sinks: sp, chunk: Int64(chunk))
                    return tk_attention_step_mt(&s)
                } } } }
            } }
            #expect(status == 0)
            return out
        }
    }

    /// Head dims cover the 16-code loop, its 8-code remainder and a scalar tail (20, 72); 8 is stories260K's.
    static let shapes: [(Int, Int)] = [(64, 16), (48, 4), (72, 8), (8, 4), (20, 16)]

    /// Every path and thread count, each against the reference and the f32 kernel.
    static func eachPath(_ body: (String) throws -> Void) throws {
        let before = KernelThreads.count
        defer { try? KernelThreads.setCount(before) }
        for path in GEMMTests.paths {
            for threads in [1, 2] {
                try KernelThreads.setCount(threads)
                #expect(tk_gemv_set_thread_path(path) == 0)
                defer { _ = tk_gemv_set_thread_path(TK_PATH_AUTO) }
                try body("\(String(cString: tk_gemv_path_name(path))) \(threads) threads")
            }
        }
    }

    @Test(arguments: 0..<shapes.count)
    func matchesADoubleReferenceOnTheDequantisedValues(index: Int) throws {
        let (hd, bs) = Self.shapes[index]
        let c = Case(headDim: hd, blockSize: bs, seed: UInt64(hd * 100 + bs))
        let ref = c.reference(key: { s, g, d in Double(tk_e4m3_to_f32(c.kCodes[(s * c.kvHeads + g) * hd + d])) * Double(c.kScales[s * c.kvHeads + g]) },
                              value: { s, g, d in Double(tk_e4m3_to_f32(c.vCodes[(s * c.kvHeads + g) * hd + d])) * Double(c.vScales[s * c.kvHeads + g]) })
        try Self.eachPath { label in
            let (out, status) = c.runFP8()
            #expect(status == 0)
            // Softmax-weighted sums of O(1) values in f32: observed below 1e-6.
            let worst = zip(out, ref).map { abs(Double($0) - $1) }.max()!
            #expect(worst < 1e-5, "\(label), head_dim \(hd): max error \(worst)")
        }
    }

    /// Sliding windows (Mistral, Phi-3, Gemma) and Gemma 2's score soft-capping, on both caches
    /// and every path, against the Double reference (the window cuts at positions 0, 1, inside a
    /// block and across blocks of the case's tokens).
    /// The last two cases are Llama 4's chunked attention (chunks of 4 and 6 positions: the
    /// case's tokens start chunks, end them and sit inside them).
    @Test(arguments: [(5, Float(0), 0), (1, 0, 0), (0, 2.5, 0), (7, 1.5, 0), (0, 0, 4), (0, 0, 6)])
    func windowAndSoftcapMatchTheReference(window: Int, softcap: Float, chunk: Int) throws {
        var c = Case(headDim: 20, blockSize: 4, seed: 91)
        c.window = window
        c.softcap = softcap
        c.chunk = chunk
        let f32Ref = c.reference(key: { s, g, d in Double(c.k[(s * c.kvHeads + g) * 20 + d]) },
                                 value: { s, g, d in Double(c.v[(s * c.kvHeads + g) * 20 + d]) })
        let fp8Ref = c.reference(key: { s, g, d in Double(tk_e4m3_to_f32(c.kCodes[(s * c.kvHeads + g) * 20 + d])) * Double(c.kScales[s * c.kvHeads + g]) },
                                 value: { s, g, d in Double(tk_e4m3_to_f32(c.vCodes[(s * c.kvHeads + g) * 20 + d])) * Double(c.vScales[s * c.kvHeads + g]) })
        var plain = c
        plain.window = 0
        plain.softcap = 0
        plain.chunk = 0
        try Self.eachPath { label in
            let f32 = c.runF32()
            #expect(zip(f32, f32Ref).map { abs(Double($0) - $1) }.max()! < 1e-5, "\(label) f32 window \(window) softcap \(softcap)")
            let (fp8, status) = c.runFP8()
            #expect(status == 0)
            #expect(zip(fp8, fp8Ref).map { abs(Double($0) - $1) }.max()! < 1e-5, "\(label) fp8 window \(window) softcap \(softcap)")
            // And it changes something: the same step without them differs.
            #expect(zip(plain.runF32(), f32).map { abs($0 - $1) }.max()! > 1e-3)
        }
    }

    /// Attention sinks (gpt-oss): a learned logit per head in each softmax's denominator, with a
    /// window too; both caches, every path, and the AArch64 kernels through SIMDe, against the
    /// Double reference.
    @Test func sinksMatchTheReference() throws {
        var c = Case(headDim: 20, blockSize: 4, seed: 97)
        c.window = 5
        c.sinks = [0.5, -1, 2, 3.5, 0, 1.25]
        let f32Ref = c.reference(key: { s, g, d in Double(c.k[(s * c.kvHeads + g) * 20 + d]) },
                                 value: { s, g, d in Double(c.v[(s * c.kvHeads + g) * 20 + d]) })
        let fp8Ref = c.reference(key: { s, g, d in Double(tk_e4m3_to_f32(c.kCodes[(s * c.kvHeads + g) * 20 + d])) * Double(c.kScales[s * c.kvHeads + g]) },
                                 value: { s, g, d in Double(tk_e4m3_to_f32(c.vCodes[(s * c.kvHeads + g) * 20 + d])) * Double(c.vScales[s * c.kvHeads + g]) })
        var plain = c
        plain.sinks = nil
        try Self.eachPath { label in
            let f32 = c.runF32()
            #expect(zip(f32, f32Ref).map { abs(Double($0) - $1) }.max()! < 1e-5, "\(label) f32 with sinks")
            let (fp8, status) = c.runFP8()
            #expect(status == 0)
            #expect(zip(fp8, fp8Ref).map { abs(Double($0) - $1) }.max()! < 1e-5, "\(label) fp8 with sinks")
            #expect(zip(plain.runF32(), f32).map { abs($0 - $1) }.max()! > 1e-2, "\(label): the sinks change nothing")
        }
        #if arch(x86_64)
        try #require(tk_emulated_neon_available() == 1)
        let hd = c.headDim, g = c.qPerKV
        var worstF32 = 0.0, worstFP8 = 0.0
        for (i, tok) in c.tokens.enumerated() {
            let len = tok.pos + 1, first = len > c.window ? len - c.window : 0
            for kvh in 0..<c.kvHeads {
                let q = Array(c.q[i * c.qStride + kvh * g * hd..<i * c.qStride + (kvh + 1) * g * hd])
                let sinks = Array(c.sinks![kvh * g..<(kvh + 1) * g])
                var out = [Float](repeating: .nan, count: g * hd), scores = [Float](repeating: 0, count: g * len)
                #expect(c.kCodes.withUnsafeBufferPointer { kc in c.vCodes.withUnsafeBufferPointer { vc in
                    tk_emulated_neon_attention_fp8(&out, q, Int64(g), kc.baseAddress! + kvh * hd, vc.baseAddress! + kvh * hd,
                                                   c.kScales.withUnsafeBufferPointer { $0.baseAddress! + kvh },
                                                   c.vScales.withUnsafeBufferPointer { $0.baseAddress! + kvh }, Int64(c.kvHeads),
                                                   c.tables[tok.seq], Int64(c.blockSize), Int64(c.stride), Int64(len), Int64(hd),
                                                   &scores, Int64(first), 0, sinks)
                } } == 0)
                for h in 0..<g { for d in 0..<hd {
                    worstFP8 = max(worstFP8, abs(Double(out[h * hd + d]) - fp8Ref[i * c.qStride + (kvh * g + h) * hd + d]))
                } }
                for h in 0..<g {
                    var one = [Float](repeating: .nan, count: hd)
                    let qh = Array(q[h * hd..<(h + 1) * hd])
                    #expect(tk_emulated_neon_attention(&one, qh, c.k.withUnsafeBufferPointer { $0.baseAddress! + kvh * hd },
                                                       c.v.withUnsafeBufferPointer { $0.baseAddress! + kvh * hd }, c.tables[tok.seq],
                                                       Int64(c.blockSize), Int64(c.stride), Int64(len), Int64(hd), &scores,
                                                       Int64(first), 0, [sinks[h]]) == 0)
                    for d in 0..<hd { worstF32 = max(worstF32, abs(Double(one[d]) - f32Ref[i * c.qStride + (kvh * g + h) * hd + d])) }
                }
            }
        }
        #expect(worstF32 < 1e-5 && worstFP8 < 1e-5, "emulated NEON with sinks: f32 \(worstF32), fp8 \(worstFP8)")
        #endif
    }

    @Test(arguments: 0..<shapes.count)
    func staysCloseToTheF32Kernel(index: Int) throws {
        let (hd, bs) = Self.shapes[index]
        let c = Case(headDim: hd, blockSize: bs, seed: UInt64(hd * 7 + bs))
        let f32 = c.runF32()
        try Self.eachPath { label in
            let (out, status) = c.runFP8()
            #expect(status == 0)
            // E4M3 keeps 3 mantissa bits: each K/V value moves by at most 1/16 of itself (plus
            // scale·2^-10 in the subnormal range). On N(0, 1) inputs that gives an RMS error of
            // about 0.016 and a largest one of about 0.11 (measured); a wrong scale, head or
            // block lands at O(1).
            let errors = zip(out, f32).map { Double(abs($0 - $1)) }
            let rms = (errors.reduce(0) { $0 + $1 * $1 } / Double(errors.count)).squareRoot()
            #expect(rms < 0.03 && errors.max()! < 0.25, "\(label), head_dim \(hd): rms \(rms), max \(errors.max()!)")
        }
    }

    /// The AArch64 group kernel (attention_fp8_neon.c) on x86-64 through SIMDe: the 3 query heads of
    /// each KV head at once against the portable tk_attention_paged_fp8_ex head by head, on the same
    /// codes; head dims through its 8-column key steps, 32-dimension value passes, 4-dimension
    /// steps and a scalar tail, with a window and a soft-cap. The largest |difference| per case. On
    /// AArch64 the tests above run the real kernel (`eachPath`).
    static func neonGroupErrors(broken: Bool) -> [Float] {
        let settings: [(hd: Int, window: Int, softcap: Float)] = [(64, 0, 0), (20, 0, 30), (72, 32, 0), (7, 0, 0), (128, 0, 50)]
        return settings.enumerated().map { index, setting in
            var c = Case(headDim: setting.hd, blockSize: 16, seed: UInt64(500 + index))
            c.window = setting.window
            c.softcap = setting.softcap
            let hd = c.headDim, g = c.qPerKV
            var worst: Float = 0
            for (i, tok) in c.tokens.enumerated() {
                let len = tok.pos + 1, first = c.window > 0 && len > c.window ? len - c.window : 0
                for kvh in 0..<c.kvHeads {
                    var neon = [Float](repeating: .nan, count: g * hd), portable = neon
                    var scores = [Float](repeating: 0, count: g * len)
                    let q = Array(c.q[i * c.qStride + kvh * g * hd..<i * c.qStride + (kvh + 1) * g * hd])
                    let attention = broken ? tk_emulated_neon_broken_attention_fp8 : tk_emulated_neon_attention_fp8
                    let status = c.kCodes.withUnsafeBufferPointer { kc in c.vCodes.withUnsafeBufferPointer { vc in
                        c.kScales.withUnsafeBufferPointer { ks in c.vScales.withUnsafeBufferPointer { vs in
                            let s = attention(&neon, q, Int64(g), kc.baseAddress! + kvh * hd, vc.baseAddress! + kvh * hd,
                                              ks.baseAddress! + kvh, vs.baseAddress! + kvh, Int64(c.kvHeads), c.tables[tok.seq],
                                              Int64(c.blockSize), Int64(c.stride), Int64(len), Int64(hd), &scores, Int64(first), c.softcap, nil)
                            for h in 0..<g {
                                portable.withUnsafeMutableBufferPointer { o in q.withUnsafeBufferPointer { qp in
                                    tk_attention_paged_fp8_ex(o.baseAddress! + h * hd, qp.baseAddress! + h * hd, kc.baseAddress! + kvh * hd,
                                                              vc.baseAddress! + kvh * hd, ks.baseAddress! + kvh, vs.baseAddress! + kvh,
                                                              Int64(c.kvHeads), c.tables[tok.seq], Int64(c.blockSize), Int64(c.stride),
                                                              Int64(len), Int64(hd), &scores, Int64(first), c.softcap)
                                } }
                            }
                            return s
                        } }
                    } }
                    if status != 0 { return .infinity }
                    worst = max(worst, zip(neon, portable).map { abs($0 - $1) }.max()!)
                }
            }
            return worst
        }
    }

    @Test func emulatedNEONGroupKernelMatchesPortable() throws {
        #if arch(x86_64)
        try #require(tk_emulated_neon_available() == 1,
                     "CTandemKernelsEmulated was built without SIMDe: install libsimde-dev (deploy/install-deps.sh does)")
        // Softmax-weighted sums of O(1) values on the same dequantised codes: f32 rounding only.
        let errors = Self.neonGroupErrors(broken: false)
        #expect(errors.allSatisfy { $0 < 2e-5 }, "\(errors)")
        // One lane of the key dot products negated: caught in every case but head dim 7, whose keys
        // take only the scalar tail.
        let broken = Self.neonGroupErrors(broken: true)
        #expect(broken.filter { $0 > 1e-3 }.count == 4, "\(broken)")
        #endif
    }

    @Test func quantisingAVectorScalesItsLargestValueTo448() {
        var rng = TestRNG(seed: 11)
        let n = 24
        var src = (0..<3 * n).map { _ in rng.normal() * 5 }
        for i in n..<2 * n { src[i] = 0 }             // an all-zero vector
        src[2 * n + 5] = -1000                          // an outlier widens only its own vector's scale
        var codes = [UInt8](repeating: 0xFF, count: 3 * n), scales = [Float](repeating: .nan, count: 3)
        tk_quantize_vectors_fp8_e4m3(src, &codes, &scales, 3, Int64(n))
        #expect(scales[1] == 0 && codes[n..<2 * n].allSatisfy { $0 == 0 })
        for i in [0, 2] {
            let row = src[i * n..<(i + 1) * n]
            #expect(scales[i] == row.map(abs).max()! / 448)
            for (j, x) in row.enumerated() { #expect(codes[i * n + j] == tk_f32_to_e4m3(x / scales[i])) }
        }
        #expect(codes[2 * n + 5] == 0xFE)  // -448
    }

    @Test func rejectsBadArguments() {
        let c = Case(headDim: 8, blockSize: 4, seed: 1)
        #expect(c.runFP8(scaleStride: 1).1 == -1)  // fewer scales per slot than KV heads
        #expect(c.runFP8().1 == 0)
    }
}
