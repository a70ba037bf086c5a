// Tandem blocked GEMM for prefill and batched decode: Y = X · Wᵀ for many tokens at once, with W
// stored in any format Tandem reads (every tk_type: F32, F16, BF16, Q8_0, Q4_0, Q4_1, MXFP4, the
// K-quants, FP8 E4M3, NVFP4).
//
// Why a second kernel beside the GEMV: a GEMV reads every weight once per token, so prefill and a
// step of many decodes are bound by memory bandwidth times the token count. Here a panel of rows
// is dequantised once into a per-thread f32 scratch (L2-sized) and multiplied with a block of
// tokens (L2-sized) by a 3-row × 4-token register tile of FMAs, so each weight byte is read once
// per call and the arithmetic runs from cache.
//
// Results: every (row, token) dot product is summed in one fixed order (8 f32 lanes over the
// columns in steps of 8, a fixed horizontal sum, then the scalar tail), whatever the number of
// tokens, the tile the pair falls in, or the thread count: a token's output does not depend on
// which other tokens share the call. It differs from tk_gemv (another order; the integer route
// quantises x) by f32 rounding. Paths: AVX2 + FMA (also used when the GEMV path is AVX-512) and
// portable C, chosen like tk_gemv (tandem_gemv.h: the thread override applies).
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
/// As tk_gemm with panels of rows split over the process-wide pool (tandem_pool.h). Same results.
int tk_gemm_mt(const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
               int64_t row_begin, int64_t row_end);

#ifdef __cplusplus
}
#endif
#endif
