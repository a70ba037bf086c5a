// Fused GEMV for the GGML K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) and IQ4_NL (kquants.c describes
// the layouts) on the AVX2 and AVX-512 paths, the float route: each weight's integer code (IQ4_NL:
// its table value, by pshufb) is widened to f32 exactly (pmovzxbd/pmovsxbd, cvtdq2ps) and
// multiplied with x in f32, its sub-block scale applied once per sub-block,
// so results equal dequantise-then-dot up to f32 rounding order (as the portable route, which
// dequantises a super-block and then dots; gemv_dispatch.c). The GEMM dequantises the same rows
// for batches, so a token scored in a batch and alone differs by f32 rounding only.
//   Q4_K, Q5_K: y = sum_j (d sc_j) sum_l q_jl x_jl - sum_j (dmin m_j) sum_l x_jl, the x sums per
//     32 values computed once per call.
//   Q6_K: y = sum over 16-value sub-blocks of (d scale_i) sum_l (q_l - 32) x_l; Q3_K the same
//     with q in -4..3; Q2_K as Q4_K with 16-value sub-blocks (x sums per 16).
//   IQ4_NL: y = sum over 32-value blocks of d sum_l table[q_l] x_l.
#include "kquants.h"
#include "tandem_gemv.h"
#include "tk_internal.h"
#include <stdint.h>
#include <stdlib.h>

#if defined(__x86_64__)

TK_AVX2 static inline float kq_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/// The sums of x per 32 values (`per` 32) or per 16 (`per` 16; n a multiple of 256) into a stack
/// buffer when it fits, else the heap; NULL when the heap has no room.
TK_AVX2 static float *block_sums(const float *x, int64_t n, int per, float *stack, int64_t stack_len) {
    const int64_t nb = n / per;
    float *s = nb <= stack_len ? stack : malloc((size_t)nb * sizeof(float));
    if (!s) return NULL;
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * per;
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(xb), _mm256_loadu_ps(xb + 8));
        if (per == 32) v = _mm256_add_ps(v, _mm256_add_ps(_mm256_loadu_ps(xb + 16), _mm256_loadu_ps(xb + 24)));
        s[b] = kq_hsum(v);
    }
    return s;
}

/// 32 bytes of nibbles at q: the low nibbles (one sub-block) against xl, the high nibbles (the
/// next) against xh; with `qh` (Q5_K) each value's fifth bit is bit `shift` (low) or `shift + 1`
/// (high) of the byte at the same place in qh. Eight partial sums each.
TK_AVX2 static inline __attribute__((always_inline)) void nibble_dots(const uint8_t *q, const uint8_t *qh, int shift,
                                                                     const float *xl, const float *xh, __m256 *lo,
                                                                     __m256 *hi) {
    const __m256i m4 = _mm256_set1_epi32(15), one = _mm256_set1_epi32(1);
    const __m256i sl = _mm256_set1_epi32(shift), sh = _mm256_set1_epi32(shift + 1);
    __m256 a = _mm256_setzero_ps(), b = a;
    for (int k = 0; k < 4; k++) {
        const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + 8 * k)));
        __m256i l = _mm256_and_si256(v, m4), h = _mm256_srli_epi32(v, 4);
        if (qh) {
            const __m256i hb = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qh + 8 * k)));
            l = _mm256_or_si256(l, _mm256_slli_epi32(_mm256_and_si256(_mm256_srlv_epi32(hb, sl), one), 4));
            h = _mm256_or_si256(h, _mm256_slli_epi32(_mm256_and_si256(_mm256_srlv_epi32(hb, sh), one), 4));
        }
        a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(l), _mm256_loadu_ps(xl + 8 * k), a);
        b = _mm256_fmadd_ps(_mm256_cvtepi32_ps(h), _mm256_loadu_ps(xh + 8 * k), b);
    }
    *lo = a;
    *hi = b;
}

