// The body of neon_emulated.c and neon_emulated_broken.c (see include/tandem_emulated.h): SIMDe's
// NEON with native aliases (every v* intrinsic and *x*_t type the kernels name becomes SIMDe's
// portable C), then gemv_neon.c, gemm_neon.c, gemm_int_neon.c, attention_neon.c and
// attention_fp8_neon.c themselves with TK_NEON_EMULATED defined, their target attributes empty and
// their exported names changed through EMU_NAME, then the entry points EMU_GEMV, EMU_GEMM,
// EMU_TILE, EMU_ATTENTION and EMU_ATTENTION_FP8.
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/arm/neon.h>
#include "tandem_kernels.h"
#include <math.h>

// The intrinsics the kernels use that SIMDe 0.7.4 lacks, lane by lane. fcvtns: f32 → int32,
// rounding to nearest with ties to even (the C default rounding mode), saturating.
static inline simde_int32x4_t emu_vcvtnq_s32_f32(simde_float32x4_t a) {
    float f[4];
    int32_t i[4];
    simde_vst1q_f32(f, a);
    for (int k = 0; k < 4; k++) {
        float r = nearbyintf(f[k]);
        i[k] = r != r ? 0 : r >= 2147483648.0f ? INT32_MAX : r < -2147483648.0f ? INT32_MIN : (int32_t)r;
    }
    return simde_vld1q_s32(i);
}
#define vcvtnq_s32_f32(a) emu_vcvtnq_s32_f32(a)
// fcvtl2: the upper 4 of 8 f16 lanes → f32.
static inline simde_float32x4_t emu_vcvt_high_f32_f16(simde_float16x8_t a) {
    uint16_t h[8];
    float f[4];
    simde_vst1q_u16(h, simde_vreinterpretq_u16_f16(a));
    for (int k = 0; k < 4; k++) f[k] = tk_f16_to_f32(h[4 + k]);
    return simde_vld1q_f32(f);
}
#define vcvt_high_f32_f16(a) emu_vcvt_high_f32_f16(a)

// smmla: Vd.4S += (2 x 8 int8 rows of a) · (2 x 8 int8 rows of b)ᵀ, the 2 x 2 result row-major.
static inline simde_int32x4_t emu_vmmlaq_s32(simde_int32x4_t acc, simde_int8x16_t a, simde_int8x16_t b) {
    int32_t d[4];
    int8_t x[16], y[16];
    simde_vst1q_s32(d, acc);
    simde_vst1q_s8(x, a);
    simde_vst1q_s8(y, b);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 8; k++) d[2 * i + j] += (int32_t)x[8 * i + k] * (int32_t)y[8 * j + k];
    return simde_vld1q_s32(d);
}
#define vmmlaq_s32(acc, a, b) emu_vmmlaq_s32(acc, a, b)

#define TK_NEON_EMULATED
#define TK_NEON
#define TK_DOTPROD
#define TK_I8MM
#define tk__gemv_fp8_neon EMU_NAME(fp8_neon)
#define tk__gemv_q4_1_neon EMU_NAME(q4_1_neon)
#define tk__gemv_q8_0_int16_neon EMU_NAME(q8_0_int16_neon)
#define tk__gemv_q4_k_neon EMU_NAME(q4_k_neon)
#define tk__gemv_q5_k_neon EMU_NAME(q5_k_neon)
#define tk__gemv_q6_k_neon EMU_NAME(q6_k_neon)
#define tk__gemv_q2_k_neon EMU_NAME(q2_k_neon)
#define tk__gemv_q3_k_neon EMU_NAME(q3_k_neon)
#define tk__gemv_iq4_nl_neon EMU_NAME(iq4_nl_neon)
#define tk__gemv_q4_0_int_neon EMU_NAME(q4_0_int_neon)
#define tk__gemv_mxfp4_int_neon EMU_NAME(mxfp4_int_neon)
#define tk__gemv_nvfp4_int_neon EMU_NAME(nvfp4_int_neon)
#define tk__gemv_q4_0_int_dot EMU_NAME(q4_0_int_dot)
#define tk__gemv_mxfp4_int_dot EMU_NAME(mxfp4_int_dot)
#define tk__gemv_nvfp4_int_dot EMU_NAME(nvfp4_int_dot)
#define tk__gemm_tile_neon EMU_NAME(gemm_tile_neon)
#define tk__quantize_x8_neon EMU_NAME(quantize_x8_neon)
#define tk__quantize_x16_neon EMU_NAME(quantize_x16_neon)
#define tk__gemm_int_route EMU_NAME(gemm_int_route)
#define tk__gemm_xq_init EMU_NAME(gemm_xq_init)
#define tk__gemm_xq_free EMU_NAME(gemm_xq_free)
#define tk__gemm_int_rows_neon EMU_NAME(gemm_int_rows_neon)
#define tk__arm_has_i8mm EMU_NAME(arm_has_i8mm)
#define tk__attention_f32_neon EMU_NAME(attention_f32_neon)
#define tk__attention_fp8_group_neon EMU_NAME(attention_fp8_group_neon)
#include "../CTandemKernels/gemv_neon.c"
#include "../CTandemKernels/gemm_neon.c"
#include "../CTandemKernels/gemm_int_neon.c"
#include "../CTandemKernels/attention_neon.c"
#include "../CTandemKernels/attention_fp8_neon.c"

