// Quantised GEMV, AVX2 (+ FMA, F16C) float-route kernels: FP8 (via F16C), Q8_0 and Q4_1, weights
// dequantised exactly into f32 lanes. Q4_0, MXFP4 and NVFP4 use the integer route in gemv_int8.c.
// Q4_1 stays on the float route: on the shipped SmolLM2 (Q4_1) the int8-activation route moved the
// logits by KL 0.022 nats (top-1 0.91) from the exact run; this one matches it to f32 rounding.
#include "tandem_gemv.h"
#include "tandem_formats.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

#ifndef TK_AVX2 // (a test harness may predefine it empty to run the kernels under emulation)
#define TK_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif

static inline uint16_t le16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

TK_AVX2 static inline float hsum256(__m256 v) {
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}

TK_AVX2 static inline float f16_scalar(const uint8_t *p) { return _cvtsh_ss(le16(p)); }

/// 16 E4M3 codes → two vectors of 8 floats, each 2^-8 times the value (see gemv_avx512.c).
TK_AVX2 static inline void e4m3x16_to_ps(__m128i bytes, __m256 *lo, __m256 *hi) {
    __m256i v = _mm256_cvtepu8_epi16(bytes);
    __m256i mag = _mm256_and_si256(_mm256_slli_epi16(v, 7), _mm256_set1_epi16(0x3F80));
    __m256i sgn = _mm256_and_si256(_mm256_slli_epi16(v, 8), _mm256_set1_epi16((short)0x8000));
    __m256i h = _mm256_or_si256(mag, sgn);
    *lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
    *hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
}

TK_AVX2 void tk__gemv_fp8_avx2(const tk_gemv_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *q = (const uint8_t *)w->data + (size_t)r * (size_t)n;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        int64_t c = 0;
        for (; c + 32 <= n; c += 32) {
            __m256 l0, h0, l1, h1;
            e4m3x16_to_ps(_mm_loadu_si128((const __m128i *)(q + c)), &l0, &h0);
            e4m3x16_to_ps(_mm_loadu_si128((const __m128i *)(q + c + 16)), &l1, &h1);
            a0 = _mm256_fmadd_ps(l0, _mm256_loadu_ps(x + c), a0);
            a1 = _mm256_fmadd_ps(h0, _mm256_loadu_ps(x + c + 8), a1);
            a2 = _mm256_fmadd_ps(l1, _mm256_loadu_ps(x + c + 16), a2);
            a3 = _mm256_fmadd_ps(h1, _mm256_loadu_ps(x + c + 24), a3);
        }
        float tail = 0;
        for (; c < n; c++) tail += tk_e4m3_f32_table[q[c]] * x[c];
        float s = w->scale * (w->row_scales ? w->row_scales[r] : 1.0f);
        float simd = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        y[r] = (simd * 256.0f + tail) * s;
    }
}

TK_AVX2 static inline __m256 q8_block32_dot(const uint8_t *qs, const float *x) {
    __m256 p = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)qs))), _mm256_loadu_ps(x));
    for (int k = 1; k < 4; k++)
        p = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(qs + 8 * k)))),
                            _mm256_loadu_ps(x + 8 * k), p);
    return p;
}

TK_AVX2 void tk__gemv_q8_0_avx2(const tk_gemv_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t nb = w->cols / 32;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 34;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2, p += 68) {
            a0 = _mm256_fmadd_ps(q8_block32_dot(p + 2, x + b * 32), _mm256_set1_ps(f16_scalar(p)), a0);
            a1 = _mm256_fmadd_ps(q8_block32_dot(p + 36, x + b * 32 + 32), _mm256_set1_ps(f16_scalar(p + 34)), a1);
        }
        if (b < nb) a0 = _mm256_fmadd_ps(q8_block32_dot(p + 2, x + b * 32), _mm256_set1_ps(f16_scalar(p)), a0);
        y[r] = hsum256(_mm256_add_ps(a0, a1));
    }
}

/// Q4_1 (value = d*q + m): per row sum_b d_b * (q_b . x_b) + m_b * sum(x_b), the block sums of x
/// computed once per call. 32 nibbles → 4 x 8 floats via vpmovzxbd + vcvtdq2ps.
TK_AVX2 void tk__gemv_q4_1_avx2(const tk_gemv_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t nb = w->cols / 32;
    float stack_sums[256];
    float *sums = nb <= 256 ? stack_sums : malloc((size_t)nb * sizeof(float));
    if (!sums) return;
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * 32;
        __m256 v = _mm256_add_ps(_mm256_add_ps(_mm256_loadu_ps(xb), _mm256_loadu_ps(xb + 8)),
                                 _mm256_add_ps(_mm256_loadu_ps(xb + 16), _mm256_loadu_ps(xb + 24)));
        sums[b] = hsum256(v);
    }
    const __m128i m4 = _mm_set1_epi8(0x0F);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 20;
        __m256 acc = _mm256_setzero_ps();
        float offs = 0.0f;
        for (int64_t b = 0; b < nb; b++, p += 20) {
            const float *xb = x + b * 32;
            __m128i q = _mm_loadu_si128((const __m128i *)(p + 4));
            __m128i lo = _mm_and_si128(q, m4), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m4);
            __m256 q0 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo));
            __m256 q1 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(lo, lo)));
            __m256 q2 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi));
            __m256 q3 = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpackhi_epi64(hi, hi)));
            __m256 d = _mm256_mul_ps(q0, _mm256_loadu_ps(xb));
            d = _mm256_fmadd_ps(q1, _mm256_loadu_ps(xb + 8), d);
            d = _mm256_fmadd_ps(q2, _mm256_loadu_ps(xb + 16), d);
            d = _mm256_fmadd_ps(q3, _mm256_loadu_ps(xb + 24), d);
            acc = _mm256_fmadd_ps(d, _mm256_set1_ps(f16_scalar(p)), acc);
            offs += f16_scalar(p + 2) * sums[b];
        }
        y[r] = hsum256(acc) + offs;
    }
    if (sums != stack_sums) free(sums);
}

#endif
