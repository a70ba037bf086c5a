// Quantised GEMV, AVX2 (+ FMA, F16C) float-route kernels: FP8 (bit placement) and Q4_1, weights
// dequantised exactly into f32 lanes. Q4_0, MXFP4, NVFP4 (int8 x) and Q8_0 (int16 x) use the
// integer route in gemv_int8.c.
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

/// FP8 E4M3 through the f32 bit pattern, no conversion instruction: a code's exponent and mantissa
/// bits placed at the f32's low exponent and top mantissa bits (sign at the top) read as the value
/// x 2^-120, subnormals included (f32 denormals then; FMA takes them at full speed on the x86 CPUs
/// measured). x is scaled by 2^64 up front so the products stay normal, and the sum by 2^56 after:
/// all exact powers of two, so the result equals the dequantise-then-dot sum up to f32 rounding
/// order. Two in-lane unpacks take 32 codes to four vectors of 8 floats; x is permuted once per
/// call into the same order ([0-3, 16-19], [4-7, 20-23], [8-11, 24-27], [12-15, 28-31]).
/// (E4M3 NaN codes read as 480 here, as in the F16C version this replaced; the quantiser never
/// writes them.)
TK_AVX2 void tk__gemv_fp8_avx2(const tk_gemv_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, n32 = n / 32 * 32;
    float stack_x[8192] __attribute__((aligned(32))); // 32 KiB: the widest rows of 1B-8B models, no malloc per call
    float *xp = n32 <= 8192 ? stack_x : aligned_alloc(32, (size_t)(n32 > 0 ? n32 : 32) * sizeof(float));
    if (!xp) return;
    const __m256 up = _mm256_set1_ps(0x1p64f);
    for (int64_t c = 0; c < n32; c += 32) {
        for (int g = 0; g < 4; g++) {
            __m128 a = _mm_loadu_ps(x + c + 4 * g), b = _mm_loadu_ps(x + c + 16 + 4 * g);
            _mm256_store_ps(xp + c + 8 * g, _mm256_mul_ps(_mm256_set_m128(b, a), up));
        }
    }
    const __m256i keep = _mm256_set1_epi16((short)0x87F0);
    const __m256i zero = _mm256_setzero_si256();
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *q = (const uint8_t *)w->data + (size_t)r * (size_t)n;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t c = 0; c < n32; c += 32) {
            // code as the high byte of a 16-bit lane, arithmetic shift by 4: sign at bit 15 (and
            // copied into 14-11, masked off), exponent at 10-7, mantissa at 6-4; then as the
            // high half of a 32-bit lane.
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + c));
            __m256i lo = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpacklo_epi8(zero, v), 4), keep);
            __m256i hi = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpackhi_epi8(zero, v), 4), keep);
            a0 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, lo)), _mm256_load_ps(xp + c), a0);
            a1 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, lo)), _mm256_load_ps(xp + c + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, hi)), _mm256_load_ps(xp + c + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, hi)), _mm256_load_ps(xp + c + 24), a3);
        }
        float tail = 0;
        for (int64_t c = n32; c < n; c++) tail += tk_e4m3_f32_table[q[c]] * x[c];
        float s = w->scale * (w->row_scales ? w->row_scales[r] : 1.0f);
        float simd = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        y[r] = (simd * 0x1p56f + tail) * s;
    }
    if (xp != stack_x) free(xp);
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
