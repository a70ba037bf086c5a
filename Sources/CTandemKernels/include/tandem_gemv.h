// Tandem fused dequantise-and-multiply GEMV for decode: y = W x with W stored quantised, one
// output feature per row, row-major. Each call computes rows [row_begin, row_end) only, so callers
// can split the rows across threads; it reads all of x (cols) and writes y[row_begin..row_end).
//
// Formats: the tk_type values below (tandem_kernels.h; layouts there and in tandem_formats.h),
// described by a tk_weights. Any other tk_type is TK_ERR_UNSUPPORTED_TYPE here (tk_matvec takes
// the float formats; tk_gemv_supports says which).
//   TK_FP8_E4M3  E4M3 bytes (rows, cols), value = e4m3 * scale * (row_scales ? row_scales[r] : 1);
//                any cols.
//   TK_NVFP4     ModelOpt NVFP4: data = packed nibbles (rows, cols/2), block_scales = E4M3
//                (rows, cols/16), scale = tensor scale (weight_scale_2); cols % 16 == 0.
//   TK_MXFP4     ggml block_mxfp4 rows (17 bytes per 32 values); cols % 32 == 0.
//   TK_Q8_0      ggml block_q8_0 rows (34 bytes per 32); cols % 32 == 0.
//   TK_Q4_0      ggml block_q4_0 rows (18 bytes per 32); cols % 32 == 0.
//   TK_Q4_1      ggml block_q4_1 rows (20 bytes per 32: d, m, nibbles; value = d*q + m);
//                cols % 32 == 0.
//   TK_Q2_K, TK_Q3_K, TK_Q4_K, TK_Q5_K, TK_Q6_K  ggml K-quant super-blocks (84, 110, 144, 176,
//                210 bytes per 256 values; kquants.c); cols % 256 == 0.
//   TK_IQ4_NL    ggml block_iq4_nl rows (18 bytes per 32: d, nibbles indexing a 16-value table);
//                cols % 32 == 0.
//
// Paths: a portable C path always exists; on x86-64 an AVX2 (+FMA, F16C) and an AVX-512
// (F, BW, VL, VNNI) path are chosen at run time with __builtin_cpu_supports; on AArch64 a NEON
// path and a dot-product (sdot) path, chosen from getauxval(AT_HWCAP) (gemv_neon.c). The Arm
// paths take the same routes as the x86 ones (float: FP8, Q4_1; int8 x: the 4-bit formats;
// int16 x: Q8_0).
//   Float route (portable: all formats; AVX2/AVX-512 and both Arm paths: FP8, Q4_1, the
//     K-quants and IQ4_NL): weights dequantised
//     exactly, products summed in f32; differs from a float64 dequantise-then-dot by f32 rounding.
//   Integer route (AVX2/AVX-512: MXFP4, NVFP4, Q4_0): x is quantised per 32-value block to int8
//     (d = amax/127, round to nearest even) like llama.cpp's Q8 activations, weights go through a
//     16-entry table to int8, blocks are integer dot products (AVX2 vpmaddubsw, AVX-512 VNNI
//     vpdpbusd on 256-bit registers). Extra error <= sum over x blocks of (d_x/2) * sum |w_i|.
//     Q8_0 takes the same route with x rounded to int16 (d = amax/32767; vpmovsxbw + vpmaddwd),
//     256x less activation error, for the tied output heads stored in Q8_0.
//     tk_gemv_activation_bits says which (path, format) pairs do this and how wide. It pays on an AVX2
//     Zen (1 thread, 4096 columns, MXFP4): 9.8 GB/s against 4.3 GB/s for the float route.
// Weights holding NaN codes give unspecified (not necessarily NaN) results on the SIMD paths.
#ifndef TANDEM_GEMV_H
#define TANDEM_GEMV_H

#include <stddef.h>
#include <stdint.h>
#include "tandem_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TK_PATH_AUTO = 0,     ///< for tk_gemv_set_path: the best path this CPU supports
    TK_PATH_PORTABLE = 1, ///< plain C
    TK_PATH_AVX2 = 2,     ///< x86-64 AVX2 + FMA + F16C
    TK_PATH_AVX512 = 3,   ///< x86-64 AVX-512 F/BW/VL/VNNI (+ F16C, FMA)
    TK_PATH_NEON = 4,     ///< AArch64 Advanced SIMD (every AArch64 core)
    TK_PATH_DOTPROD = 5,  ///< AArch64 Advanced SIMD + FEAT_DotProd (sdot)
} tk_gemv_path;

