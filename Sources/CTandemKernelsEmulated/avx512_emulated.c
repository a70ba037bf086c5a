// See include/tandem_emulated.h. Order matters: the compiler's own <immintrin.h> first (its
// declarations must not see SIMDe's macros), then SIMDe with native aliases (every _mm*_
// intrinsic and __m* type the kernels name becomes SIMDe's), then the kernel sources with their
// target attributes defined empty and their exported names changed.
#include "tandem_emulated.h"

#if defined(__x86_64__) && __has_include(<simde/x86/avx512.h>)
#include <immintrin.h>
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include "tandem_kernels.h"
#include <string.h>

// The few intrinsics the kernels use that SIMDe 0.7.4 lacks, lane by lane (masked loads read
// only the selected elements, as the hardware guarantees).
static inline simde__m512 emu_mm512_cvtph_ps(simde__m256i a) {
    uint16_t h[16];
    float f[16];
    simde_mm256_storeu_si256((simde__m256i *)h, a);
    for (int i = 0; i < 16; i++) f[i] = tk_f16_to_f32(h[i]);
    return simde_mm512_loadu_ps(f);
}
static inline simde__m512i emu_mm512_cvtepu8_epi16(simde__m256i a) {
    uint8_t b[32];
    uint16_t h[32];
    simde_mm256_storeu_si256((simde__m256i *)b, a);
    for (int i = 0; i < 32; i++) h[i] = b[i];
    return simde_mm512_loadu_si512(h);
}
static inline simde__m512 emu_mm512_maskz_loadu_ps(uint16_t k, const void *p) {
    float f[16];
    for (int i = 0; i < 16; i++) f[i] = (k >> i) & 1 ? ((const float *)p)[i] : 0.0f;
    return simde_mm512_loadu_ps(f);
}
static inline simde__m256i emu_mm256_maskz_loadu_epi8(uint32_t k, const void *p) {
    uint8_t b[32];
    for (int i = 0; i < 32; i++) b[i] = (k >> i) & 1 ? ((const uint8_t *)p)[i] : 0;
    return simde_mm256_loadu_si256((const simde__m256i *)b);
}
static inline float emu_cvtsh_ss(unsigned short h) { return tk_f16_to_f32(h); }
#define _mm512_cvtph_ps(a) emu_mm512_cvtph_ps(a)
#define _mm512_cvtepu8_epi16(a) emu_mm512_cvtepu8_epi16(a)
#define _mm512_maskz_loadu_ps(k, p) emu_mm512_maskz_loadu_ps((uint16_t)(k), (p))
#define _mm256_maskz_loadu_epi8(k, p) emu_mm256_maskz_loadu_epi8((uint32_t)(k), (p))
#define _cvtsh_ss(h) emu_cvtsh_ss(h)

#define TK_AVX2
#define TK_AVX512
#define tk__gemv_fp8_avx512 tk_emu__gemv_fp8_avx512
#define tk__gemv_nvfp4_int_avx2 tk_emu__gemv_nvfp4_int_avx2
#define tk__gemv_nvfp4_int_vnni tk_emu__gemv_nvfp4_int_vnni
#define tk__gemv_mxfp4_int_avx2 tk_emu__gemv_mxfp4_int_avx2
#define tk__gemv_mxfp4_int_vnni tk_emu__gemv_mxfp4_int_vnni
#define tk__gemv_q4_0_int_avx2 tk_emu__gemv_q4_0_int_avx2
#define tk__gemv_q4_0_int_vnni tk_emu__gemv_q4_0_int_vnni
#define tk__gemv_q8_0_int16_avx2 tk_emu__gemv_q8_0_int16_avx2
#define tk__gemm_int_route tk_emu__gemm_int_route
#define tk__gemm_xq_init tk_emu__gemm_xq_init
#define tk__gemm_xq_free tk_emu__gemm_xq_free
#define tk__gemm_int_rows_avx2 tk_emu__gemm_int_rows_avx2
#define tk__gemm_int_rows_vnni tk_emu__gemm_int_rows_vnni
#include "../CTandemKernels/gemv_avx512.c"
#include "../CTandemKernels/gemv_int8.c"
#include "../CTandemKernels/gemm_int8.c"

int tk_emulated_avx512_available(void) { return 1; }

int tk_emulated_avx512_gemv(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    if (!w || !w->data || !x || !y || rb < 0 || re < rb) return TK_ERR_INVALID;
    if (!tk_gemv_supports(w->format)) return TK_ERR_UNSUPPORTED_TYPE;
    if (tk_row_bytes(w->format, w->cols) == 0) return TK_ERR_INVALID;
    if (w->format == TK_NVFP4 && !w->block_scales) return TK_ERR_INVALID;
    tk__gemv_kernel kernel;
    switch (w->format) {
    case TK_FP8_E4M3: kernel = tk_emu__gemv_fp8_avx512; break;
    case TK_NVFP4: kernel = tk_emu__gemv_nvfp4_int_vnni; break;
    case TK_MXFP4: kernel = tk_emu__gemv_mxfp4_int_vnni; break;
    case TK_Q4_0: kernel = tk_emu__gemv_q4_0_int_vnni; break;
    case TK_Q8_0: kernel = tk_emu__gemv_q8_0_int16_avx2; break;
    default: return TK_ERR_UNSUPPORTED_TYPE; // Q4_1: the AVX-512 path runs the AVX2 kernel, not compiled here
    }
    if (re > rb) kernel(w, x, y, rb, re);
    return TK_OK;
}

int tk_emulated_avx512_gemm(const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
                            int64_t rb, int64_t re) {
    if (!w || !w->data || !x || !y || n < 0 || rb < 0 || re < rb || ldx < w->cols || (n > 0 && ldy < re))
        return TK_ERR_INVALID;
    if (!tk_emu__gemm_int_route(TK_PATH_AVX512, w->format)) return TK_ERR_UNSUPPORTED_TYPE;
    if (tk_row_bytes(w->format, w->cols) == 0 || (w->format == TK_NVFP4 && !w->block_scales)) return TK_ERR_INVALID;
    if (n == 0 || re == rb) return TK_OK;
    tk__gemm_xq xq;
    if (tk_emu__gemm_xq_init(w->format, x, ldx, n, w->cols, &xq)) return TK_ERR_INVALID;
    int rc = tk_emu__gemm_int_rows_vnni(w, &xq, y, ldy, n, rb, re);
    tk_emu__gemm_xq_free(&xq);
    return rc ? TK_ERR_INVALID : TK_OK;
}

#else

int tk_emulated_avx512_available(void) { return 0; }

int tk_emulated_avx512_gemm(const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
                            int64_t rb, int64_t re) {
    (void)w; (void)x; (void)ldx; (void)y; (void)ldy; (void)n; (void)rb; (void)re;
    return -3;
}

int tk_emulated_avx512_gemv(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    (void)w; (void)x; (void)y; (void)rb; (void)re;
    return -3;
}

#endif