int EMU_ATTENTION_FP8(float *out, const float *q, int64_t g, const uint8_t *k_codes, const uint8_t *v_codes,
                      const float *k_scales, const float *v_scales, int64_t scale_stride, const int32_t *table,
                      int64_t block_size, int64_t stride, int64_t len, int64_t hd, float *scores, int64_t first,
                      float softcap, const float *sinks) {
    if (!out || !q || !k_codes || !v_codes || !k_scales || !v_scales || !table || !scores || g < 1 || block_size < 1 ||
        len < 1 || hd < 1)
        return TK_ERR_INVALID;
    int64_t *rows = malloc((size_t)len * 2 * sizeof(int64_t));
    float *wide = malloc((size_t)(NEON_V_TILE * hd) * sizeof(float));
    int rc = TK_ERR_INVALID;
    if (rows && wide) {
        tk__attention_fp8_group_neon(out, q, g, k_codes, v_codes, k_scales, v_scales, scale_stride, table, block_size,
                                     stride, len, hd, scores, rows, rows + len, wide, first, softcap, sinks);
        rc = TK_OK;
    }
    free(rows);
    free(wide);
    return rc;
}

int EMU_ATTENTION(float *out, const float *q, const float *k_base, const float *v_base, const int32_t *table,
                  int64_t block_size, int64_t stride, int64_t len, int64_t hd, float *scores, int64_t first, float softcap,
                  const float *sink) {
    if (!out || !q || !k_base || !v_base || !table || !scores || block_size < 1 || len < 1 || hd < 1) return TK_ERR_INVALID;
    int64_t *rows = malloc((size_t)len * sizeof(int64_t));
    if (!rows) return TK_ERR_INVALID;
    tk__attention_f32_neon(out, q, k_base, v_base, table, block_size, stride, len, hd, scores, rows, first, softcap, sink);
    free(rows);
    return TK_OK;
}

int EMU_TILE(const float *w, int64_t nr, const float *x, int64_t ldx, int64_t nt, float *y, int64_t ldy, int64_t cols) {
    if (!w || !x || !y || nr < 1 || nr > 3 || nt < 1 || nt > 4 || cols < 0 || ldx < cols || ldy < nr) return TK_ERR_INVALID;
    tk__gemm_tile_neon(w, nr, x, ldx, nt, y, ldy, cols);
    return TK_OK;
}

/// Whether the emulated dot-product path's GEMM takes its smmla kernel (EMU_I8MM sets it).
static int emu_i8mm = 0;
int tk__arm_has_i8mm(void) { return emu_i8mm; }
void EMU_I8MM(int enable) { emu_i8mm = enable != 0; }

int EMU_GEMM(tk_gemv_path path, const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
             int64_t rb, int64_t re) {
    if (path != TK_PATH_NEON && path != TK_PATH_DOTPROD) return TK_ERR_INVALID;
    if (!w || !w->data || !x || !y || n < 0 || rb < 0 || re < rb || ldx < w->cols || (n > 0 && ldy < re))
        return TK_ERR_INVALID;
    if (!tk__gemm_int_route(path, w->format)) return TK_ERR_UNSUPPORTED_TYPE;
    if (tk_row_bytes(w->format, w->cols) == 0 || (w->format == TK_NVFP4 && !w->block_scales)) return TK_ERR_INVALID;
    if (n == 0 || re == rb) return TK_OK;
    tk__gemm_xq xq;
    if (tk__gemm_xq_init(w->format, x, ldx, n, w->cols, &xq)) return TK_ERR_INVALID;
    int rc = tk__gemm_int_rows_neon(w, &xq, y, ldy, n, rb, re, path == TK_PATH_DOTPROD);
    tk__gemm_xq_free(&xq);
    return rc ? TK_ERR_INVALID : TK_OK;
}

int EMU_GEMV(tk_gemv_path path, const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    if (path != TK_PATH_NEON && path != TK_PATH_DOTPROD) return TK_ERR_INVALID;
    if (!w || !w->data || !x || !y || rb < 0 || re < rb) return TK_ERR_INVALID;
    if (!tk_gemv_supports(w->format)) return TK_ERR_UNSUPPORTED_TYPE;
    if (tk_row_bytes(w->format, w->cols) == 0) return TK_ERR_INVALID;
    if (w->format == TK_NVFP4 && !w->block_scales) return TK_ERR_INVALID;
    int dot = path == TK_PATH_DOTPROD;
    tk__gemv_kernel kernel;
    switch (w->format) {
    case TK_FP8_E4M3: kernel = tk__gemv_fp8_neon; break;
    case TK_Q4_1: kernel = tk__gemv_q4_1_neon; break;
    case TK_Q8_0: kernel = tk__gemv_q8_0_int16_neon; break;
    case TK_Q4_K: kernel = tk__gemv_q4_k_neon; break;
    case TK_Q5_K: kernel = tk__gemv_q5_k_neon; break;
    case TK_Q6_K: kernel = tk__gemv_q6_k_neon; break;
    case TK_Q2_K: kernel = tk__gemv_q2_k_neon; break;
    case TK_Q3_K: kernel = tk__gemv_q3_k_neon; break;
    case TK_IQ4_NL: kernel = tk__gemv_iq4_nl_neon; break;
    case TK_Q4_0: kernel = dot ? tk__gemv_q4_0_int_dot : tk__gemv_q4_0_int_neon; break;
    case TK_MXFP4: kernel = dot ? tk__gemv_mxfp4_int_dot : tk__gemv_mxfp4_int_neon; break;
    case TK_NVFP4: kernel = dot ? tk__gemv_nvfp4_int_dot : tk__gemv_nvfp4_int_neon; break;
    default: return TK_ERR_UNSUPPORTED_TYPE;
    }
    if (re > rb) kernel(w, x, y, rb, re);
    return TK_OK;
}
