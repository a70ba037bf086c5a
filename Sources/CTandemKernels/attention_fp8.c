// Step attention over an FP8 K/V cache (tandem_attention.h) and the quantiser that fills it.
//
// A key's dot product with q is taken over the raw E4M3 values and multiplied by the key's scale
// once; a value's softmax weight is multiplied by its scale once before the weighted sum. Both are
// the dequantised e4m3 * scale arithmetic with the scale factored out of the sum, so the result
// differs from attention over dequantised f32 K/V by f32 rounding only.
#include "tandem_attention.h"
#include "tandem_formats.h"
#include "tandem_kernels.h"
#include "tandem_pool.h"
#include "tk_internal.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

void tk_quantize_vectors_fp8_e4m3(const float *src, uint8_t *codes, float *scales, int64_t vectors, int64_t n) {
    for (int64_t i = 0; i < vectors; i++) {
        scales[i] = tk_fp8_e4m3_scale(tk_amax(src + i * n, n));
        tk_quantize_row_fp8_e4m3(src + i * n, codes + i * n, n, scales[i]);
    }
}

/// Positions widened per tile of values (a tile of head_dim 128 is 16 KiB, L1-sized); also sizes
/// the task's scratch on every architecture.
#define V_TILE 32

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

/// One K or V vector of hd codes → hd floats, each 2^-8 times the value (the tail via the table).
TK_AVX2 static inline void e4m3_row(const uint8_t *codes, float *dst, int64_t hd) {
    int64_t d = 0;
    for (; d + 16 <= hd; d += 16) {
        __m256 lo, hi;
        e4m3x16(codes + d, &lo, &hi);
        _mm256_storeu_ps(dst + d, lo);
        _mm256_storeu_ps(dst + d + 8, hi);
    }
    if (d + 8 <= hd) {
        _mm256_storeu_ps(dst + d, e4m3x8(codes + d));
        d += 8;
    }
    for (; d < hd; d++) dst[d] = tk_e4m3_f32_table[codes[d]] * 0x1p-8f;
}

/// The `g` query heads that share one KV head (grouped-query attention), over `len` positions.
/// Each key and value is widened from E4M3 once, into an L1 scratch, and used by all g heads:
/// the conversion, not the memory, bounds this kernel, so a group pays for it once instead of
/// g times. Keys four at a time (four dot products share one horizontal reduction, as
/// attention_avx2 in attention_f32.c); values a tile at a time, each head's output 64 dimensions per
/// pass in registers. q and out hold the g heads one after another (head_dim apart).
/// rows[t]: code offset of position t; slots[t]: its scale index. scores: g × len.
TK_AVX2 static void attention_fp8_group_avx2(float *out, const float *q, int64_t g, const uint8_t *k_codes,
                                             const uint8_t *v_codes, const float *k_scales, const float *v_scales,
                                             int64_t scale_stride, const int32_t *table, int64_t block_size,
                                             int64_t stride, int64_t len, int64_t hd, float *scores, int64_t *rows,
                                             int64_t *slots, float *wide, int64_t first, float softcap,
                                             const float *sinks) {
    const float scale = 1.0f / sqrtf((float)hd);
    tk__table_rows(table, block_size, len, stride, rows);
    tk__table_rows(table, block_size, len, scale_stride, slots);
    const int64_t hd8 = hd / 8 * 8;
    for (int64_t t = 0; t < len; t += 4) {
        const int64_t n = len - t < 4 ? len - t : 4;
        for (int64_t i = 0; i < 4; i++) e4m3_row(k_codes + rows[t + (i < n ? i : 0)], wide + i * hd, hd);
        for (int64_t h = 0; h < g; h++) {
            const float *qh = q + h * hd;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int64_t d = 0; d < hd8; d += 8) {
                __m256 qv = _mm256_loadu_ps(qh + d);
                a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(wide + d), a0);
                a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(wide + hd + d), a1);
                a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(wide + 2 * hd + d), a2);
                a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(wide + 3 * hd + d), a3);
            }
            float sums[4];
            _mm_storeu_ps(sums, hsum4x8(a0, a1, a2, a3));
            for (int64_t i = 0; i < n; i++) {
                for (int64_t d = hd8; d < hd; d++) sums[i] += qh[d] * wide[i * hd + d];
                scores[h * len + t + i] = sums[i] * 256.0f * k_scales[slots[t + i]];
            }
        }
    }
    // Softmax weights times each value's scale and 2^8: the weights of the widened codes.
    tk__fp8_group_softmax(scores, g, len, scale, first, softcap, sinks, v_scales, slots, out, hd);
    for (int64_t t0 = 0; t0 < len; t0 += V_TILE) {
        const int64_t n = len - t0 < V_TILE ? len - t0 : V_TILE;
        for (int64_t i = 0; i < n; i++) e4m3_row(v_codes + rows[t0 + i], wide + i * hd, hd);
        for (int64_t h = 0; h < g; h++) {
            const float *w = scores + h * len + t0;
            float *o = out + h * hd;
            int64_t d = 0;
            for (; d + 64 <= hd; d += 64) {
                __m256 acc[8];
                for (int i = 0; i < 8; i++) acc[i] = _mm256_loadu_ps(o + d + 8 * i);
                for (int64_t t = 0; t < n; t++) {
                    __m256 p = _mm256_set1_ps(w[t]);
                    const float *v = wide + t * hd + d;
                    for (int i = 0; i < 8; i++) acc[i] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8 * i), acc[i]);
                }
                for (int i = 0; i < 8; i++) _mm256_storeu_ps(o + d + 8 * i, acc[i]);
            }
            for (; d + 8 <= hd; d += 8) {
                __m256 acc = _mm256_loadu_ps(o + d);
                for (int64_t t = 0; t < n; t++) acc = _mm256_fmadd_ps(_mm256_set1_ps(w[t]), _mm256_loadu_ps(wide + t * hd + d), acc);
                _mm256_storeu_ps(o + d, acc);
            }
            for (; d < hd; d++) {
                float acc = o[d];
                for (int64_t t = 0; t < n; t++) acc += w[t] * wide[t * hd + d];
                o[d] = acc;
            }
        }
    }
}
#endif

