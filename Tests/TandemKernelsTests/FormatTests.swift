import CTandemKernels
import Foundation
import Testing
@testable import TandemKernels

/// Fixtures/fp_formats.json, made by tools/formats/make_format_fixtures.py from ml_dtypes (see its
/// "generated_by" and "notes"). Floats are binary32 bit patterns.
struct FormatFixture: Decodable {
    struct GeneratedBy: Decodable {
        let command: String
        let mlDtypes: String
    }
    struct Decode: Decodable {
        let e4m3: [UInt32]
        let e5m2: [UInt32]
        let e2m1: [UInt32]
        let e8m0: [UInt32]
    }
    struct Encode: Decodable {
        let e4m3Sat: [UInt8]
        let e4m3MlDtypes: [UInt8]
        let e5m2: [UInt8]
        let e5m2Sat: [UInt8]
        let e2m1: [UInt8]
        let e2m1MlDtypes: [UInt8]
        let e8m0: [UInt8]
    }
    struct Blocks: Decodable {
        let rows: [[UInt32]]
        let mxfp4: [[UInt8]]
        let mxfp4Dequant: [[UInt32]]
        let nvfp4Packed: [[UInt8]]
        let nvfp4Scales: [[UInt8]]
        let nvfp4TensorScale: [UInt32]
        let nvfp4Dequant: [[UInt32]]
    }
    let generatedBy: GeneratedBy
    let decode: Decode
    let inputs: [UInt32]
    let encode: Encode
    let blocks: Blocks

    static let shared: FormatFixture = {
        guard let url = Bundle.module.url(forResource: "fp_formats", withExtension: "json", subdirectory: "Fixtures") else {
            fatalError("Fixtures/fp_formats.json missing from the test bundle")
        }
        do {
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            return try decoder.decode(FormatFixture.self, from: Data(contentsOf: url))
        } catch {
            fatalError("cannot decode fp_formats.json: \(error)")
        }
    }()
}

/// Deterministic generator for test data (SplitMix64).
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Float { Float(next() >> 40) * 0x1p-24 }
    mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * unit() }
    /// Roughly normal (sum of uniforms).
    mutating func normal() -> Float {
        var s: Float = 0
        for _ in 0..<4 { s += unit() }
        return (s - 2) * 1.7320508
    }
}

/// Bit-identical, except that any NaN equals any NaN of the same sign.
func sameFloat(_ a: Float, _ b: Float) -> Bool {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN && a.sign == b.sign }
    return a.bitPattern == b.bitPattern
}

@Suite("Scalar number formats against ml_dtypes")
struct ScalarFormatTests {
    let fx = FormatFixture.shared

    @Test func fixtureProvenance() {
        #expect(fx.generatedBy.command.contains("make_format_fixtures.py"))
        #expect(!fx.generatedBy.mlDtypes.isEmpty)
        #expect(fx.inputs.count >= 3000)
        #expect(fx.decode.e4m3.count == 256 && fx.decode.e5m2.count == 256)
        #expect(fx.decode.e2m1.count == 16 && fx.decode.e8m0.count == 256)
    }

    @Test func decodeEveryE4M3Code() {
        var mismatches = 0
        for c in 0..<256 where !sameFloat(FP8E4M3.decode(UInt8(c)), Float(bitPattern: fx.decode.e4m3[c])) { mismatches += 1 }
        #expect(mismatches == 0)
        #expect(FP8E4M3.decode(0x7E) == 448 && FP8E4M3.decode(0xFE) == -448)
        #expect(FP8E4M3.decode(0x01) == 0x1p-9 && FP8E4M3.decode(0x08) == 0x1p-6)
        #expect(FP8E4M3.decode(0x7F).isNaN && FP8E4M3.decode(0xFF).isNaN)
        #expect(FP8E4M3.decode(0x80) == 0 && FP8E4M3.decode(0x80).sign == .minus)
        // Exactly two NaN codes.
        #expect((0..<256).filter { FP8E4M3.decode(UInt8($0)).isNaN }.count == 2)
    }

    @Test func decodeEveryE5M2Code() {
        var mismatches = 0
        for c in 0..<256 where !sameFloat(FP8E5M2.decode(UInt8(c)), Float(bitPattern: fx.decode.e5m2[c])) { mismatches += 1 }
        #expect(mismatches == 0)
        #expect(FP8E5M2.decode(0x7B) == 57344 && FP8E5M2.decode(0x7C) == .infinity && FP8E5M2.decode(0xFC) == -.infinity)
        #expect(FP8E5M2.decode(0x01) == 0x1p-16 && FP8E5M2.decode(0x04) == 0x1p-14)
        #expect((0..<256).filter { FP8E5M2.decode(UInt8($0)).isNaN }.count == 6)
    }

