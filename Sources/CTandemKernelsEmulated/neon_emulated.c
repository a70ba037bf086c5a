// See include/tandem_emulated.h: the AArch64 NEON and dot-product GEMV kernels (gemv_neon.c), the
// GEMM tile (gemm_neon.c), the GEMM's integer route (gemm_int_neon.c) and the step attention (attention_neon.c, attention_fp8_neon.c) on
// SIMDe's portable NEON, for the tests on x86-64.
#include "tandem_emulated.h"

#if defined(__x86_64__) && __has_include(<simde/arm/neon.h>)
#define EMU_NAME(f) tk_emu__gemv_##f
#define EMU_GEMV tk_emulated_neon_gemv
#define EMU_TILE tk_emulated_neon_gemm_tile
#define EMU_GEMM tk_emulated_neon_gemm
#define EMU_I8MM tk_emulated_neon_gemm_i8mm
#define EMU_ATTENTION tk_emulated_neon_attention
#define EMU_ATTENTION_FP8 tk_emulated_neon_attention_fp8
#include "neon_emulated_body.h"

int tk_emulated_neon_available(void) { return 1; }
#else
int tk_emulated_neon_attention_fp8(float *out, const float *q, int64_t g, const uint8_t *k_codes, const uint8_t *v_codes,
        const float *k_scales, const float *v_scales, int64_t scale_stride, const int32_t *table, int64_t block_size,
        int64_t stride, int64_t len, int64_t hd, float *scores, int64_t first, float softcap, const float *sinks) {
    (void)out; (void)q; (void)g; (void)k_codes; (void)v_codes; (void)k_scales; (void)v_scales; (void)scale_stride;
    (void)table; (void)block_size; (void)stride; (void)len; (void)hd; (void)scores; (void)first; (void)softcap; (void)sinks;
    return -3;
}
int tk_emulated_neon_attention(float *out, const float *q, const float *k_base, const float *v_base, const int32_t *table,
        int64_t block_size, int64_t stride, int64_t len, int64_t hd, float *scores, int64_t first, float softcap,
        const float *sink) {
    (void)out; (void)q; (void)k_base; (void)v_base; (void)table; (void)block_size; (void)stride; (void)len; (void)hd;
    (void)scores; (void)first; (void)softcap; (void)sink;
    return -3;
}
void tk_emulated_neon_gemm_i8mm(int enable) { (void)enable; }
int tk_emulated_neon_gemm(tk_gemv_path path, const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
        int64_t rb, int64_t re) {
    (void)path; (void)w; (void)x; (void)ldx; (void)y; (void)ldy; (void)n; (void)rb; (void)re;
    return -3;
}
int tk_emulated_neon_gemm_tile(const float *w, int64_t nr, const float *x, int64_t ldx, int64_t nt, float *y, int64_t ldy, int64_t cols) {
    (void)w; (void)nr; (void)x; (void)ldx; (void)nt; (void)y; (void)ldy; (void)cols;
    return -3;
}
int tk_emulated_neon_available(void) { return 0; }

int tk_emulated_neon_gemv(tk_gemv_path path, const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    (void)path; (void)w; (void)x; (void)y; (void)rb; (void)re;
    return -3;
}
#endif