/// Selects the path for subsequent tk_gemv calls (process-wide). TK_PATH_AUTO picks the best.
/// Returns 0, or -1 (and changes nothing) if the path is not supported on this CPU/build.
int tk_gemv_set_path(tk_gemv_path path);
/// The path tk_gemv uses now (never TK_PATH_AUTO).
tk_gemv_path tk_gemv_get_path(void);
/// The best path this CPU supports.
tk_gemv_path tk_gemv_best_path(void);
/// 1 if `path` can run here (TK_PATH_AUTO and TK_PATH_PORTABLE always can), else 0.
int tk_gemv_path_supported(tk_gemv_path path);
/// Sets (on != 0) or clears the calling thread's denormals-are-zero mode (x86 MXCSR bit 6) and
/// returns the previous setting (0 or 1), or -1 where the CPU has no such mode (nothing changed).
/// For tests: the FP8 and Q4_1 kernels read weights as f32 denormals and must give the same
/// results whatever a process's code built with -ffast-math set.
int tk_cpu_set_denormals_are_zero(int on);
/// The CPU features the paths are chosen from, space-separated, into buf (NUL-terminated):
/// x86-64 "avx2 fma f16c avx512f avx512bw avx512vl avx512vnni" as present; AArch64 "asimd dotprod
/// i8mm bf16 sve sve2" as present (Linux: getauxval(AT_HWCAP/AT_HWCAP2)). Returns 0, or -1 if buf
/// is NULL or too small (what fit is kept).
int tk_cpu_features(char *buf, size_t size);
/// "portable", "avx2", "avx512", "neon", "dotprod" or "auto".
const char *tk_gemv_path_name(tk_gemv_path path);

/// Overrides the path for tk_gemv calls made by this thread (and by tk_gemv_mt's workers on its
/// behalf); TK_PATH_AUTO removes the override. Returns 0, or -1 if the path cannot run here.
/// For tests and accuracy tools that must not change what other threads compute.
int tk_gemv_set_thread_path(tk_gemv_path path);
/// The path this thread's tk_gemv calls use: its override, else the process-wide path.
tk_gemv_path tk_gemv_effective_path(void);

/// 1 if tk_gemv has a fused kernel for `type` (the twelve formats above), else 0.
int tk_gemv_supports(tk_type type);

/// 1 if `path` (TK_PATH_AUTO: this thread's effective one) computes `type` on the integer route, quantising
/// x per 32-value block; 0 if it dequantises exactly (float route) or tk_gemv does not take `type`.
int tk_gemv_quantizes_activations(tk_gemv_path path, tk_type type);
/// The integer route's activation width: 8 (4-bit formats: d = amax/127), 16 (Q8_0: d = amax/32767),
/// or 0 on the float route (and for a type tk_gemv does not take). Each x_i moves by at most d/2.
int tk_gemv_activation_bits(tk_gemv_path path, tk_type type);

/// y[r] = sum_c W[r, c] * x[c] for r in [row_begin, row_end), on this thread's effective path.
/// Returns 0; TK_ERR_UNSUPPORTED_TYPE if tk_gemv_supports(w->format) is 0; TK_ERR_INVALID for a
/// bad shape or a missing pointer (NVFP4 without block scales included).
int tk_gemv(const tk_weights *w, const float *x, float *y, int64_t row_begin, int64_t row_end);
/// As tk_gemv on an explicit path (TK_PATH_AUTO = the effective path); TK_ERR_INVALID if the path
/// cannot run here. Thread-safe: does not touch the process-wide selection (use this in concurrent tests).
int tk_gemv_with_path(tk_gemv_path path, const tk_weights *w, const float *x, float *y,
                      int64_t row_begin, int64_t row_end);
/// tk_gemv with rows split over the process-wide pool (tandem_pool.h) when the matrix is large
/// enough. Identical results to tk_gemv (each row is computed the same way, by one thread, on the
/// caller's effective path). Same return values.
int tk_gemv_mt(const tk_weights *w, const float *x, float *y, int64_t row_begin, int64_t row_end);
/// How many tk_gemv_mt / tk_matvec_mt calls made on the calling thread were split over the pool
/// (for tests: other threads' calls, and other pools, do not count).
int64_t tk_threads_splits_on_this_thread(void);

// ---- per-format conveniences (current path) ----
int tk_gemv_fp8_e4m3(const uint8_t *w, float scale, const float *row_scales, const float *x, float *y,
                     int64_t row_begin, int64_t row_end, int64_t cols);
int tk_gemv_nvfp4(const uint8_t *w, const uint8_t *block_scales, float tensor_scale, const float *x,
                  float *y, int64_t row_begin, int64_t row_end, int64_t cols);
int tk_gemv_mxfp4(const void *w, const float *x, float *y, int64_t row_begin, int64_t row_end, int64_t cols);
int tk_gemv_q8_0(const void *w, const float *x, float *y, int64_t row_begin, int64_t row_end, int64_t cols);
int tk_gemv_q4_0(const void *w, const float *x, float *y, int64_t row_begin, int64_t row_end, int64_t cols);
int tk_gemv_q4_1(const void *w, const float *x, float *y, int64_t row_begin, int64_t row_end, int64_t cols);

/// The x86 Q4_1 SIMD kernel's block dot: 1 reads nibbles as f32 denormals (no conversion; full
/// speed on AMD Zen), 0 converts them (vcvtdq2ps; Intel cores take a microcode assist per denormal
/// multiply). Chosen from the CPU vendor at first use; `enable` 0/1 sets it for the calling thread
/// only (tests call tk_gemv on their own thread), -1 only asks. Returns the previous setting. Results agree to f32 rounding either way. On
/// other architectures it does nothing and returns -1.
int tk_gemv_q4_1_denormal_route(int enable);

#ifdef __cplusplus
}
#endif
#endif
