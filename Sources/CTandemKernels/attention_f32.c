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
/// The G query heads (G <= 4, a compile-time constant after inlining) of one token that share a KV
/// head, over `len` positions: each key and value vector is loaded once for all G heads (the
/// one-head kernel loads it once per head). Scores: keys four at a time, G x 4 accumulators;
/// values: 32 dimensions per pass, G x 4 accumulators. q, out: head i at i * hd; scores: G x len.
/// Each head's sums run in the same order whatever G is.
#define DEFINE_ATTENTION_GROUP(NAME, TARGET)                                                                  \
    TARGET static inline __attribute__((always_inline)) void NAME##_g(                                      \
        float *out, const float *q, const int G, const float *k_base, const float *v_base, const int64_t *rows, \
        int64_t len, int64_t hd, float *scores, int64_t first, float softcap, const float *sinks) {          \
        const float scale = 1.0f / sqrtf((float)hd);                                                         \
        const int64_t hd8 = hd / 8 * 8;                                                                      \
        int64_t t = 0;                                                                                       \
        for (; t + 4 <= len; t += 4) {                                                                       \
            const float *k[4] = {k_base + rows[t], k_base + rows[t + 1], k_base + rows[t + 2], k_base + rows[t + 3]}; \
            __m256 a[4][4];                                                                                  \
            for (int h = 0; h < G; h++)                                                                      \
                for (int j = 0; j < 4; j++) a[h][j] = _mm256_setzero_ps();                                   \
            for (int64_t d = 0; d < hd8; d += 8) {                                                           \
                __m256 kv[4];                                                                                \
                for (int j = 0; j < 4; j++) kv[j] = _mm256_loadu_ps(k[j] + d);                               \
                for (int h = 0; h < G; h++) {                                                                \
                    __m256 qv = _mm256_loadu_ps(q + h * hd + d);                                             \
                    for (int j = 0; j < 4; j++) a[h][j] = _mm256_fmadd_ps(qv, kv[j], a[h][j]);               \
                }                                                                                            \
            }                                                                                                \
            for (int h = 0; h < G; h++) {                                                                    \
                float *sc = scores + h * len + t;                                                            \
                const float *qh = q + h * hd;                                                                \
                _mm_storeu_ps(sc, hsum4x8(a[h][0], a[h][1], a[h][2], a[h][3]));                              \
                for (int64_t d = hd8; d < hd; d++)                                                           \
                    for (int j = 0; j < 4; j++) sc[j] += qh[d] * k[j][d];                                    \
            }                                                                                                \
        }                                                                                                    \
        for (; t < len; t++)                                                                                 \
            for (int h = 0; h < G; h++) {                                                                    \
                const float *kk = k_base + rows[t], *qh = q + h * hd;                                        \
                float sum = 0;                                                                               \
                for (int64_t d = 0; d < hd; d++) sum += qh[d] * kk[d];                                       \
                scores[h * len + t] = sum;                                                                   \
            }                                                                                                \
        for (int h = 0; h < G; h++) {                                                                        \
            float *sc = scores + h * len;                                                                    \
            for (t = 0; t < len; t++) sc[t] *= scale;                                                        \
            tk__attention_softmax_avx2(sc, len, first, softcap, sinks ? sinks + h : NULL);                   \
        }                                                                                                    \
        int64_t d = 0;                                                                                       \
        for (; d + 32 <= hd; d += 32) {                                                                      \
            __m256 o[4][4];                                                                                  \
            for (int h = 0; h < G; h++)                                                                      \
                for (int i = 0; i < 4; i++) o[h][i] = _mm256_setzero_ps();                                   \
            for (t = 0; t < len; t++) {                                                                      \
                const float *v = v_base + rows[t] + d;                                                       \
                __m256 vv[4];                                                                                \
                for (int i = 0; i < 4; i++) vv[i] = _mm256_loadu_ps(v + 8 * i);                              \
                for (int h = 0; h < G; h++) {                                                                \
                    __m256 p = _mm256_set1_ps(scores[h * len + t]);                                          \
                    for (int i = 0; i < 4; i++) o[h][i] = _mm256_fmadd_ps(p, vv[i], o[h][i]);                \
                }                                                                                            \
            }                                                                                                \
            for (int h = 0; h < G; h++)                                                                      \
                for (int i = 0; i < 4; i++) _mm256_storeu_ps(out + h * hd + d + 8 * i, o[h][i]);             \
        }                                                                                                    \
        for (; d + 8 <= hd; d += 8)                                                                          \
            for (int h = 0; h < G; h++) {                                                                    \
                __m256 acc = _mm256_setzero_ps();                                                            \
                for (t = 0; t < len; t++)                                                                    \
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(scores[h * len + t]), _mm256_loadu_ps(v_base + rows[t] + d), acc); \
                _mm256_storeu_ps(out + h * hd + d, acc);                                                     \
            }                                                                                                \
        for (; d < hd; d++)                                                                                  \
            for (int h = 0; h < G; h++) {                                                                    \
                float acc = 0;                                                                               \
                for (t = 0; t < len; t++) acc += scores[h * len + t] * v_base[rows[t] + d];                  \
                out[h * hd + d] = acc;                                                                       \
            }                                                                                                \
    }                                                                                                        \
    /* g heads in chunks of at most GMAX. */                                                                  \
    TARGET static void NAME(float *out, const float *q, int64_t g, int GMAX, const float *k_base, const float *v_base, \
                            const int64_t *rows, int64_t len, int64_t hd, float *scores, int64_t first, float softcap, \
                            const float *sinks) {                                                            \
        for (int64_t h = 0; h < g;) {                                                                        \
            int64_t n = g - h < GMAX ? g - h : GMAX;                                                         \
            const float *sk = sinks ? sinks + h : NULL;                                                      \
            switch (n) {                                                                                     \
            case 4: NAME##_g(out + h * hd, q + h * hd, 4, k_base, v_base, rows, len, hd, scores, first, softcap, sk); break; \
            case 3: NAME##_g(out + h * hd, q + h * hd, 3, k_base, v_base, rows, len, hd, scores, first, softcap, sk); break; \
            case 2: NAME##_g(out + h * hd, q + h * hd, 2, k_base, v_base, rows, len, hd, scores, first, softcap, sk); break; \
            default: NAME##_g(out + h * hd, q + h * hd, 1, k_base, v_base, rows, len, hd, scores, first, softcap, sk); break; \
            }                                                                                                \
            h += n;                                                                                          \
        }                                                                                                    \
    }

