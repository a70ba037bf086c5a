// Step attention over an f32 K/V cache (tandem_attention.h): every (token, query head) pair of a
// step through its sequence's block table, the pairs spread over the process-wide pool.
#include "tandem_attention.h"
#include "tandem_kernels.h"
#include "tandem_pool.h"
#include "tk_internal.h"
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

#if defined(__x86_64__)
/// One query head over `len` positions. Keys four at a time (four dot products share one
/// horizontal reduction); values with the output held in registers, 64 dimensions per pass.
TK_AVX2 static void attention_avx2(float *out, const float *q, const float *k_base, const float *v_base,
                                   const int32_t *table, int64_t block_size, int64_t stride, int64_t len,
                                   int64_t hd, float *scores, int64_t *rows, int64_t first, float softcap,
                                   const float *sink) {
    const float scale = 1.0f / sqrtf((float)hd);
    for (int64_t t = 0, b = 0; t < len; b++) {
        const int64_t base = (int64_t)table[b] * block_size;
        for (int64_t j = 0; j < block_size && t < len; j++, t++) rows[t] = (base + j) * stride;
    }
    const int64_t hd8 = hd / 8 * 8;
    int64_t t = 0;
    for (; t + 4 <= len; t += 4) {
        const float *k0 = k_base + rows[t], *k1 = k_base + rows[t + 1];
        const float *k2 = k_base + rows[t + 2], *k3 = k_base + rows[t + 3];
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (int64_t d = 0; d < hd8; d += 8) {
            __m256 qv = _mm256_loadu_ps(q + d);
            a0 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k0 + d), a0);
            a1 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k1 + d), a1);
            a2 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k2 + d), a2);
            a3 = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k3 + d), a3);
        }
        _mm_storeu_ps(scores + t, hsum4x8(a0, a1, a2, a3));
        for (int64_t d = hd8; d < hd; d++) {
            scores[t] += q[d] * k0[d];
            scores[t + 1] += q[d] * k1[d];
            scores[t + 2] += q[d] * k2[d];
            scores[t + 3] += q[d] * k3[d];
        }
    }
    for (; t < len; t++) {
        const float *k = k_base + rows[t];
        float sum = 0;
        for (int64_t d = 0; d < hd; d++) sum += q[d] * k[d];
        scores[t] = sum;
    }
    for (t = 0; t < len; t++) scores[t] *= scale;
    tk__attention_softmax_avx2(scores, len, first, softcap, sink);
    int64_t d = 0;
    for (; d + 64 <= hd; d += 64) {
        __m256 o[8];
        for (int i = 0; i < 8; i++) o[i] = _mm256_setzero_ps();
        for (t = 0; t < len; t++) {
            const float *v = v_base + rows[t] + d;
            __m256 p = _mm256_set1_ps(scores[t]);
            for (int i = 0; i < 8; i++) o[i] = _mm256_fmadd_ps(p, _mm256_loadu_ps(v + 8 * i), o[i]);
        }
        for (int i = 0; i < 8; i++) _mm256_storeu_ps(out + d + 8 * i, o[i]);
    }
    for (; d + 8 <= hd; d += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (t = 0; t < len; t++)
            acc = _mm256_fmadd_ps(_mm256_set1_ps(scores[t]), _mm256_loadu_ps(v_base + rows[t] + d), acc);
        _mm256_storeu_ps(out + d, acc);
    }
    for (; d < hd; d++) {
        float acc = 0;
        for (t = 0; t < len; t++) acc += scores[t] * v_base[rows[t] + d];
        out[d] = acc;
    }
}
#endif

typedef struct {
    const tk_attention_step *s;
    int avx2, neon;
    int64_t max_len;
    atomic_int failed;
} attention_job;

static void attention_task(void *ctx, int64_t task, int64_t ntasks) {
    attention_job *j = ctx;
    const tk_attention_step *s = j->s;
    float *scores = malloc((size_t)j->max_len * sizeof(float));
    int64_t *rows = malloc((size_t)j->max_len * sizeof(int64_t));
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
        int64_t len = s->positions[t] + 1, first = tk__attention_first(len, s->window, s->chunk);
        const float *sink = s->sinks ? s->sinks + h : NULL;
#if defined(__x86_64__)
        if (j->avx2) {
            attention_avx2(out, q, s->k_base + kvh * s->head_dim, s->v_base + kvh * s->head_dim, table, s->block_size,
                           s->token_stride, len, s->head_dim, scores, rows, first, s->softcap, sink);
            continue;
        }
#endif
#if defined(__aarch64__)
        if (j->neon) {
            tk__attention_f32_neon(out, q, s->k_base + kvh * s->head_dim, s->v_base + kvh * s->head_dim, table,
                                   s->block_size, s->token_stride, len, s->head_dim, scores, rows, first, s->softcap, sink);
            continue;
        }
#endif
        tk__attention_paged_f32(out, q, s->k_base + kvh * s->head_dim, s->v_base + kvh * s->head_dim, table,
                                s->block_size, s->token_stride, len, s->head_dim, scores, first, s->softcap, sink);
    }
    free(scores);
    free(rows);
}

int tk_attention_step_mt(const tk_attention_step *s) {
    if (!s || !s->out || !s->q || !s->k_base || !s->v_base || !s->tables || !s->table_offset || !s->positions) return -1;
    if (s->tokens < 0 || s->heads < 1 || s->q_per_kv < 1 || s->head_dim < 1 || s->block_size < 1) return -1;
    int64_t max_len = tk__step_max_len(s->positions, s->tokens);
    if (max_len < 0) return -1;
    tk_gemv_path path = tk_gemv_effective_path();
    attention_job j = {.s = s, .avx2 = tk__uses_avx2(path), .neon = tk__uses_neon(path), .max_len = max_len};
    atomic_init(&j.failed, 0);
    tk__run_step(attention_task, &j, s->tokens * s->heads, s->tokens * s->heads * max_len);
    return atomic_load(&j.failed) ? -1 : 0;
}
