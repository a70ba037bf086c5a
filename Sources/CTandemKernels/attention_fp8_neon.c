// Step attention over an FP8 (E4M3) K/V cache on the AArch64 paths (attention_fp8.c calls it for
// TK_PATH_NEON and TK_PATH_DOTPROD): the g query heads that share one KV head, as the x86 group
// kernel does it. Each key and value vector is widened from E4M3 once into an L1 scratch (`wide`,
// at least 32 × hd floats) and used by all g heads: codes moved into f16 bit patterns (2^-8 times
// the value, subnormals included; sshll + bic) and widened exactly by fcvtl, the 2^8 folded into
// the scales. Keys four at a time; values 32 at a time, each head's output 32 dimensions per pass
// in registers. Compiled like gemv_neon.c (__aarch64__, or TK_NEON_EMULATED in the SIMDe test
// harness); TK_TEST_BREAK_LANE negates one lane of the key dot products.
#include "tandem_formats.h"
#include "tk_internal.h"
#include <math.h>
#include <stdint.h>

#if defined(__aarch64__) || defined(TK_NEON_EMULATED)
#ifndef TK_NEON_EMULATED
#include <arm_neon.h>
#endif

#ifdef TK_TEST_BREAK_LANE
#define BREAK_KEY8(v) vsetq_lane_f32(-vgetq_lane_f32((v), 1), (v), 1)
#else
#define BREAK_KEY8(v) (v)
#endif

/// Values widened per tile (as attention_fp8.c's V_TILE, which sizes `wide`).
#define NEON_V_TILE 32

/// One K or V vector of hd codes → hd floats, each 2^-8 times the value (the tail via the table).
TK_NEON static inline void e4m3_row_neon(const uint8_t *codes, float *dst, int64_t hd) {
    const uint16x8_t keep = vdupq_n_u16(0xBFFF); // sshll #7 of the sign-extended code sets bit 14 to the sign
    int64_t d = 0;
    for (; d + 16 <= hd; d += 16) {
        int8x16_t c = vreinterpretq_s8_u8(vld1q_u8(codes + d));
        uint16x8_t h0 = vandq_u16(vreinterpretq_u16_s16(vshll_n_s8(vget_low_s8(c), 7)), keep);
        uint16x8_t h1 = vandq_u16(vreinterpretq_u16_s16(vshll_n_s8(vget_high_s8(c), 7)), keep);
        vst1q_f32(dst + d, vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h0))));
        vst1q_f32(dst + d + 4, vcvt_f32_f16(vreinterpret_f16_u16(vget_high_u16(h0))));
        vst1q_f32(dst + d + 8, vcvt_f32_f16(vreinterpret_f16_u16(vget_low_u16(h1))));
        vst1q_f32(dst + d + 12, vcvt_f32_f16(vreinterpret_f16_u16(vget_high_u16(h1))));
    }
    for (; d < hd; d++) dst[d] = tk_e4m3_f32_table[codes[d]] * 0x1p-8f;
}

TK_NEON void tk__attention_fp8_group_neon(float *out, const float *q, int64_t g, const uint8_t *k_codes,
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
        for (int64_t i = 0; i < 4; i++) e4m3_row_neon(k_codes + rows[t + (i < n ? i : 0)], wide + i * hd, hd);
        for (int64_t h = 0; h < g; h++) {
            const float *qh = q + h * hd;
            float32x4_t lo[4], hi[4];
            for (int i = 0; i < 4; i++) lo[i] = hi[i] = vdupq_n_f32(0.0f);
            for (int64_t d = 0; d < hd8; d += 8) {
                float32x4_t ql = vld1q_f32(qh + d), qv = vld1q_f32(qh + d + 4);
                for (int i = 0; i < 4; i++) {
                    lo[i] = vfmaq_f32(lo[i], ql, vld1q_f32(wide + i * hd + d));
                    hi[i] = vfmaq_f32(hi[i], qv, vld1q_f32(wide + i * hd + d + 4));
                }
            }
            float32x4_t s01 = vpaddq_f32(vaddq_f32(lo[0], hi[0]), vaddq_f32(lo[1], hi[1]));
            float32x4_t s23 = vpaddq_f32(vaddq_f32(lo[2], hi[2]), vaddq_f32(lo[3], hi[3]));
            float sums[4];
            vst1q_f32(sums, BREAK_KEY8(vpaddq_f32(s01, s23)));
            for (int64_t i = 0; i < n; i++) {
                for (int64_t d = hd8; d < hd; d++) sums[i] += qh[d] * wide[i * hd + d];
                scores[h * len + t + i] = sums[i] * 256.0f * k_scales[slots[t + i]];
            }
        }
    }
    // Softmax weights times each value's scale and 2^8: the weights of the widened codes.
    tk__fp8_group_softmax(scores, g, len, scale, first, softcap, sinks, v_scales, slots, out, hd);
    for (int64_t t0 = 0; t0 < len; t0 += NEON_V_TILE) {
        const int64_t n = len - t0 < NEON_V_TILE ? len - t0 : NEON_V_TILE;
        for (int64_t i = 0; i < n; i++) e4m3_row_neon(v_codes + rows[t0 + i], wide + i * hd, hd);
        for (int64_t h = 0; h < g; h++) {
            const float *w = scores + h * len + t0;
            float *o = out + h * hd;
            int64_t d = 0;
            for (; d + 32 <= hd; d += 32) {
                float32x4_t acc[8];
                for (int i = 0; i < 8; i++) acc[i] = vld1q_f32(o + d + 4 * i);
                for (int64_t t = 0; t < n; t++) {
                    const float *v = wide + t * hd + d;
                    for (int i = 0; i < 8; i++) acc[i] = vfmaq_n_f32(acc[i], vld1q_f32(v + 4 * i), w[t]);
                }
                for (int i = 0; i < 8; i++) vst1q_f32(o + d + 4 * i, acc[i]);
            }
            for (; d + 4 <= hd; d += 4) {
                float32x4_t acc = vld1q_f32(o + d);
                for (int64_t t = 0; t < n; t++) acc = vfmaq_n_f32(acc, vld1q_f32(wide + t * hd + d), w[t]);
                vst1q_f32(o + d, acc);
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
