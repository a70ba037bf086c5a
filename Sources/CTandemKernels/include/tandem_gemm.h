// Tandem blocked GEMM for prefill and batched decode: Y = X · Wᵀ for many tokens at once, with W
// stored in any format Tandem reads (F32, F16, BF16, Q8_0, Q4_0, Q4_1, MXFP4, FP8 E4M3, NVFP4).
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

/// Storage of a weight matrix for tk_gemm. `kind` TK_GEMM_TYPE: `type` (tk_type) describes the
/// rows; TK_GEMM_GEMV: `gemv` does (FP8 with its scales, NVFP4 with its block-scale plane).
typedef enum { TK_GEMM_TYPE = 0, TK_GEMM_GEMV = 1 } tk_gemm_kind;

typedef struct {
    tk_gemm_kind kind;
    tk_type type;          ///< kind TK_GEMM_TYPE
    tk_gemv_weights gemv;  ///< kind TK_GEMM_GEMV (any tk_gemv format)
    const void *data;      ///< kind TK_GEMM_TYPE: row 0
    int64_t cols;
} tk_gemm_weights;

/// Y[t * ldy + r] = sum_c W[r, c] * X[t * ldx + c] for t in [0, n), r in [row_begin, row_end),
/// on the calling thread. Returns 0, or -1 for a bad shape, format or pointer.
int tk_gemm(const tk_gemm_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
            int64_t row_begin, int64_t row_end);
/// As tk_gemm, on an explicit path (TK_PATH_AUTO: the thread's effective GEMV path).
int tk_gemm_with_path(tk_gemv_path path, const tk_gemm_weights *w, const float *x, int64_t ldx, float *y,
                      int64_t ldy, int64_t n, int64_t row_begin, int64_t row_end);
/// As tk_gemm with panels of rows split over the process-wide pool (tandem_pool.h). Same results.
int tk_gemm_mt(const tk_gemm_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
               int64_t row_begin, int64_t row_end);

/// Attention of a whole step: for every token t and query head h, out[t * q_stride + h * head_dim]
/// = attention of q[t * q_stride + h * head_dim] over positions 0...positions[t] of its sequence,
/// K/V read through the block table at tables + table_offset[t] (as tk_attention_paged; KV head
/// h / q_per_kv at (h / q_per_kv) * head_dim inside a token's slot). The (token, head) pairs
/// are spread over the process-wide pool; each pair is computed the same way whatever the batch,
/// on the AVX2 path when the CPU has it (else the portable tk_attention_paged). Returns 0 or -1.
typedef struct {
    float *out;
    const float *q;
    const float *k_base, *v_base;
    const int32_t *tables;
    const int64_t *table_offset;
    const int64_t *positions;
    int64_t tokens, heads, q_per_kv, head_dim, q_stride, block_size, token_stride;
} tk_attention_step;
int tk_attention_step_mt(const tk_attention_step *s);

// ---- the step attention over an FP8 K/V cache (attention_fp8.c) ----
// Each (token, KV head) vector of K and of V is head_dim E4M3 codes (OCP e4m3fn) times one FP32
// scale, amax / 448, so a vector's largest value lands on E4M3's largest finite value. Codes live
// where tk_attention_step's floats do (slot s, KV head g at codes + s * token_stride + g * head_dim,
// in bytes); scales in a plane beside them, scales[s * scale_stride + g].

/// codes (vectors, n), scales (vectors): vector i = src[i * n ..< (i + 1) * n] quantised with
/// scales[i] = amax / 448 (tk_fp8_e4m3_scale) and codes e4m3(x / scale) (round to nearest even,
/// saturating; an all-zero vector gets scale 0 and zero codes).
void tk_quantize_vectors_fp8_e4m3(const float *src, uint8_t *codes, float *scales, int64_t vectors, int64_t n);

/// As tk_attention_step, reading keys and values as e4m3(code) * scale. Paths as
/// tk_attention_step_mt: AVX2 (codes widened to f32 through F16C) when the thread's effective
/// path has it, else the portable tk_attention_paged_fp8. Returns 0 or -1.
typedef struct {
    float *out;
    const float *q;
    const uint8_t *k_codes, *v_codes;
    const float *k_scales, *v_scales;
    const int32_t *tables;
    const int64_t *table_offset;
    const int64_t *positions;
    int64_t tokens, heads, q_per_kv, head_dim, q_stride, block_size, token_stride;
    int64_t scale_stride; ///< scales per slot (this rank's KV heads)
} tk_attention_step_fp8;
int tk_attention_step_fp8_mt(const tk_attention_step_fp8 *s);

#ifdef __cplusplus
}
#endif
#endif
