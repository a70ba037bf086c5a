// The GEMM micro-kernel of the AArch64 paths (gemm.c's driver calls it for TK_PATH_NEON and
// TK_PATH_DOTPROD): Y[t][r] for a tile of nr ≤ 3 dequantised rows × nt ≤ 4 tokens, each pair
// summed in two f32x4 accumulators (columns c..c+3 and c+4..c+7 of each 8), reduced in the order
// tile_portable uses, ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)), then the scalar tail: a token's result
// does not depend on the other tokens in its tile. Compiled like gemv_neon.c (__aarch64__, or
// TK_NEON_EMULATED in the SIMDe test harness); TK_TEST_BREAK_LANE negates one accumulator lane.
#include "tk_internal.h"
#include <stdint.h>

#if defined(__aarch64__) || defined(TK_NEON_EMULATED)
#ifndef TK_NEON_EMULATED
#include <arm_neon.h>
#endif

#ifdef TK_TEST_BREAK_LANE
#define BREAK_TILE(v) vsetq_lane_f32(-vgetq_lane_f32((v), 1), (v), 1)
#else
#define BREAK_TILE(v) (v)
#endif

TK_NEON static inline __attribute__((always_inline)) void tile(const float *W, int NR, const float *X, int64_t ldx,
                                                               int NT, float *Y, int64_t ldy, int64_t cols) {
    float32x4_t lo[3][4], hi[3][4];
    for (int i = 0; i < NR; i++)
        for (int t = 0; t < NT; t++) lo[i][t] = hi[i][t] = vdupq_n_f32(0.0f);
    int64_t c = 0;
    for (; c + 8 <= cols; c += 8) {
        float32x4_t wl[3], wh[3];
        for (int i = 0; i < NR; i++) {
            wl[i] = vld1q_f32(W + i * cols + c);
            wh[i] = vld1q_f32(W + i * cols + c + 4);
        }
        for (int t = 0; t < NT; t++) {
            float32x4_t xl = vld1q_f32(X + t * ldx + c), xh = vld1q_f32(X + t * ldx + c + 4);
            for (int i = 0; i < NR; i++) {
                lo[i][t] = vfmaq_f32(lo[i][t], wl[i], xl);
                hi[i][t] = vfmaq_f32(hi[i][t], wh[i], xh);
            }
        }
    }
    for (int i = 0; i < NR; i++)
        for (int t = 0; t < NT; t++) {
            float tail = 0;
            for (int64_t k = c; k < cols; k++) tail += W[i * cols + k] * X[t * ldx + k];
            float32x4_t v = vaddq_f32(BREAK_TILE(lo[i][t]), hi[i][t]); // [l0+l4, l1+l5, l2+l6, l3+l7]
            float32x2_t p = vadd_f32(vget_low_f32(v), vget_high_f32(v));
            Y[t * ldy + i] = (vget_lane_f32(p, 0) + vget_lane_f32(p, 1)) + tail;
        }
}

TK_NEON void tk__gemm_tile_neon(const float *W, int64_t nr, const float *X, int64_t ldx, int64_t nt, float *Y,
                                int64_t ldy, int64_t cols) {
#define CASE(R, T) \
    case (R) * 4 + (T): tile(W, R, X, ldx, T, Y, ldy, cols); return;
    switch (nr * 4 + nt) {
        CASE(1, 1) CASE(1, 2) CASE(1, 3) CASE(1, 4)
        CASE(2, 1) CASE(2, 2) CASE(2, 3) CASE(2, 4)
        CASE(3, 1) CASE(3, 2) CASE(3, 3) CASE(3, 4)
    default: break;
    }
#undef CASE
}

#endif
