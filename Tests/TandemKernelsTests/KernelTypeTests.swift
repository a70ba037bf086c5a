import CTandemKernels
import CTandemKernelsEmulated
import Testing
import TandemCore
@testable import TandemKernels

/// One weight-format type, tk_type, from DType to every kernel: the Swift mapping is total and one
/// to one, and a kernel handed a type it has no code for answers TK_ERR_UNSUPPORTED_TYPE (it never
/// computes with a guessed format).
@Suite("Weight formats: one tk_type end to end")
struct KernelTypeTests {
    /// Types tk_gemv has no fused kernel for: tk_matvec's, and numbers that are no tk_type at all.
    static let notFused: [tk_type] = [TK_F32, TK_F16, TK_BF16,
                                      tk_type(rawValue: 77), tk_type(rawValue: 1026)]

    @Test func everyDTypeHasItsOwnKernelType() throws {
        let numbers = DType.allCases.map(\.kernelType.rawValue)
        #expect(Set(numbers).count == DType.allCases.count)
        for dtype in DType.allCases { #expect(try DType(kernelType: dtype.kernelType) == dtype) }
        // GGUF's numbers for the GGML types, Tandem's own (1024 up) for the formats GGUF lacks.
        #expect(DType.q4_0.kernelType.rawValue == 2 && DType.q8_0.kernelType.rawValue == 8)
        #expect(DType.q6_k.kernelType.rawValue == 14 && DType.bf16.kernelType.rawValue == 30)
        #expect(DType.mxfp4.kernelType.rawValue == 39 && MXFP4.ggufType == 39)
        #expect(DType.fp8_e4m3.kernelType.rawValue == 1024 && DType.nvfp4.kernelType.rawValue == 1025)
    }

    @Test func aNumberThatIsNoFormatIsAnErrorNamingIt() {
        for number: UInt32 in [4, 77, 1026] {
            do {
                let dtype = try DType(kernelType: tk_type(rawValue: number))
                Issue.record("kernel type \(number) became \(dtype)")
            } catch let error as KernelError {
                #expect(error.kind == .unsupportedFormat)
                #expect(error.message.contains("kernel type \(number) "), "\(error.message)")
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }

    @Test func whichKernelsTakeWhichTypes() {
        #expect(Set(DType.allCases.filter(\.hasFusedGEMV)) == [.fp8_e4m3, .nvfp4, .mxfp4, .q8_0, .q4_0, .q4_1, .q2_k, .q3_k, .q4_k, .q5_k, .q6_k, .iq4_nl])
        for dtype in DType.allCases {
            // tk_matvec takes every format whose scales are in its rows; tk_gemv or tk_matvec takes each.
            #expect((tk_matvec_supports(dtype.kernelType) == 1) == !dtype.hasSeparateScales, "\(dtype)")
            #expect(dtype.hasFusedGEMV || tk_matvec_supports(dtype.kernelType) == 1, "\(dtype)")
            #expect(tk_row_bytes(dtype.kernelType, 256) == dtype.byteCount(elements: 256), "\(dtype)")
        }
    }

    /// The GEMV entry points (every path, the pool's tk_gemv_mt, the emulated AVX-512 kernels)
    /// refuse a type they have no kernel for, with TK_ERR_UNSUPPORTED_TYPE, and write nothing.
    @Test func gemvRefusesATypeItHasNoKernelFor() throws {
        let x = [Float](repeating: 1, count: 256)
        var y = [Float](repeating: 7, count: 4)
        let data = [UInt8](repeating: 0x11, count: 4 * 256 * 4)
        data.withUnsafeBytes { d in
            for type in Self.notFused {
                let name = "type \(type.rawValue)"
                #expect(tk_gemv_supports(type) == 0, "\(name)")
                var w = tk_weights(format: type, cols: 256, data: d.baseAddress, block_scales: nil, row_scales: nil, scale: 1)
                #expect(tk_gemv(&w, x, &y, 0, 4) == TK_ERR_UNSUPPORTED_TYPE, "\(name)")
                #expect(tk_gemv_mt(&w, x, &y, 0, 4) == TK_ERR_UNSUPPORTED_TYPE, "\(name)")
                for path in [TK_PATH_PORTABLE, TK_PATH_AVX2, TK_PATH_AVX512, TK_PATH_NEON, TK_PATH_DOTPROD] where tk_gemv_path_supported(path) == 1 {
                    #expect(tk_gemv_with_path(path, &w, x, &y, 0, 4) == TK_ERR_UNSUPPORTED_TYPE, "\(name)")
                    #expect(tk_gemv_activation_bits(path, type) == 0, "\(name)")
                }
                #if arch(x86_64)
                if tk_emulated_avx512_available() == 1 {
                    #expect(tk_emulated_avx512_gemv(&w, x, &y, 0, 4) == TK_ERR_UNSUPPORTED_TYPE, "\(name)")
                }
                #endif
            }
        }
        #expect(y == [7, 7, 7, 7], "a refused call wrote output")
    }

    /// tk_matvec and tk_dequantize_row cannot read FP8 or NVFP4 rows without their scales, and no
    /// kernel reads a number that is no tk_type (the GEMM reads every tk_type).
    @Test func matvecAndGEMMRefuseTypesTheyCannotRead() {
        let x = [Float](repeating: 1, count: 256)
        var y = [Float](repeating: 7, count: 4), row = [Float](repeating: 7, count: 256)
        let data = [UInt8](repeating: 0x11, count: 4 * 256 * 4)
        data.withUnsafeBytes { d in
            for type in [TK_FP8_E4M3, TK_NVFP4, tk_type(rawValue: 77)] {
                let name = "type \(type.rawValue)"
                #expect(tk_matvec_supports(type) == 0, "\(name)")
                #expect(tk_matvec(type, d.baseAddress, x, &y, 0, 4, 256) == TK_ERR_UNSUPPORTED_TYPE, "\(name)")
                #expect(tk_matvec_mt(type, d.baseAddress, x, &y, 0, 4, 256) == TK_ERR_UNSUPPORTED_TYPE, "\(name)")
                #expect(tk_dequantize_row(type, d.baseAddress, &row, 256) == TK_ERR_UNSUPPORTED_TYPE, "\(name)")
            }
            var w = tk_weights(format: tk_type(rawValue: 77), cols: 256, data: d.baseAddress, block_scales: nil, row_scales: nil, scale: 1)
            #expect(tk_row_bytes(w.format, 256) == 0)
            #expect(tk_gemm(&w, x, 256, &y, 4, 1, 0, 4) == TK_ERR_UNSUPPORTED_TYPE)
            #expect(tk_gemm_mt(&w, x, 256, &y, 4, 1, 0, 4) == TK_ERR_UNSUPPORTED_TYPE)
            // A format it has code for but a shape it cannot take stays TK_ERR_INVALID.
            w.format = TK_Q8_0
            w.cols = 48
            #expect(tk_gemm(&w, x, 256, &y, 4, 1, 0, 4) == TK_ERR_INVALID)
            #expect(tk_matvec(TK_Q8_0, d.baseAddress, x, &y, 0, 4, 48) == TK_ERR_INVALID)
        }
        #expect(y == [7, 7, 7, 7] && row.allSatisfy { $0 == 7 }, "a refused call wrote output")
    }
}
