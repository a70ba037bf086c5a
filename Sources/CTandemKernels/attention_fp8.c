// Step attention over an FP8 K/V cache (tandem_gemm.h) and the quantiser that fills it.
//
// A key's dot product with q is taken over the raw E4M3 values and multiplied by the key's scale
// once; a value's softmax weight is multiplied by its scale once before the weighted sum. Both are
// the dequantised e4m3 * scale arithmetic with the scale factored out of the sum, so the result
// differs from attention over dequantised f32 K/V by f32 rounding only.
#include "tandem_gemm.h"
#include "tandem_formats.h"
#include "tandem_pool.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
#ifndef TK_AVX2
#define TK_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif
#endif

void tk_quantize_vectors_fp8_e4m3(const float *src, uint8_t *codes, float *scales, int64_t vectors, int64_t n) {
    for (int64_t i = 0; i < vectors; i++) {
        scales[i] = tk_fp8_e4m3_scale(tk_amax(src + i * n, n));
        tk_quantize_row_fp8_e4m3(src + i * n, codes + i * n, n, scales[i]);
    }
}

#if defined(__x86_64__)
// E4M3 → f32 without a table: s.eeee.mmm moved into an FP16's s.eeeee.mmmmmmmmmm (exponent bias
// 15 instead of 7) is the same number times 2^-8, subnormals included, and F16C widens it exactly.
// The 2^8 goes back into the scale. NaN codes (never written by the quantiser) read as ±480.

/// 16 codes → two vectors of 8 floats, each 2^-8 times the value.
TK_AVX2 static inline void e4m3x16(const uint8_t *p, __m256 *lo, __m256 *hi) {
    __m256i v = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p));
    __m256i mag = _mm256_and_si256(_mm256_slli_epi16(v, 7), _mm256_set1_epi16(0x3F80));
    __m256i sgn = _mm256_and_si256(_mm256_slli_epi16(v, 8), _mm256_set1_epi16((short)0x8000));
    __m256i h = _mm256_or_si256(mag, sgn);
    *lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
    *hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
}

/// 8 codes → 8 floats, each 2^-8 times the value.
TK_AVX2 static inline __m256 e4m3x8(const uint8_t *p) {
    __m128i v = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)p));
    __m128i mag = _mm_and_si128(_mm_slli_epi16(v, 7), _mm_set1_epi16(0x3F80));
    __m128i sgn = _mm_and_si128(_mm_slli_epi16(v, 8), _mm_set1_epi16((short)0x8000));
    return _mm256_cvtph_ps(_mm_or_si128(mag, sgn));
}

/// Four 8-lane sums → one vector of their four totals (lanes 0-3), the same order for every key.
TK_AVX2 static inline __m128 hsum4x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/// One query head over `len` positions, as attention_avx2 in gemm.c: keys four at a time (four
/// dot products share one horizontal reduction), values with the output in registers, 64
/// dimensions per pass. rows[t]: code offset of position t; slots[t]: its scale index.
TK_AVX2 static void attention_fp8_avx2(float *out, const float *q, const uint8_t *k_codes, const uint8_t *v_codes,
                                       const float *k_scales, const float *v_scales, int64_t scale_stride,
                                       const int32_t *table, int64_t block_size, int64_t stride, int64_t len,
                                       int64_t hd, float *scores, int64_t *rows, int64_t *slots) {
    const float scale = 1.0f / sqrtf((float)hd);
    for (int64_t t = 0, b = 0; t < len; b++) {
        const int64_t base = (int64_t)table[b] * block_size;
        for (int64_t j = 0; j < block_size && t < len; j++, t++) {
            rows[t] = (base + j) * stride;
            slots[t] = (base + j) * scale_stride;
        }
    }
    const int64_t hd16 = hd / 16 * 16, hd8 = hd / 8 * 8;
    int64_t t = 0;
    for (; t + 4 <= len; t += 4) {
        const uint8_t *k[4] = {k_codes + rows[t], k_codes + rows[t + 1], k_codes + rows[t + 2], k_codes + rows[t + 3]};
        __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
        int64_t d = 0;
        for (; d < hd16; d += 16) {
            __m256 q0 = _mm256_loadu_ps(q + d), q1 = _mm256_loadu_ps(q + d + 8);
            for (int i = 0; i < 4; i++) {
                __m256 lo, hi;
                e4m3x16(k[i] + d, &lo, &hi);
                a[i] = _mm256_fmadd_ps(q1, hi, _mm256_fmadd_ps(q0, lo, a[i]));
            }
        }
        if (d < hd8) {
            __m256 q0 = _mm256_loadu_ps(q + d);
            for (int i = 0; i < 4; i++) a[i] = _mm256_fmadd_ps(q0, e4m3x8(k[i] + d), a[i]);
            d += 8;
        }
        float sums[4];
        _mm_storeu_ps(sums, hsum4x8(a[0], a[1], a[2], a[3]));
        for (int i = 0; i < 4; i++) {
            float tail = 0;
            for (int64_t e = d; e < hd; e++) tail += q[e] * tk_e4m3_f32_table[k[i][e]];
            scores[t + i] = (sums[i] * 256.0f + tail) * k_scales[slots[t + i]];
        }
    }
    for (; t < len; t++) {
        const uint8_t *k = k_codes + rows[t];
        float sum = 0;
        for (int64_t d = 0; d < hd; d++) sum += q[d] * tk_e4m3_f32_table[k[d]];
        scores[t] = sum * k_scales[slots[t]];
    }
    float mx = -INFINITY;
    for (t = 0; t < len; t++) {
        scores[t] *= scale;
        if (scores[t] > mx) mx = scores[t];
    }
    float sum = 0;
    for (t = 0; t < len; t++) {
        scores[t] = expf(scores[t] - mx);
        sum += scores[t];
    }
    // Softmax weight times the value's scale: the weight of the raw codes.
    const float inv = 1.0f / sum;
    for (t = 0; t < len; t++) scores[t] *= inv * v_scales[slots[t]];
    int64_t d = 0;
    for (; d + 64 <= hd; d += 64) {
        __m256 o[8];
        for (int i = 0; i < 8; i++) o[i] = _mm256_setzero_ps();
        for (t = 0; t < len; t++) {
            const uint8_t *v = v_codes + rows[t] + d;
            __m256 p = _mm256_set1_ps(scores[t] * 256.0f);
            for (int i = 0; i < 8; i += 2) {
                __m256 lo, hi;
                e4m3x16(v + 8 * i, &lo, &hi);
                o[i] = _mm256_fmadd_ps(p, lo, o[i]);
                o[i + 1] = _mm256_fmadd_ps(p, hi, o[i + 1]);
            }
        }
        for (int i = 0; i < 8; i++) _mm256_storeu_ps(out + d + 8 * i, o[i]);
    }
    for (; d + 8 <= hd; d += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (t = 0; t < len; t++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(scores[t] * 256.0f), e4m3x8(v_codes + rows[t] + d), acc);
        _mm256_storeu_ps(out + d, acc);
    }
    for (; d < hd; d++) {
        float acc = 0;
        for (t = 0; t < len; t++) acc += scores[t] * tk_e4m3_f32_table[v_codes[rows[t] + d]];
        out[d] = acc;
    }
}
#endif