// AVX2 has 16 vector registers: two heads at a time (8 sums, 4 keys or values, a query or weight);
// AVX-512VL's 32 hold four.
DEFINE_ATTENTION_GROUP(attention_group_avx2, TK_AVX2)
DEFINE_ATTENTION_GROUP(attention_group_avx512, TK_AVX512)
#endif

typedef struct {
    const tk_attention_step *s;
    int avx2, avx512, neon;
    int64_t max_len;
    atomic_int failed;
} attention_job;

#if defined(__x86_64__)
/// x86: the (token, KV head) items, each the q_per_kv query heads that share the KV head.
static void attention_group_task(void *ctx, int64_t task, int64_t ntasks) {
    attention_job *j = ctx;
    const tk_attention_step *s = j->s;
    const int64_t g = s->q_per_kv, kv_heads = s->heads / g, gmax = j->avx512 ? 4 : 2;
    float *scores = malloc((size_t)(j->max_len * (g < gmax ? g : gmax)) * sizeof(float));
    int64_t *rows = malloc((size_t)j->max_len * sizeof(int64_t));
    if (!scores || !rows) {
        free(scores);
        free(rows);
        atomic_store(&j->failed, 1);
        return;
    }
    for (int64_t i = task; i < s->tokens * kv_heads; i += ntasks) {
        const int64_t t = i / kv_heads, kvh = i % kv_heads, h0 = kvh * g;
        const int32_t *table = s->tables + s->table_offset[t];
        const int64_t len = s->positions[t] + 1, first = tk__attention_first(len, s->window, s->chunk);
        tk__table_rows(table, s->block_size, len, s->token_stride, rows);
        float *out = s->out + t * s->q_stride + h0 * s->head_dim;
        const float *q = s->q + t * s->q_stride + h0 * s->head_dim;
        const float *kb = s->k_base + kvh * s->head_dim, *vb = s->v_base + kvh * s->head_dim;
        const float *sinks = s->sinks ? s->sinks + h0 : NULL;
        if (j->avx512)
            attention_group_avx512(out, q, g, 4, kb, vb, rows, len, s->head_dim, scores, first, s->softcap, sinks);
        else
            attention_group_avx2(out, q, g, 2, kb, vb, rows, len, s->head_dim, scores, first, s->softcap, sinks);
    }
    free(scores);
    free(rows);
}
#endif

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
        if (j->avx2) { // heads not a multiple of q_per_kv: one head at a time
            tk__table_rows(table, s->block_size, len, s->token_stride, rows);
            attention_group_avx2(out, q, 1, 1, s->k_base + kvh * s->head_dim, s->v_base + kvh * s->head_dim, rows, len,
                                 s->head_dim, scores, first, s->softcap, sink);
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
    attention_job j = {.s = s, .avx2 = tk__uses_avx2(path), .avx512 = path == TK_PATH_AVX512,
                       .neon = tk__uses_neon(path), .max_len = max_len};
    atomic_init(&j.failed, 0);
#if defined(__x86_64__)
    if (j.avx2 && s->heads % s->q_per_kv == 0) {
        const int64_t items = s->tokens * (s->heads / s->q_per_kv);
        tk__run_step(attention_group_task, &j, items, items * s->q_per_kv * max_len);
        return atomic_load(&j.failed) ? -1 : 0;
    }
#endif
    tk__run_step(attention_task, &j, s->tokens * s->heads, s->tokens * s->heads * max_len);
    return atomic_load(&j.failed) ? -1 : 0;
}
