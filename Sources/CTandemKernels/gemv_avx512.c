// Quantised GEMV, AVX-512 (F, BW, VL; + FMA, F16C) float-route kernel: FP8 (via F16C), weights
// dequantised exactly into f32 lanes. The 4-bit formats use the integer VNNI route and Q8_0 the
// int16 AVX2 kernel in gemv_int8.c. Compiled with per-function target attributes; gemv_dispatch.c calls these only
// when __builtin_cpu_supports says the CPU has the features.
#include "tandem_gemv.h"
#include "tandem_formats.h"
#include "tk_internal.h"
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)

TK_AVX512 static inline float hsum512(__m512 v) {
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}


/// 32 E4M3 codes (zero-extended to 16 bits) → two vectors of 16 floats, each 2^-8 times the value:
/// the code's exponent and mantissa moved into an F16 (bias 15 vs 7) so F16C does the rest,
/// subnormals included.
TK_AVX512 static inline void e4m3x32_to_ps(__m512i v, __m512 *lo, __m512 *hi) {
    __m512i mag = _mm512_and_si512(_mm512_slli_epi16(v, 7), _mm512_set1_epi16(0x3F80));
    __m512i h = _mm512_ternarylogic_epi32(mag, _mm512_slli_epi16(v, 8), _mm512_set1_epi16((short)0x8000), 0xF8);
    *lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
    *hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
}

TK_AVX512 void tk__gemv_fp8_avx512(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *q = (const uint8_t *)w->data + (size_t)r * (size_t)n;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        int64_t c = 0;
        for (; c + 64 <= n; c += 64) {
            __m512 l0, h0, l1, h1;
            e4m3x32_to_ps(_mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(q + c))), &l0, &h0);
            e4m3x32_to_ps(_mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(q + c + 32))), &l1, &h1);
            a0 = _mm512_fmadd_ps(l0, _mm512_loadu_ps(x + c), a0);
            a1 = _mm512_fmadd_ps(h0, _mm512_loadu_ps(x + c + 16), a1);
            a2 = _mm512_fmadd_ps(l1, _mm512_loadu_ps(x + c + 32), a2);
            a3 = _mm512_fmadd_ps(h1, _mm512_loadu_ps(x + c + 48), a3);
        }
        for (; c < n; c += 32) { // masked tail: codes beyond n load as 0, x as 0
            int64_t rem = n - c < 32 ? n - c : 32;
            __mmask32 mb = (__mmask32)(rem == 32 ? 0xFFFFFFFFu : ((1u << rem) - 1u));
            __mmask16 m0 = (__mmask16)(mb & 0xFFFF), m1 = (__mmask16)(mb >> 16);
            __m512 l0, h0;
            e4m3x32_to_ps(_mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(mb, q + c)), &l0, &h0);
            a0 = _mm512_fmadd_ps(l0, _mm512_maskz_loadu_ps(m0, x + c), a0);
            a1 = _mm512_fmadd_ps(h0, _mm512_maskz_loadu_ps(m1, x + c + 16), a1);
        }
        float s = w->scale * (w->row_scales ? w->row_scales[r] : 1.0f) * 256.0f;
        y[r] = hsum512(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) * s;
    }
}

#endif