/// Q4_K (`five` 0: 144-byte super-blocks) or Q5_K (`five` 1: 176 bytes, qh before the nibbles).
TK_AVX2 static inline __attribute__((always_inline)) void q45_k_rows(const tk_weights *w, const float *x, float *y,
                                                                    int64_t rb, int64_t re, const int five) {
    const int64_t n = w->cols, nsb = n / TK_KQ_SUPER;
    const int64_t bytes = five ? TK_Q5_K_BYTES : TK_Q4_K_BYTES;
    float stack[512];
    float *xs = block_sums(x, n, 32, stack, 512);
    if (!xs) return;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nsb * bytes);
        __m256 acc = _mm256_setzero_ps();
        float mins = 0.0f;
        for (int64_t s = 0; s < nsb; s++, p += bytes) {
            const float d = _cvtsh_ss(le16(p)), dmin = _cvtsh_ss(le16(p + 2));
            const uint8_t *scales = p + 4, *qh = five ? p + 16 : NULL, *qs = p + (five ? 48 : 16);
            const float *xb = x + s * TK_KQ_SUPER, *sums = xs + s * 8;
            for (int g = 0; g < 4; g++) {
                int sc0, m0, sc1, m1;
                tk__kq_scale_min(scales, 2 * g, &sc0, &m0);
                tk__kq_scale_min(scales, 2 * g + 1, &sc1, &m1);
                __m256 lo, hi;
                nibble_dots(qs + 32 * g, qh, 2 * g, xb + 64 * g, xb + 64 * g + 32, &lo, &hi);
                acc = _mm256_fmadd_ps(lo, _mm256_set1_ps(d * (float)sc0), acc);
                acc = _mm256_fmadd_ps(hi, _mm256_set1_ps(d * (float)sc1), acc);
                mins += dmin * (float)m0 * sums[2 * g] + dmin * (float)m1 * sums[2 * g + 1];
            }
        }
        y[r] = kq_hsum(acc) - mins;
    }
    if (xs != stack) free(xs);
}

TK_AVX2 void tk__gemv_q4_k_avx2(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    q45_k_rows(w, x, y, rb, re, 0);
}

TK_AVX2 void tk__gemv_q5_k_avx2(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    q45_k_rows(w, x, y, rb, re, 1);
}

/// Q6_K (210-byte super-blocks): per half of 128 values and per quarter k of it (32 values), the
/// low 4 bits from ql (quarters 0-1 the low nibbles of its two 32-byte runs, 2-3 the high), the
/// high 2 bits from qh at bit 2k; two 16-value sub-blocks per quarter, each with its int8 scale.
TK_AVX2 void tk__gemv_q6_k_avx2(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, nsb = n / TK_KQ_SUPER;
    const __m256i m4 = _mm256_set1_epi32(15), m2 = _mm256_set1_epi32(3), bias = _mm256_set1_epi32(32);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nsb * TK_Q6_K_BYTES);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t s = 0; s < nsb; s++, p += TK_Q6_K_BYTES) {
            const int8_t *scales = (const int8_t *)(p + 192);
            const float d = _cvtsh_ss(le16(p + 208));
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = p + 64 * h, *qh = p + 128 + 32 * h;
                for (int k = 0; k < 4; k++) {
                    const uint8_t *lq = ql + 32 * (k & 1);
                    const int lshift = k >= 2 ? 4 : 0, hshift = 2 * k;
                    const float *xq = x + s * TK_KQ_SUPER + 128 * h + 32 * k;
                    __m256 half[2];
                    for (int j = 0; j < 2; j++) { // values 16j..16j+15 of the quarter: one sub-block
                        __m256 a = _mm256_setzero_ps();
                        for (int e = 0; e < 2; e++) {
                            const int o = 16 * j + 8 * e;
                            const __m256i lv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(lq + o)));
                            const __m256i hv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(qh + o)));
                            __m256i q = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(lv, lshift), m4),
                                                        _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(hv, hshift), m2), 4));
                            a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, bias)), _mm256_loadu_ps(xq + o), a);
                        }
                        half[j] = a;
                    }
                    const int i = 8 * h + 2 * k; // the quarter's first 16-value sub-block
                    acc = _mm256_fmadd_ps(half[0], _mm256_set1_ps(d * (float)scales[i]), acc);
                    acc = _mm256_fmadd_ps(half[1], _mm256_set1_ps(d * (float)scales[i + 1]), acc);
                }
            }
        }
        y[r] = kq_hsum(acc);
    }
}

/// The 2-bit low codes of 8 values of a Q2_K or Q3_K super-block (qs + o, plane `shift`: 0, 2, 4,
/// 6) as eight int32.
TK_AVX2 static inline __m256i low2_codes(const uint8_t *q, __m256i shift) {
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)q));
    return _mm256_and_si256(_mm256_srlv_epi32(v, shift), _mm256_set1_epi32(3));
}

