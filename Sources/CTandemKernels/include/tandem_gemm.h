// Tandem blocked GEMM for prefill and batched decode: Y = X · Wᵀ for many tokens at once, with W
// stored in any format Tandem reads (every tk_type: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1,
// MXFP4, the K-quants Q2_K to Q6_K, IQ4_NL, FP8 E4M3, NVFP4).
//
// Why a second kernel beside the GEMV: a GEMV reads every weight once per token, so prefill and a
// step of many decodes are bound by memory bandwidth times the token count. Here a panel of rows
// is dequantised once into a per-thread f32 scratch (L2-sized) and multiplied with a block of
// tokens (L2-sized) by a 3-row × 4-token register tile of FMAs, so each weight byte is read once
// per call and the arithmetic runs from cache.
//
// Integer route (gemm_int8.c on x86-64, gemm_int_neon.c on AArch64; tk_gemm_activation_bits says
// where): for Q8_0, Q4_0, MXFP4 and NVFP4 on the AVX2, AVX-512 VNNI, NEON and dot-product paths,
// each token is quantised per 32 values once per call, to int8 for the 4-bit formats and to int16
// for Q8_0 (the widths tk_gemv uses; Q4_1, which tk_gemv keeps exact, stays on the float route),
// and a panel of 16 rows is repacked into 8-row interleaved vectors, so each vpdpbusd / vpdpwssd
// (vpmaddubsw / vpmaddwd on AVX2; sdot by element, or smull + addp, and smlal by element on Arm)
// adds 4, 2 or 1 products to 4 or 8 rows at once, or each smmla (Arm with FEAT_I8MM, rows and
// tokens in pairs) 8 products to a 2 x 2 block, and the scales cost one multiply and one FMA per
// 4 or 8 rows x 32 columns. Error: the activation rounding (each x_i moves by at most d/2) plus f32
// rounding.
//
// Results: every (row, token) dot product is summed in one fixed order (float route: 8 f32 lanes
// over the columns in steps of 8, a fixed horizontal sum, then the scalar tail; integer route:
// block by block), whatever the number of tokens, the tile the pair falls in, or the thread count:
// a token's output does not depend on which other tokens share the call. It differs from tk_gemv
// by f32 rounding (another order); on the integer route both round x alike, through one quantiser
// per architecture.
// Float-route paths: AVX2 + FMA (also used when the GEMV path is AVX-512), NEON and portable C,
// chosen like tk_gemv (tandem_gemv.h: the thread override applies).
#ifndef TANDEM_GEMM_H
#define TANDEM_GEMM_H

#include <stddef.h>
#include <stdint.h>
#include "tandem_gemv.h"
#include "tandem_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Y[t * ldy + r] = sum_c W[r, c] * X[t * ldx + c] for t in [0, n), r in [row_begin, row_end),
/// on the calling thread, W described by a tk_weights of any tk_type (tandem_kernels.h). Returns 0,
/// TK_ERR_UNSUPPORTED_TYPE for a value that is no tk_type, or TK_ERR_INVALID for a bad shape or pointer.
int tk_gemm(const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
            int64_t row_begin, int64_t row_end);
/// As tk_gemm, on an explicit path (TK_PATH_AUTO: the thread's effective GEMV path).
int tk_gemm_with_path(tk_gemv_path path, const tk_weights *w, const float *x, int64_t ldx, float *y,
                      int64_t ldy, int64_t n, int64_t row_begin, int64_t row_end);
/// The width tk_gemm on `path` (TK_PATH_AUTO: this thread's effective one) quantises x to for
/// `type`, per 32-value block: 8 (int8, d = amax/127: Q4_0, MXFP4, NVFP4) or 16 (int16,
/// d = amax/32767: Q8_0) on the integer route of the AVX2, AVX-512, NEON and dot-product paths; 0
/// on the float route (other formats and paths). Each x_i moves by at most d/2.
int tk_gemm_activation_bits(tk_gemv_path path, tk_type type);
/// As tk_gemm with panels of rows split over the process-wide pool (tandem_pool.h). Same results.
int tk_gemm_mt(const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
               int64_t row_begin, int64_t row_end);

#ifdef __cplusplus
}
#endif
#endif
