#ifndef TANDEM_EMULATED_H
#define TANDEM_EMULATED_H
// The AVX-512 (F/BW/VL/VNNI) GEMV kernels compiled a second time against SIMDe
// (libsimde-dev: every x86 intrinsic implemented in portable C), so their code runs, and is
// tested, on CPUs without AVX-512 (this development VM has AVX2 only). Tests only: nothing in
// the product links this target. Same sources as the real kernels (gemv_avx512.c and
// gemv_int8.c are #included), only the intrinsics differ.
#include "tandem_gemv.h"
#include <stdint.h>

/// 1 when the emulated kernels were built (x86-64 with SIMDe's headers), else 0.
int tk_emulated_avx512_available(void);

/// y = W·x over rows [row_begin, row_end) through the kernel the AVX-512 path runs for
/// w->format (FP8: tk__gemv_fp8_avx512; NVFP4/MXFP4/Q4_0: the VNNI integer kernels; Q8_0: the
/// int16 kernel). The caller passes what tk_gemv accepts (it checks the shape the same way).
/// Returns 0; TK_ERR_INVALID (-1) for a bad shape; TK_ERR_UNSUPPORTED_TYPE (-2) for a type
/// tk_gemv does not take, or one the AVX-512 path runs through an AVX2-only kernel not compiled
/// here (Q4_1); -3 when not available.
int tk_emulated_avx512_gemv(const tk_weights *w, const float *x, float *y, int64_t row_begin, int64_t row_end);

/// Y (n tokens, ldy apart) = X · Wᵀ over rows [row_begin, row_end) through the GEMM's integer route
/// as the AVX-512 path runs it (gemm_int8.c's VNNI kernels: Q8_0, Q4_0, Q4_1, MXFP4, NVFP4), checked
/// as tk_gemm checks. Returns 0; TK_ERR_INVALID; TK_ERR_UNSUPPORTED_TYPE for another format; -3
/// when not available.
int tk_emulated_avx512_gemm(const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
                            int64_t row_begin, int64_t row_end);

/// The AArch64 GEMV kernels (gemv_neon.c: NEON and dot-product paths) compiled against SIMDe's
/// portable NEON (<simde/arm/neon.h>) on x86-64, so their code runs here too; on AArch64 the real
/// kernels run instead (tk_gemv_with_path). 1 when built, else 0.
int tk_emulated_neon_available(void);

/// y = W·x over rows [row_begin, row_end) through the kernel `path` (TK_PATH_NEON or
/// TK_PATH_DOTPROD) runs for w->format, checked as tk_gemv checks. Returns 0; TK_ERR_INVALID for
/// a bad shape or another path; TK_ERR_UNSUPPORTED_TYPE for a type tk_gemv does not take; -3
/// when not available.
int tk_emulated_neon_gemv(tk_gemv_path path, const tk_weights *w, const float *x, float *y,
                          int64_t row_begin, int64_t row_end);

/// The same kernels built with TK_TEST_BREAK_LANE (each negates one lane of its block dot or of
/// its widened weights): what the tests must reject. Same returns.
int tk_emulated_neon_broken_gemv(tk_gemv_path path, const tk_weights *w, const float *x, float *y,
                                 int64_t row_begin, int64_t row_end);

/// Y (n tokens, ldy apart) = X · Wᵀ over rows [row_begin, row_end) through the GEMM's integer route
/// on `path` (gemm_int_neon.c, TK_PATH_NEON or TK_PATH_DOTPROD: Q8_0 with int16 activations, Q4_0,
/// MXFP4 and NVFP4 with int8), on SIMDe. Returns 0; TK_ERR_INVALID for a bad shape or another path;
/// TK_ERR_UNSUPPORTED_TYPE for a format that takes the float route; -3 when not available.
int tk_emulated_neon_gemm(tk_gemv_path path, const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy,
                          int64_t n, int64_t row_begin, int64_t row_end);
/// Whether the emulated dot-product path's int8 GEMM takes its smmla (FEAT_I8MM) kernel (1) or its
/// sdot kernel (0, the default), as a CPU with and without I8MM would.
void tk_emulated_neon_gemm_i8mm(int enable);
void tk_emulated_neon_broken_gemm_i8mm(int enable);
/// The same built with TK_TEST_BREAK_LANE. Same returns.
int tk_emulated_neon_broken_gemm(tk_gemv_path path, const tk_weights *w, const float *x, int64_t ldx, float *y,
                                 int64_t ldy, int64_t n, int64_t row_begin, int64_t row_end);
/// The AArch64 GEMM tile (gemm_neon.c): y[t * ldy + i] = row i of w (`cols` floats each) · token
/// t of x, for nr ≤ 3 rows and nt ≤ 4 tokens, on SIMDe. Returns 0; TK_ERR_INVALID for nr or nt out
/// of range or a missing pointer; -3 when not available.
int tk_emulated_neon_gemm_tile(const float *w, int64_t nr, const float *x, int64_t ldx, int64_t nt, float *y,
                               int64_t ldy, int64_t cols);
/// The same tile built with TK_TEST_BREAK_LANE. Same returns.
int tk_emulated_neon_broken_gemm_tile(const float *w, int64_t nr, const float *x, int64_t ldx, int64_t nt, float *y,
                                      int64_t ldy, int64_t cols);

/// The AArch64 step attention of one query head (attention_neon.c), arguments as
/// tk_attention_paged_ex plus the head's attention sink (`sink`, NULL: none), on SIMDe. Returns 0; TK_ERR_INVALID for a missing pointer or an empty
/// shape; -3 when not available.
int tk_emulated_neon_attention(float *out, const float *q, const float *k_base, const float *v_base, const int32_t *table,
                               int64_t block_size, int64_t stride, int64_t len, int64_t hd, float *scores, int64_t first,
                               float softcap, const float *sink);
/// The same built with TK_TEST_BREAK_LANE. Same returns.
int tk_emulated_neon_broken_attention(float *out, const float *q, const float *k_base, const float *v_base,
                                      const int32_t *table, int64_t block_size, int64_t stride, int64_t len, int64_t hd,
                                      float *scores, int64_t first, float softcap, const float *sink);

/// The AArch64 FP8 step attention of the g query heads that share one KV head
/// (attention_fp8_neon.c), q and out holding the g heads head_dim apart, scores g × len, `sinks`
/// the g heads' attention sinks (NULL: none), the other arguments as tk_attention_paged_fp8_ex; on
/// SIMDe. Returns 0; TK_ERR_INVALID for a missing pointer, an empty shape or no memory; -3 when
/// not available.
int tk_emulated_neon_attention_fp8(float *out, const float *q, int64_t g, const uint8_t *k_codes, const uint8_t *v_codes,
                                   const float *k_scales, const float *v_scales, int64_t scale_stride,
                                   const int32_t *table, int64_t block_size, int64_t stride, int64_t len, int64_t hd,
                                   float *scores, int64_t first, float softcap, const float *sinks);
/// The same built with TK_TEST_BREAK_LANE. Same returns.
int tk_emulated_neon_broken_attention_fp8(float *out, const float *q, int64_t g, const uint8_t *k_codes,
                                          const uint8_t *v_codes, const float *k_scales, const float *v_scales,
                                          int64_t scale_stride, const int32_t *table, int64_t block_size, int64_t stride,
                                          int64_t len, int64_t hd, float *scores, int64_t first, float softcap,
                                          const float *sinks);

#endif