/// Q2_K (84-byte super-blocks): per half h of 128 values and 2-bit plane j (32 values, two
/// 16-value sub-blocks i = 8h + 2j, 8h + 2j + 1), q widened to f32 and dotted with x, scaled by
/// d·(s[i] & 15); the minimums dmin·(s[i] >> 4) through the per-call sums of x per 16 values.
TK_AVX2 void tk__gemv_q2_k_avx2(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, nsb = n / TK_KQ_SUPER;
    float stack[1024];
    float *xs = block_sums(x, n, 16, stack, 1024);
    if (!xs) return;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nsb * TK_Q2_K_BYTES);
        __m256 acc = _mm256_setzero_ps();
        float mins = 0.0f;
        for (int64_t s = 0; s < nsb; s++, p += TK_Q2_K_BYTES) {
            const uint8_t *scales = p, *qs = p + 16;
            const float d = _cvtsh_ss(le16(p + 80)), dmin = _cvtsh_ss(le16(p + 82));
            const float *sums = xs + s * 16;
            for (int h = 0; h < 2; h++) {
                for (int j = 0; j < 4; j++) {
                    const __m256i shift = _mm256_set1_epi32(2 * j);
                    const float *xq = x + s * TK_KQ_SUPER + 128 * h + 32 * j;
                    for (int k = 0; k < 2; k++) { // one 16-value sub-block
                        const int o = 16 * k, i = 8 * h + 2 * j + k;
                        __m256 a = _mm256_mul_ps(_mm256_cvtepi32_ps(low2_codes(qs + 32 * h + o, shift)), _mm256_loadu_ps(xq + o));
                        a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(low2_codes(qs + 32 * h + o + 8, shift)), _mm256_loadu_ps(xq + o + 8), a);
                        acc = _mm256_fmadd_ps(a, _mm256_set1_ps(d * (float)(scales[i] & 15)), acc);
                        mins += dmin * (float)(scales[i] >> 4) * sums[i];
                    }
                }
            }
        }
        y[r] = kq_hsum(acc) - mins;
    }
    if (xs != stack) free(xs);
}

/// Q3_K (110-byte super-blocks): as Q2_K's codes plus bit 2 from hmask (bit 4h + j of hmask[l],
/// stored inverted: q = low + 4·bit − 4), one signed 6-bit scale per 16 values, no minimums.
TK_AVX2 void tk__gemv_q3_k_avx2(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, nsb = n / TK_KQ_SUPER;
    const __m256i one = _mm256_set1_epi32(1), four = _mm256_set1_epi32(4);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nsb * TK_Q3_K_BYTES);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t s = 0; s < nsb; s++, p += TK_Q3_K_BYTES) {
            const uint8_t *hmask = p, *qs = p + 32, *scales = p + 96;
            const float d = _cvtsh_ss(le16(p + 108));
            for (int h = 0; h < 2; h++) {
                for (int j = 0; j < 4; j++) {
                    const __m256i shift = _mm256_set1_epi32(2 * j), hshift = _mm256_set1_epi32(4 * h + j);
                    const float *xq = x + s * TK_KQ_SUPER + 128 * h + 32 * j;
                    for (int k = 0; k < 2; k++) { // one 16-value sub-block
                        __m256 a = _mm256_setzero_ps();
                        for (int e = 0; e < 2; e++) {
                            const int o = 16 * k + 8 * e;
                            const __m256i hv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(hmask + o)));
                            const __m256i hb = _mm256_and_si256(_mm256_srlv_epi32(hv, hshift), one);
                            const __m256i q = _mm256_sub_epi32(_mm256_or_si256(low2_codes(qs + 32 * h + o, shift), _mm256_slli_epi32(hb, 2)), four);
                            a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q), _mm256_loadu_ps(xq + o), a);
                        }
                        acc = _mm256_fmadd_ps(a, _mm256_set1_ps(d * (float)tk__q3_k_scale(scales, 8 * h + 2 * j + k)), acc);
                    }
                }
            }
        }
        y[r] = kq_hsum(acc);
    }
}

/// IQ4_NL (18-byte blocks of 32): the nibbles looked up in the 16-entry table by pshufb, the int8
/// values widened to f32 and dotted with x, scaled by d per block.
TK_AVX2 void tk__gemv_iq4_nl_avx2(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t nb = w->cols / 32;
    const __m128i table = _mm_loadu_si128((const __m128i *)tk__iq4nl_values), m4 = _mm_set1_epi8(15);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nb * TK_IQ4_NL_BYTES);
        __m256 acc = _mm256_setzero_ps();
        for (int64_t b = 0; b < nb; b++, p += TK_IQ4_NL_BYTES) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(p + 2));
            const __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(v, m4));
            const __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(v, 4), m4));
            const float *xb = x + b * 32;
            __m256 a = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), _mm256_loadu_ps(xb));
            a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), _mm256_loadu_ps(xb + 8), a);
            a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), _mm256_loadu_ps(xb + 16), a);
            a = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), _mm256_loadu_ps(xb + 24), a);
            acc = _mm256_fmadd_ps(a, _mm256_set1_ps(_cvtsh_ss(le16(p))), acc);
        }
        y[r] = kq_hsum(acc);
    }
}

#endif