static int uses_avx2(tk_gemv_path path) {
#if defined(__x86_64__)
    return path == TK_PATH_AVX2 || path == TK_PATH_AVX512;
#else
    (void)path;
    return 0;
#endif
}

typedef struct {
    const tk_attention_step_fp8 *s;
    int avx2;
    int64_t max_len;
    atomic_int failed;
} attention_fp8_job;

static void attention_fp8_task(void *ctx, int64_t task, int64_t ntasks) {
    attention_fp8_job *j = ctx;
    const tk_attention_step_fp8 *s = j->s;
    float *scores = malloc((size_t)j->max_len * sizeof(float));
    int64_t *rows = malloc((size_t)j->max_len * 2 * sizeof(int64_t)); // code offsets, then scale indices
    if (!scores || !rows) {
        free(scores);
        free(rows);
        atomic_store(&j->failed, 1);
        return;
    }
    // Pairs dealt round-robin: prefill tokens late in a chunk attend to more positions.
    for (int64_t i = task; i < s->tokens * s->heads; i += ntasks) {
        int64_t t = i / s->heads, h = i % s->heads, kvh = h / s->q_per_kv;
        float *out = s->out + t * s->q_stride + h * s->head_dim;
        const float *q = s->q + t * s->q_stride + h * s->head_dim;
        const int32_t *table = s->tables + s->table_offset[t];
        const uint8_t *k = s->k_codes + kvh * s->head_dim, *v = s->v_codes + kvh * s->head_dim;
        const float *ks = s->k_scales + kvh, *vs = s->v_scales + kvh;
        int64_t len = s->positions[t] + 1;
#if defined(__x86_64__)
        if (j->avx2) {
            attention_fp8_avx2(out, q, k, v, ks, vs, s->scale_stride, table, s->block_size, s->token_stride, len,
                               s->head_dim, scores, rows, rows + j->max_len);
            continue;
        }
#endif
        tk_attention_paged_fp8(out, q, k, v, ks, vs, s->scale_stride, table, s->block_size, s->token_stride, len,
                               s->head_dim, scores);
    }
    free(scores);
    free(rows);
}

int tk_attention_step_fp8_mt(const tk_attention_step_fp8 *s) {
    if (!s || !s->out || !s->q || !s->k_codes || !s->v_codes || !s->k_scales || !s->v_scales || !s->tables ||
        !s->table_offset || !s->positions)
        return -1;
    if (s->tokens < 0 || s->heads < 1 || s->q_per_kv < 1 || s->head_dim < 1 || s->block_size < 1) return -1;
    if (s->scale_stride < (s->heads + s->q_per_kv - 1) / s->q_per_kv) return -1;
    int64_t max_len = 1;
    for (int64_t t = 0; t < s->tokens; t++) {
        if (s->positions[t] < 0) return -1;
        if (s->positions[t] + 1 > max_len) max_len = s->positions[t] + 1;
    }
    attention_fp8_job j = {.s = s, .avx2 = uses_avx2(tk_gemv_effective_path()), .max_len = max_len};
    atomic_init(&j.failed, 0);
    int threads = tk_threads_get();
    int64_t pairs = s->tokens * s->heads;
    // One decode token's heads are too little work to wake a worker for (as tk_attention_step_mt).
    if (threads > 1 && pairs * max_len >= 4096) {
        int64_t tasks = pairs < threads ? pairs : threads;
        if (tk_threads_run(attention_fp8_task, &j, tasks) == 0) return atomic_load(&j.failed) ? -1 : 0;
    }
    attention_fp8_task(&j, 0, 1);
    return atomic_load(&j.failed) ? -1 : 0;
}