    @Test func decodeEveryE2M1AndE8M0Code() {
        for c in 0..<16 { #expect(sameFloat(FP4E2M1.decode(UInt8(c)), Float(bitPattern: fx.decode.e2m1[c]))) }
        // Only the low nibble is read.
        for c in 0..<256 { #expect(FP4E2M1.decode(UInt8(c)).bitPattern == FP4E2M1.decode(UInt8(c & 15)).bitPattern) }
        var mismatches = 0
        for c in 0..<256 where !sameFloat(E8M0.decode(UInt8(c)), Float(bitPattern: fx.decode.e8m0[c])) { mismatches += 1 }
        #expect(mismatches == 0)
        #expect(E8M0.decode(127) == 1 && E8M0.decode(0) == 0x1p-127 && E8M0.decode(254) == 0x1p127 && E8M0.decode(255).isNaN)
    }

    /// Every fixture input (random over wide ranges, every halfway point between adjacent codes and
    /// one ulp either side, the edges, NaN and inf) encodes exactly as ml_dtypes, with the
    /// documented saturating substitutions.
    @Test func encodeFixtureInputs() {
        var bad: [String: Int] = [:]
        for (i, b) in fx.inputs.enumerated() {
            let x = Float(bitPattern: b)
            if FP8E4M3.encode(x) != fx.encode.e4m3Sat[i] { bad["e4m3", default: 0] += 1 }
            if FP8E5M2.encode(x) != fx.encode.e5m2[i] { bad["e5m2", default: 0] += 1 }
            if FP8E5M2.encodeSaturating(x) != fx.encode.e5m2Sat[i] { bad["e5m2_sat", default: 0] += 1 }
            if FP4E2M1.encode(x) != fx.encode.e2m1[i] { bad["e2m1", default: 0] += 1 }
            if E8M0.encode(x) != fx.encode.e8m0[i] { bad["e8m0", default: 0] += 1 }
        }
        #expect(bad.isEmpty, "mismatches per format: \(bad)")
    }

    /// Where Tandem and ml_dtypes differ, it is only the documented cases.
    @Test func differencesFromMlDtypesAreTheDocumentedOnes() {
        for (i, b) in fx.inputs.enumerated() {
            let x = Float(bitPattern: b)
            if fx.encode.e4m3Sat[i] != fx.encode.e4m3MlDtypes[i] {
                #expect(!x.isNaN && (x.isInfinite || abs(x) > 464))
                #expect(fx.encode.e4m3MlDtypes[i] & 0x7F == 0x7F && fx.encode.e4m3Sat[i] & 0x7F == 0x7E)
            }
            if fx.encode.e2m1[i] != fx.encode.e2m1MlDtypes[i] { #expect(x.isNaN) }
        }
    }

    @Test func edges() {
        #expect(FP8E4M3.encode(448) == 0x7E && FP8E4M3.encode(464) == 0x7E && FP8E4M3.encode(465) == 0x7E)
        #expect(FP8E4M3.encode(1e30) == 0x7E && FP8E4M3.encode(-.infinity) == 0xFE)
        #expect(FP8E4M3.encode(.nan) == 0x7F && FP8E4M3.encode(-Float.nan) == 0xFF)
        #expect(FP8E4M3.encode(0x1p-10) == 0x00 && FP8E4M3.encode(Float(0x1p-10).nextUp) == 0x01)
        #expect(FP8E4M3.encode(-0.0) == 0x80)
        #expect(FP8E5M2.encode(61440) == 0x7C && FP8E5M2.encode(Float(61440).nextDown) == 0x7B)
        #expect(FP8E5M2.encodeSaturating(61440) == 0x7B && FP8E5M2.encodeSaturating(-.infinity) == 0xFB)
        #expect(FP8E5M2.encode(.nan) == 0x7E && FP8E5M2.encodeSaturating(.nan) == 0x7E)
        #expect(FP8E5M2.encode(0x1p-17) == 0 && FP8E5M2.encode(Float(0x1p-17).nextUp) == 1)
        #expect(FP4E2M1.encode(7) == 0x7 && FP4E2M1.encode(-100) == 0xF && FP4E2M1.encode(.nan) == 0)
        #expect(FP4E2M1.encode(0.25) == 0 && FP4E2M1.encode(0.75) == 2 && FP4E2M1.encode(2.5) == 4 && FP4E2M1.encode(5) == 6)
        #expect(FP4E2M1.encode(-0.1) == 0x8)
    }

    /// Decoding then encoding every non-NaN code gives the code back (exhaustive).
    @Test func everyCodeRoundTrips() {
        for c in 0..<256 {
            let v = UInt8(c)
            if !FP8E4M3.decode(v).isNaN { #expect(FP8E4M3.encode(FP8E4M3.decode(v)) == v) }
            if !FP8E5M2.decode(v).isNaN {
                #expect(FP8E5M2.encode(FP8E5M2.decode(v)) == v)
                if !FP8E5M2.decode(v).isInfinite { #expect(FP8E5M2.encodeSaturating(FP8E5M2.decode(v)) == v) }
            }
            if v != 0xFF { #expect(E8M0.encode(E8M0.decode(v)) == v) }
        }
        for c in 0..<16 { #expect(FP4E2M1.encode(FP4E2M1.decode(UInt8(c))) == UInt8(c)) }
    }

    /// An independent oracle in Double: the nearest finite code, ties to the even code, clamped
    /// at the largest finite value, over many random f32 values of every magnitude.
    @Test func randomInputsMatchNearestEvenOracle() {
        func oracle(_ x: Float, table: [(Double, UInt8)], maxCode: UInt8) -> UInt8 {
            let a = Double(abs(x))
            var best = table[0]
            for t in table.dropFirst() {
                let d = abs(t.0 - a), bd = abs(best.0 - a)
                if d < bd || (d == bd && t.1 & 1 == 0) { best = t }
            }
            if a > table.last!.0 { best = (table.last!.0, maxCode) }
            return (x.sign == .minus ? 0x80 : 0) | best.1
        }
        let e4 = (0..<0x7F).map { (Double(FP8E4M3.decode(UInt8($0))), UInt8($0)) }
        let e5 = (0..<0x7C).map { (Double(FP8E5M2.decode(UInt8($0))), UInt8($0)) }
        let e2 = (0..<8).map { (Double(FP4E2M1.decode(UInt8($0))), UInt8($0)) }
        var rng = TestRNG(seed: 42)
        var bad = 0
        for i in 0..<20_000 {
            let x: Float = i % 2 == 0
                ? Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7FFF_FFFF) // any magnitude
                : rng.uniform(-70000, 70000) * Float(sign: .plus, exponent: Int(rng.next() % 24) - 20, significand: 1)
            if x.isNaN || x.isInfinite { continue }
            if FP8E4M3.encode(x) != oracle(x, table: e4, maxCode: 0x7E) { bad += 1 }
            if FP8E5M2.encodeSaturating(x) != oracle(x, table: e5, maxCode: 0x7B) { bad += 1 }
            let c2 = oracle(x, table: e2, maxCode: 7)
            if FP4E2M1.encode(x) != (c2 & 7) | (c2 & 0x80 != 0 ? 8 : 0) { bad += 1 }
        }
        #expect(bad == 0)
    }
}

@Suite("Block formats: MXFP4, NVFP4, scaled FP8")
struct BlockFormatTests {
    let fx = FormatFixture.shared

    @Test func mxfp4MatchesGGMLReferenceBytes() {
        for (r, row) in fx.blocks.rows.enumerated() {
            let x = row.map { Float(bitPattern: $0) }
            let q = MXFP4.quantize(x)
            #expect(q == fx.blocks.mxfp4[r], "row \(r)")
            let y = MXFP4.dequantize(fx.blocks.mxfp4[r], count: x.count)
            #expect(y.map(\.bitPattern) == fx.blocks.mxfp4Dequant[r], "row \(r)")
        }
    }

    @Test func nvfp4MatchesModelOptReferenceBytes() {
        for (r, row) in fx.blocks.rows.enumerated() {
            let x = row.map { Float(bitPattern: $0) }
            let ts = NVFP4.tensorScale(of: x)
            #expect(ts.bitPattern == fx.blocks.nvfp4TensorScale[r])
            let (p, s) = NVFP4.quantize(x, tensorScale: ts)
            #expect(p == fx.blocks.nvfp4Packed[r], "row \(r)")
            #expect(s == fx.blocks.nvfp4Scales[r], "row \(r)")
            let y = NVFP4.dequantize(packed: p, blockScales: s, tensorScale: ts, count: x.count)
            #expect(y.map(\.bitPattern) == fx.blocks.nvfp4Dequant[r], "row \(r)")
        }
    }

    @Test func mxfp4Layout() {
        // Value j in the low nibble of byte 1+j, value j+16 in the high nibble; e = 127 for amax 4..8.
        var x = [Float](repeating: 0, count: 32)
        x[0] = 1; x[16] = -6; x[15] = 0.5; x[31] = 4
        let q = MXFP4.quantize(x)
        #expect(q.count == 17)
        #expect(q[0] == 127)
        #expect(q[1] == 0x2 | (0xF << 4))
        #expect(q[16] == 0x1 | (0x6 << 4))
        #expect(MXFP4.dequantize(q, count: 32) == x)
        // All-zero block: e = 0, codes 0.
        #expect(MXFP4.quantize([Float](repeating: 0, count: 32)) == [UInt8](repeating: 0, count: 17))
        #expect(tk_quantize_row_mxfp4(x, nil, 31) == -1)
        #expect(tk_mxfp4_row_bytes(64) == 34 && tk_mxfp4_row_bytes(48) == 0)
    }

    @Test func nvfp4Layout() {
        // Even column in the low nibble; tensor scale = amax / 2688; block scale = block amax / (6 ts).
        var x = [Float](repeating: 0, count: 32)
        x[0] = 6; x[1] = -1; x[14] = 0.5; x[15] = 3
        x[16] = 1.5
        let ts = NVFP4.tensorScale(of: x)
        #expect(ts == Float(6) / 2688)
        let (p, s) = NVFP4.quantize(x, tensorScale: ts)
        #expect(p.count == 16 && s.count == 2)
        #expect(s[0] == FP8E4M3.encode(448))
        #expect(p[0] == 0x7 | (0xA << 4))
        #expect(p[7] == 0x1 | (0x5 << 4))
        // Block 2: amax 1.5 → s = 1.5 / (6 ts) = 112 exactly in E4M3, codes exact.
        #expect(s[1] == FP8E4M3.encode(112))
        #expect(p[8] & 0xF == 7)
        let y = NVFP4.dequantize(packed: p, blockScales: s, tensorScale: ts, count: 32)
        for i in 0..<32 { #expect(abs(y[i] - x[i]) <= 1e-6 * 6, "\(i)") }
        // A zero block gets scale 1.0 (ModelOpt) and zero codes.
        let z = NVFP4.quantize([Float](repeating: 0, count: 16), tensorScale: 1)
        #expect(z.blockScales == [FP8E4M3.encode(1)] && z.packed == [UInt8](repeating: 0, count: 8))
    }

    /// Half the gap between neighbouring E2M1 magnitudes at |v| (in units of the scale), or the
    /// clamping error above 6.
    static func e2m1Bound(_ a: Float) -> Float {
        a <= 2 ? 0.25 : a <= 4 ? 0.5 : a <= 6 ? 1 : a - 6
    }

    @Test func mxfp4QuantizationErrorBound() {
        var rng = TestRNG(seed: 7)
        for trial in 0..<200 {
            let n = 32 * (1 + trial % 8)
            let spread = Float(trial % 5) * 4 - 8
            let x = (0..<n).map { _ in rng.normal() * Float(sign: .plus, exponent: Int(spread), significand: 1) }
            let q = MXFP4.quantize(x)
            let y = MXFP4.dequantize(q, count: n)
            for b in 0..<n / 32 {
                let scale = E8M0.decode(q[b * 17])
                let amax = x[b * 32..<b * 32 + 32].map { abs($0) }.max()!
                #expect(scale <= amax / 4 && amax < 8 * scale)
                for j in b * 32..<b * 32 + 32 {
                    let bound = Self.e2m1Bound(abs(x[j]) / scale) * scale
                    #expect(abs(y[j] - x[j]) <= bound * (1 + 1e-6), "trial \(trial) value \(j)")
                }
            }
            // Re-quantising the dequantised row reproduces the bytes exactly.
            #expect(MXFP4.quantize(y) == q)
        }
    }

    @Test func nvfp4QuantizationErrorBound() {
        var rng = TestRNG(seed: 8)
        for trial in 0..<200 {
            let n = 16 * (1 + trial % 9)
            let x = (0..<n).map { _ in rng.normal() * 0.05 }
            let ts = NVFP4.tensorScale(of: x)
            let (p, s) = NVFP4.quantize(x, tensorScale: ts)
            let y = NVFP4.dequantize(packed: p, blockScales: s, tensorScale: ts, count: n)
            for b in 0..<n / 16 {
                let d = FP8E4M3.decode(s[b]) * ts
                for j in b * 16..<b * 16 + 16 {
                    let bound = Self.e2m1Bound(abs(x[j]) / d) * d
                    // Slack for the f32 rounding of x / d and of e2m1 · d.
                    #expect(abs(y[j] - x[j]) <= bound + abs(x[j]) * 1e-6, "trial \(trial) value \(j)")
                }
            }
            // Normal-range block scales: re-quantising the dequantised row gives the same values and
            // scales (codes can differ only where a tiny negative became -0, which re-encodes as +0).
            if s.allSatisfy({ $0 >= 0x08 }) {
                let again = NVFP4.quantize(y, tensorScale: ts)
                #expect(again.blockScales == s, "trial \(trial)")
                #expect(NVFP4.dequantize(packed: again.packed, blockScales: again.blockScales, tensorScale: ts, count: n) == y)
            }
        }
    }

    /// Values that are exactly representable (an E2M1 code times the scale the quantiser picks)
    /// survive quantise → dequantise bit for bit.
    @Test func representableValuesReencodeExactly() {
        var rng = TestRNG(seed: 9)
        for trial in 0..<100 {
            // MXFP4: scale 2^k, each block holds a ±6 (or ±4) so the scale rule picks 2^k.
            let k = Int(rng.next() % 40) - 20
            var x = (0..<64).map { _ in FP4E2M1.decode(UInt8(rng.next() % 16)) * Float(sign: .plus, exponent: k, significand: 1) }
            x[3] = (trial % 2 == 0 ? 6 : -4) * Float(sign: .plus, exponent: k, significand: 1)
            x[40] = 6 * Float(sign: .plus, exponent: k, significand: 1)
            #expect(MXFP4.dequantize(MXFP4.quantize(x), count: 64).map(\.bitPattern) == x.map { $0 == 0 ? 0 : $0.bitPattern })
            // NVFP4: tensor scale 1, block scale an E4M3 value s; values e2m1 * s with a ±6 present.
            let sc = FP8E4M3.decode(UInt8(0x08 + rng.next() % 0x70)) // normal E4M3 scales
            var v = (0..<32).map { _ in FP4E2M1.decode(UInt8(rng.next() % 16)) * sc }
            v[5] = -6 * sc
            v[20] = 6 * sc
            let ts = NVFP4.tensorScale(of: v)
            let (p, s) = NVFP4.quantize(v, tensorScale: ts)
            let y = NVFP4.dequantize(packed: p, blockScales: s, tensorScale: ts, count: 32)
            for i in 0..<32 { #expect(abs(y[i] - v[i]) <= abs(v[i]) * 2e-7, "trial \(trial) \(i): \(y[i]) vs \(v[i])") }
            // With tensor scale 1 and a scale that is itself E4M3, the codes are exact.
            let (p1, s1) = NVFP4.quantize(v, tensorScale: 1)
            #expect(s1 == [FP8E4M3.encode(sc), FP8E4M3.encode(sc)])
            let y1 = NVFP4.dequantize(packed: p1, blockScales: s1, tensorScale: 1, count: 32)
            #expect(y1.map(\.bitPattern) == v.map { $0 == 0 ? 0 : $0.bitPattern })
        }
    }

    @Test func fp8ScaledErrorBound() {
        var rng = TestRNG(seed: 10)
        for trial in 0..<50 {
            let x = (0..<257).map { _ in rng.normal() * Float(trial + 1) }
            let scale = FP8Scaled.scale(of: x)
            #expect(scale == x.map { abs($0) }.max()! / 448)
            let q = FP8Scaled.quantize(x, scale: scale)
            let y = FP8Scaled.dequantize(q, scale: scale)
            for i in 0..<x.count {
                // Half an ulp of a 3-bit mantissa (2^-4 relative), or half the subnormal step.
                let bound = max(abs(x[i]) * 0x1p-4, scale * 0x1p-10)
                #expect(abs(y[i] - x[i]) <= bound * (1 + 1e-6), "trial \(trial) \(i)")
            }
            #expect(q.allSatisfy { $0 & 0x7F != 0x7F })
        }
        // Scale 0 writes zeros rather than NaNs.
        #expect(FP8Scaled.quantize([1, 2, 3], scale: 0) == [0, 0, 0])
    }
}