typedef struct {
    const tk_attention_step_fp8 *s;
    int avx2, neon;
    int64_t max_len;
    atomic_int failed;
} attention_fp8_job;

static void attention_fp8_task(void *ctx, int64_t task, int64_t ntasks) {
    attention_fp8_job *j = ctx;
    const tk_attention_step_fp8 *s = j->s;
    const int64_t groups = (s->heads + s->q_per_kv - 1) / s->q_per_kv, hd = s->head_dim;
    const int64_t tile = V_TILE > 4 ? V_TILE : 4;
    float *scores = malloc((size_t)(j->max_len * s->q_per_kv + tile * hd) * sizeof(float)); // g × len, then widened K/V
    int64_t *rows = malloc((size_t)j->max_len * 2 * sizeof(int64_t));                       // code offsets, scale indices
    if (!scores || !rows) {
        free(scores);
        free(rows);
        atomic_store(&j->failed, 1);
        return;
    }
    // (token, KV head) pairs dealt round-robin: prefill tokens late in a chunk attend to more positions.
    for (int64_t i = task; i < s->tokens * groups; i += ntasks) {
        int64_t t = i / groups, kvh = i % groups, h0 = kvh * s->q_per_kv;
        int64_t g = s->heads - h0 < s->q_per_kv ? s->heads - h0 : s->q_per_kv;
        float *out = s->out + t * s->q_stride + h0 * hd;
        const float *q = s->q + t * s->q_stride + h0 * hd;
        const int32_t *table = s->tables + s->table_offset[t];
        const uint8_t *k = s->k_codes + kvh * hd, *v = s->v_codes + kvh * hd;
        const float *ks = s->k_scales + kvh, *vs = s->v_scales + kvh;
        int64_t len = s->positions[t] + 1, first = tk__attention_first(len, s->window, s->chunk);
        const float *sinks = s->sinks ? s->sinks + h0 : NULL;
#if defined(__x86_64__)
        if (j->avx2) {
            attention_fp8_group_avx2(out, q, g, k, v, ks, vs, s->scale_stride, table, s->block_size, s->token_stride,
                                     len, hd, scores, rows, rows + j->max_len, scores + j->max_len * s->q_per_kv,
                                     first, s->softcap, sinks);
            continue;
        }
#endif
#if defined(__aarch64__)
        if (j->neon) { // V_TILE (32) rows of scratch, as the NEON kernel widens values
            tk__attention_fp8_group_neon(out, q, g, k, v, ks, vs, s->scale_stride, table, s->block_size,
                                         s->token_stride, len, hd, scores, rows, rows + j->max_len,
                                         scores + j->max_len * s->q_per_kv, first, s->softcap, sinks);
            continue;
        }
#endif
        for (int64_t h = 0; h < g; h++)
            tk__attention_paged_fp8(out + h * hd, q + h * hd, k, v, ks, vs, s->scale_stride, table, s->block_size,
                                    s->token_stride, len, hd, scores, first, s->softcap, sinks ? sinks + h : NULL);
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
    int64_t max_len = tk__step_max_len(s->positions, s->tokens);
    if (max_len < 0) return -1;
    tk_gemv_path path = tk_gemv_effective_path();
    attention_fp8_job j = {.s = s, .avx2 = tk__uses_avx2(path), .neon = tk__uses_neon(path), .max_len = max_len};
    atomic_init(&j.failed, 0);
    int64_t groups = s->tokens * ((s->heads + s->q_per_kv - 1) / s->q_per_kv);
    tk__run_step(attention_fp8_task, &j, groups, s->tokens * s->heads * max_len);
    return atomic_load(&j.failed) ? -1 : 0;
}
