// Step attention over an f32 K/V cache on the AArch64 paths (attention_f32.c calls it for
// TK_PATH_NEON and TK_PATH_DOTPROD): one query head over `len` positions, as the portable
// tk_attention_paged_ex computes it. Keys four at a time (q·k in two f32x4 accumulators per key,
// columns d..d+3 and d+4..d+7 of each 8, then across lanes); scale, window, soft-cap and softmax as
// the portable path (tk__shape_scores, expf); values with the output held in registers, 32
// dimensions per pass. Compiled like gemv_neon.c (__aarch64__, or TK_NEON_EMULATED in the SIMDe
// test harness); TK_TEST_BREAK_LANE negates one lane of the key dot products.
#include "tk_internal.h"
#include <math.h>
#include <stdint.h>

#if defined(__aarch64__) || defined(TK_NEON_EMULATED)
#ifndef TK_NEON_EMULATED
#include <arm_neon.h>
#endif

#ifdef TK_TEST_BREAK_LANE
#define BREAK_KEY(v) vsetq_lane_f32(-vgetq_lane_f32((v), 1), (v), 1)
#else
#define BREAK_KEY(v) (v)
#endif

TK_NEON void tk__attention_f32_neon(float *out, const float *q, const float *k_base, const float *v_base,
                                    const int32_t *table, int64_t block_size, int64_t stride, int64_t len,
                                    int64_t hd, float *scores, int64_t *rows, int64_t first, float softcap,
                                    const float *sink) {
    const float scale = 1.0f / sqrtf((float)hd);
    tk__table_rows(table, block_size, len, stride, rows);
    const int64_t hd8 = hd / 8 * 8;
    int64_t t = 0;
    for (; t + 4 <= len; t += 4) {
        const float *k[4] = {k_base + rows[t], k_base + rows[t + 1], k_base + rows[t + 2], k_base + rows[t + 3]};
        float32x4_t lo[4], hi[4];
        for (int i = 0; i < 4; i++) lo[i] = hi[i] = vdupq_n_f32(0.0f);
        for (int64_t d = 0; d < hd8; d += 8) {
            float32x4_t ql = vld1q_f32(q + d), qh = vld1q_f32(q + d + 4);
            for (int i = 0; i < 4; i++) {
                lo[i] = vfmaq_f32(lo[i], ql, vld1q_f32(k[i] + d));
                hi[i] = vfmaq_f32(hi[i], qh, vld1q_f32(k[i] + d + 4));
            }
        }
        // Four keys' sums at once: pairwise adds of the (lo + hi) vectors.
        float32x4_t s01 = vpaddq_f32(vaddq_f32(lo[0], hi[0]), vaddq_f32(lo[1], hi[1]));
        float32x4_t s23 = vpaddq_f32(vaddq_f32(lo[2], hi[2]), vaddq_f32(lo[3], hi[3]));
        vst1q_f32(scores + t, BREAK_KEY(vpaddq_f32(s01, s23)));
        for (int64_t d = hd8; d < hd; d++)
            for (int i = 0; i < 4; i++) scores[t + i] += q[d] * k[i][d];
    }
    for (; t < len; t++) {
        const float *k = k_base + rows[t];
        float sum = 0;
        for (int64_t d = 0; d < hd; d++) sum += q[d] * k[d];
        scores[t] = sum;
    }
    for (t = 0; t < len; t++) scores[t] *= scale;
    tk__attention_softmax(scores, len, first, softcap, sink);
    int64_t d = 0;
    for (; d + 32 <= hd; d += 32) {
        float32x4_t o[8];
        for (int i = 0; i < 8; i++) o[i] = vdupq_n_f32(0.0f);
        for (t = 0; t < len; t++) {
            const float *v = v_base + rows[t] + d;
            for (int i = 0; i < 8; i++) o[i] = vfmaq_n_f32(o[i], vld1q_f32(v + 4 * i), scores[t]);
        }
        for (int i = 0; i < 8; i++) vst1q_f32(out + d + 4 * i, o[i]);
    }
    for (; d + 4 <= hd; d += 4) {
        float32x4_t acc = vdupq_n_f32(0.0f);
        for (t = 0; t < len; t++) acc = vfmaq_n_f32(acc, vld1q_f32(v_base + rows[t] + d), scores[t]);
        vst1q_f32(out + d, acc);
    }
    for (; d < hd; d++) {
        float acc = 0;
        for (t = 0; t < len; t++) acc += scores[t] * v_base[rows[t] + d];
        out[d] = acc;
    }
}

#endif
