// Quantised GEMV on AArch64: the NEON path (Advanced SIMD, which every AArch64 core has) and the
// dot-product path (FEAT_DotProd's sdot), chosen at run time in gemv_dispatch.c from
// getauxval(AT_HWCAP) as the x86 paths are chosen by CPUID. Same routes as the x86 kernels:
//   Float route, both paths: FP8 E4M3 (codes moved into f16 bit patterns, widened exactly by
//     fcvtl; the 2^-8 this leaves goes back into the scale), Q4_1 (nibbles widened to f32; the m
//     term uses per-call block sums of x), the K-quants Q2_K to Q6_K (codes widened to f32, one
//     scale per sub-block, Q2_K/Q4_K/Q5_K minimums through the same x sums) and IQ4_NL (nibbles
//     through a 16-entry tbl to their int8 values, then widened). Products summed in f32.
//   Integer route: x quantised per 32-value block to int8 (d = amax/127, round to nearest even),
//     weights through a 16-entry tbl to int8 (Q4_0: q - 8; MXFP4 and NVFP4: E2M1 doubled), one
//     integer dot per block: smull/smlal + sadalp on the NEON path, two sdot on the dot-product
//     path (gemv_neon_int.h is compiled once for each). Q8_0 takes x rounded to int16
//     (d = amax/32767) on both paths: weights widened by sxtl, smlal into int32.
// Extra error of the integer route versus exact dequantise-then-dot: at most the sum over x blocks
// of (d_x/2) * sum |w_i| (as tandem_gemv.h states for x86), plus f32 rounding.
//
// Compiled when __aarch64__ is defined, or when a test harness defines TK_NEON_EMULATED and
// includes this file after SIMDe's <simde/arm/neon.h> with native aliases (CTandemKernelsEmulated).
// With TK_TEST_BREAK_LANE defined, every kernel negates one lane of its block dot (or of its
// widened weights): the emulation and qemu tests build that once to show they catch it.
#include "kquants.h"
#include "tandem_gemv.h"
#include "tandem_formats.h"
#include "tk_internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__aarch64__) || defined(TK_NEON_EMULATED)
#ifndef TK_NEON_EMULATED
#include <arm_neon.h>
#endif

#ifdef TK_TEST_BREAK_LANE
#define BREAK_S32(v) vsetq_lane_s32(-vgetq_lane_s32((v), 1), (v), 1)
#define BREAK_F32(v) vsetq_lane_f32(-vgetq_lane_f32((v), 1), (v), 1)
#else
#define BREAK_S32(v) (v)
#define BREAK_F32(v) (v)
#endif

/// An f16 block scale (little-endian, any alignment) as f32.
static inline float f16_at(const uint8_t *p) {
#ifdef TK_NEON_EMULATED
    return tk_f16_to_f32(le16(p));
#else
    __fp16 h;
    memcpy(&h, p, 2);
    return (float)h;
#endif
}

// ---- x quantised per 32-value block, once per call ----

/// 32 values of x (xb) rounded on a symmetric grid of `levels` steps each side of 0: the rounded
/// values (int32, round to nearest even) go to i, the step amax / levels is returned.
TK_NEON static inline float round32(const float *xb, float levels, int32x4_t i[8]) {
    float32x4_t v[8], m = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; k++) {
        v[k] = vld1q_f32(xb + 4 * k);
        m = vmaxq_f32(m, vabsq_f32(v[k]));
    }
    float amax = vmaxvq_f32(m), id = amax > 0.0f ? levels / amax : 0.0f;
    for (int k = 0; k < 8; k++) i[k] = vcvtnq_s32_f32(vmulq_n_f32(v[k], id));
    return amax / levels;
}

/// Scratch for x in int8 (or int16) blocks: on the stack up to 8192 columns, else on the heap.
typedef struct {
    int16_t stack_q[8192] __attribute__((aligned(16))); // int8 use takes the first half's bytes
    float stack_d[256];
    void *q;
    float *d;
    void *heap;
} xscratch;

/// Room for n values (rounded up to 32) of `width` bytes each plus their block steps; -1 if the
/// heap has none.
static int xscratch_init(xscratch *s, int64_t n, size_t width) {
    int64_t padded = (n + 31) / 32 * 32;
    s->heap = NULL;
    if (padded <= 8192) {
        s->q = s->stack_q;
        s->d = s->stack_d;
        return 0;
    }
    s->heap = malloc((size_t)padded * width + (size_t)(padded / 32) * sizeof(float));
    if (!s->heap) return -1;
    s->q = s->heap;
    s->d = (float *)((char *)s->heap + (size_t)padded * width);
    return 0;
}

/// x (n values) → int8 blocks of 32 (the tail block padded with zeros) and one step per block.
/// `deinterleave`: each block stored as its 16 even-indexed values, then its 16 odd ones (NVFP4's
/// byte j holds columns 2j and 2j+1).
TK_NEON void tk__quantize_x8_neon(const float *x, int64_t n, int8_t *xq, float *dx, int deinterleave) {
    for (int64_t b = 0; b < (n + 31) / 32; b++) {
        float tmp[32];
        const float *xb = x + b * 32;
        if (n - b * 32 < 32) {
            memset(tmp, 0, sizeof tmp);
            memcpy(tmp, xb, (size_t)(n - b * 32) * sizeof(float));
            xb = tmp;
        }
        int32x4_t i[8];
        dx[b] = round32(xb, 127.0f, i);
        int16x8_t h[4];
        for (int k = 0; k < 4; k++) h[k] = vcombine_s16(vqmovn_s32(i[2 * k]), vqmovn_s32(i[2 * k + 1]));
        int8x16_t lo = vcombine_s8(vqmovn_s16(h[0]), vqmovn_s16(h[1]));
        int8x16_t hi = vcombine_s8(vqmovn_s16(h[2]), vqmovn_s16(h[3]));
        if (deinterleave) {
            int8x16_t even = vuzp1q_s8(lo, hi), odd = vuzp2q_s8(lo, hi);
            lo = even;
            hi = odd;
        }
        vst1q_s8(xq + b * 32, lo);
        vst1q_s8(xq + b * 32 + 16, hi);
    }
}

// ---- float route: FP8 E4M3 and Q4_1 (both paths) ----

/// 4 E4M3 codes' f16 patterns (s.eeee.mmm → s.0eeee.mmm0000000: the code's value times 2^-8,
/// subnormals included) → f32, exactly.
TK_NEON static inline float32x4_t e4m3_x4(uint16x4_t h) { return vcvt_f32_f16(vreinterpret_f16_u16(h)); }

/// 4 E4M3 codes at p → f32 times 2^-8 (NVFP4's block scales).
TK_NEON static inline float32x4_t e4m3x4_scaled(const uint8_t *p) {
    uint32_t bits;
    memcpy(&bits, p, 4);
    int16x8_t h = vshll_n_s8(vreinterpret_s8_u32(vdup_n_u32(bits)), 7);
    return e4m3_x4(vand_u16(vget_low_u16(vreinterpretq_u16_s16(h)), vdup_n_u16(0xBFFF)));
}

TK_NEON void tk__gemv_fp8_neon(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols;
    // sshll #7 of the sign-extended code puts the sign in bits 15 and 14: clear 14.
    const uint16x8_t keep = vdupq_n_u16(0xBFFF);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *q = (const uint8_t *)w->data + (size_t)r * (size_t)n;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
        int64_t c = 0;
        for (; c + 16 <= n; c += 16) {
            int8x16_t codes = vreinterpretq_s8_u8(vld1q_u8(q + c));
            uint16x8_t h0 = vandq_u16(vreinterpretq_u16_s16(vshll_n_s8(vget_low_s8(codes), 7)), keep);
            uint16x8_t h1 = vandq_u16(vreinterpretq_u16_s16(vshll_n_s8(vget_high_s8(codes), 7)), keep);
            a0 = vfmaq_f32(a0, BREAK_F32(e4m3_x4(vget_low_u16(h0))), vld1q_f32(x + c));
            a1 = vfmaq_f32(a1, vcvt_high_f32_f16(vreinterpretq_f16_u16(h0)), vld1q_f32(x + c + 4));
            a2 = vfmaq_f32(a2, e4m3_x4(vget_low_u16(h1)), vld1q_f32(x + c + 8));
            a3 = vfmaq_f32(a3, vcvt_high_f32_f16(vreinterpretq_f16_u16(h1)), vld1q_f32(x + c + 12));
        }
        float tail = 0.0f;
        for (; c < n; c++) tail += tk_e4m3_f32_table[q[c]] * x[c];
        float s = w->scale * (w->row_scales ? w->row_scales[r] : 1.0f);
        y[r] = (vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3))) * 256.0f + tail) * s;
    }
}

/// 16 bytes of nibbles as f32: values 0-7 and 8-15 of the bytes given, 4 to a register.
TK_NEON static inline void u8x16_f32(uint8x16_t v, float32x4_t f[4]) {
    uint16x8_t l = vmovl_u8(vget_low_u8(v)), h = vmovl_u8(vget_high_u8(v));
    f[0] = vcvtq_f32_u32(vmovl_u16(vget_low_u16(l)));
    f[1] = vcvtq_f32_u32(vmovl_u16(vget_high_u16(l)));
    f[2] = vcvtq_f32_u32(vmovl_u16(vget_low_u16(h)));
    f[3] = vcvtq_f32_u32(vmovl_u16(vget_high_u16(h)));
}

TK_NEON void tk__gemv_q4_1_neon(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t nb = w->cols / 32;
    float stack_s[256], *xs = stack_s; // xs[b]: the sum of block b of x (the m term's factor)
    if (nb > 256 && !(xs = malloc((size_t)nb * sizeof(float)))) return;
    for (int64_t b = 0; b < nb; b++) {
        float32x4_t s = vld1q_f32(x + b * 32);
        for (int k = 1; k < 8; k++) s = vaddq_f32(s, vld1q_f32(x + b * 32 + 4 * k));
        xs[b] = vaddvq_f32(s);
    }
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 20;
        float32x4_t acc = vdupq_n_f32(0.0f);
        float macc = 0.0f;
        for (int64_t b = 0; b < nb; b++, p += 20) {
            const float *xb = x + b * 32;
            uint8x16_t q = vld1q_u8(p + 4);
            float32x4_t lo[4], hi[4];
            u8x16_f32(vandq_u8(q, m4), lo); // values 0-15
            u8x16_f32(vshrq_n_u8(q, 4), hi); // values 16-31
            float32x4_t s0 = vmulq_f32(BREAK_F32(lo[0]), vld1q_f32(xb));
            float32x4_t s1 = vmulq_f32(hi[0], vld1q_f32(xb + 16));
            for (int k = 1; k < 4; k++) {
                s0 = vfmaq_f32(s0, lo[k], vld1q_f32(xb + 4 * k));
                s1 = vfmaq_f32(s1, hi[k], vld1q_f32(xb + 16 + 4 * k));
            }
            acc = vfmaq_n_f32(acc, vaddq_f32(s0, s1), f16_at(p));
            macc += f16_at(p + 2) * xs[b];
        }
        y[r] = vaddvq_f32(acc) + macc;
    }
    if (xs != stack_s) free(xs);
}

// ---- K-quants, float route (both paths) ----

/// The sums of x per `per` values (32 or 16; n a multiple of 256) into `stack` when they fit, else
/// the heap (NULL when it has no room).
TK_NEON static float *kq_block_sums(const float *x, int64_t n, int per, float *stack, int64_t stack_len) {
    const int64_t nb = n / per;
    float *s = nb <= stack_len ? stack : malloc((size_t)nb * sizeof(float));
    if (!s) return NULL;
    for (int64_t b = 0; b < nb; b++) {
        float32x4_t v = vld1q_f32(x + b * per);
        for (int k = 1; k < per / 4; k++) v = vaddq_f32(v, vld1q_f32(x + b * per + 4 * k));
        s[b] = vaddvq_f32(v);
    }
    return s;
}

/// Q4_K (`five` 0) or Q5_K (`five` 1; kquants.c has the layouts): per 32 bytes of nibbles, the low
/// nibbles (sub-block 2g) and the high ones (2g + 1) widened to f32 and multiplied with x, each
/// sub-block's sum scaled by d·sc; the minimums through the per-call sums of x.
TK_NEON static inline __attribute__((always_inline)) void kq45_rows(const tk_weights *w, const float *x, float *y,
                                                                   int64_t rb, int64_t re, const int five) {
    const int64_t n = w->cols, nsb = n / TK_KQ_SUPER, bytes = five ? TK_Q5_K_BYTES : TK_Q4_K_BYTES;
    float stack[512];
    float *xs = kq_block_sums(x, n, 32, stack, 512);
    if (!xs) return;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), one = vdupq_n_u8(1);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nsb * bytes);
        float32x4_t acc = vdupq_n_f32(0.0f);
        float mins = 0.0f;
        for (int64_t s = 0; s < nsb; s++, p += bytes) {
            const float d = f16_at(p), dmin = f16_at(p + 2);
            const uint8_t *scales = p + 4, *qh = p + 16, *qs = p + (five ? 48 : 16);
            const float *xb = x + s * TK_KQ_SUPER, *sums = xs + s * 8;
            for (int g = 0; g < 4; g++) {
                int sc0, m0, sc1, m1;
                tk__kq_scale_min(scales, 2 * g, &sc0, &m0);
                tk__kq_scale_min(scales, 2 * g + 1, &sc1, &m1);
                float32x4_t lo = vdupq_n_f32(0.0f), hi = lo;
                for (int half = 0; half < 2; half++) {
                    const uint8x16_t v = vld1q_u8(qs + 32 * g + 16 * half);
                    uint8x16_t l = vandq_u8(v, m4), h = vshrq_n_u8(v, 4);
                    if (five) { // bit 4 of value j of sub-block i: bit i of qh[j]
                        const uint8x16_t hb = vld1q_u8(qh + 16 * half);
                        l = vorrq_u8(l, vshlq_n_u8(vandq_u8(vshlq_u8(hb, vdupq_n_s8((int8_t)(-2 * g))), one), 4));
                        h = vorrq_u8(h, vshlq_n_u8(vandq_u8(vshlq_u8(hb, vdupq_n_s8((int8_t)(-2 * g - 1))), one), 4));
                    }
                    float32x4_t fl[4], fh[4];
                    u8x16_f32(l, fl);
                    u8x16_f32(h, fh);
                    for (int k = 0; k < 4; k++) {
                        lo = vfmaq_f32(lo, fl[k], vld1q_f32(xb + 64 * g + 16 * half + 4 * k));
                        hi = vfmaq_f32(hi, fh[k], vld1q_f32(xb + 64 * g + 32 + 16 * half + 4 * k));
                    }
                }
                acc = vfmaq_n_f32(acc, BREAK_F32(lo), d * (float)sc0);
                acc = vfmaq_n_f32(acc, hi, d * (float)sc1);
                mins += dmin * (float)m0 * sums[2 * g] + dmin * (float)m1 * sums[2 * g + 1];
            }
        }
        y[r] = vaddvq_f32(acc) - mins;
    }
    if (xs != stack) free(xs);
}

TK_NEON void tk__gemv_q4_k_neon(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    kq45_rows(w, x, y, rb, re, 0);
}

TK_NEON void tk__gemv_q5_k_neon(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    kq45_rows(w, x, y, rb, re, 1);
}

/// Q6_K: per half of 128 values and quarter k of it, the low 4 bits from ql (quarters 0-1: low
/// nibbles of its two 32-byte runs, 2-3: high nibbles), the high 2 bits from qh at bit 2k; q - 32
/// widened to f32; one int8 scale per 16 values.
TK_NEON void tk__gemv_q6_k_neon(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, nsb = n / TK_KQ_SUPER;
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m2 = vdupq_n_u8(3);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nsb * TK_Q6_K_BYTES);
        float32x4_t acc = vdupq_n_f32(0.0f);
        for (int64_t s = 0; s < nsb; s++, p += TK_Q6_K_BYTES) {
            const int8_t *scales = (const int8_t *)(p + 192);
            const float d = f16_at(p + 208);
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = p + 64 * h, *qh = p + 128 + 32 * h;
                for (int k = 0; k < 4; k++) {
                    const uint8_t *lq = ql + 32 * (k & 1);
                    const float *xq = x + s * TK_KQ_SUPER + 128 * h + 32 * k;
                    for (int j = 0; j < 2; j++) { // one 16-value sub-block
                        const uint8x16_t lv = vld1q_u8(lq + 16 * j), hv = vld1q_u8(qh + 16 * j);
                        const uint8x16_t low = k >= 2 ? vshrq_n_u8(lv, 4) : vandq_u8(lv, m4);
                        const uint8x16_t high = vandq_u8(vshlq_u8(hv, vdupq_n_s8((int8_t)(-2 * k))), m2);
                        const int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(low, vshlq_n_u8(high, 4))), vdupq_n_s8(32));
                        const int16x8_t q0 = vmovl_s8(vget_low_s8(q)), q1 = vmovl_s8(vget_high_s8(q));
                        float32x4_t a = vmulq_f32(BREAK_F32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(q0)))), vld1q_f32(xq + 16 * j));
                        a = vfmaq_f32(a, vcvtq_f32_s32(vmovl_s16(vget_high_s16(q0))), vld1q_f32(xq + 16 * j + 4));
                        a = vfmaq_f32(a, vcvtq_f32_s32(vmovl_s16(vget_low_s16(q1))), vld1q_f32(xq + 16 * j + 8));
                        a = vfmaq_f32(a, vcvtq_f32_s32(vmovl_s16(vget_high_s16(q1))), vld1q_f32(xq + 16 * j + 12));
                        acc = vfmaq_n_f32(acc, a, d * (float)scales[8 * h + 2 * k + j]);
                    }
                }
            }
        }
        y[r] = vaddvq_f32(acc);
    }
}

/// 16 signed codes (-128..127) times 16 values of x, summed into four lanes.
TK_NEON static inline float32x4_t s8x16_dot(int8x16_t q, const float *xq) {
    const int16x8_t q0 = vmovl_s8(vget_low_s8(q)), q1 = vmovl_s8(vget_high_s8(q));
    float32x4_t a = vmulq_f32(BREAK_F32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(q0)))), vld1q_f32(xq));
    a = vfmaq_f32(a, vcvtq_f32_s32(vmovl_s16(vget_high_s16(q0))), vld1q_f32(xq + 4));
    a = vfmaq_f32(a, vcvtq_f32_s32(vmovl_s16(vget_low_s16(q1))), vld1q_f32(xq + 8));
    return vfmaq_f32(a, vcvtq_f32_s32(vmovl_s16(vget_high_s16(q1))), vld1q_f32(xq + 12));
}

/// Q2_K (kquants.c): per half h of 128 values and 2-bit plane j, two 16-value sub-blocks
/// i = 8h + 2j + k, codes widened to f32, scaled by d·(s[i] & 15); the minimums
/// dmin·(s[i] >> 4) through per-call sums of x per 16 values.
TK_NEON void tk__gemv_q2_k_neon(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, nsb = n / TK_KQ_SUPER;
    float stack[1024];
    float *xs = kq_block_sums(x, n, 16, stack, 1024);
    if (!xs) return;
    const uint8x16_t m2 = vdupq_n_u8(3);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nsb * TK_Q2_K_BYTES);
        float32x4_t acc = vdupq_n_f32(0.0f);
        float mins = 0.0f;
        for (int64_t s = 0; s < nsb; s++, p += TK_Q2_K_BYTES) {
            const uint8_t *scales = p, *qs = p + 16;
            const float d = f16_at(p + 80), dmin = f16_at(p + 82);
            const float *sums = xs + s * 16;
            for (int h = 0; h < 2; h++) {
                for (int j = 0; j < 4; j++) {
                    for (int k = 0; k < 2; k++) {
                        const int i = 8 * h + 2 * j + k;
                        const uint8x16_t v = vld1q_u8(qs + 32 * h + 16 * k);
                        const uint8x16_t q = vandq_u8(vshlq_u8(v, vdupq_n_s8((int8_t)(-2 * j))), m2);
                        const float32x4_t a = s8x16_dot(vreinterpretq_s8_u8(q), x + s * TK_KQ_SUPER + 128 * h + 32 * j + 16 * k);
                        acc = vfmaq_n_f32(acc, a, d * (float)(scales[i] & 15));
                        mins += dmin * (float)(scales[i] >> 4) * sums[i];
                    }
                }
            }
        }
        y[r] = vaddvq_f32(acc) - mins;
    }
    if (xs != stack) free(xs);
}

/// Q3_K: Q2_K's codes plus bit 2 from hmask (bit 4h + j of hmask[l], stored inverted:
/// q = low + 4·bit − 4), one signed 6-bit scale per 16 values.
TK_NEON void tk__gemv_q3_k_neon(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, nsb = n / TK_KQ_SUPER;
    const uint8x16_t m2 = vdupq_n_u8(3), one = vdupq_n_u8(1);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nsb * TK_Q3_K_BYTES);
        float32x4_t acc = vdupq_n_f32(0.0f);
        for (int64_t s = 0; s < nsb; s++, p += TK_Q3_K_BYTES) {
            const uint8_t *hmask = p, *qs = p + 32, *scales = p + 96;
            const float d = f16_at(p + 108);
            for (int h = 0; h < 2; h++) {
                for (int j = 0; j < 4; j++) {
                    for (int k = 0; k < 2; k++) {
                        const int i = 8 * h + 2 * j + k;
                        const uint8x16_t v = vld1q_u8(qs + 32 * h + 16 * k), hv = vld1q_u8(hmask + 16 * k);
                        const uint8x16_t low = vandq_u8(vshlq_u8(v, vdupq_n_s8((int8_t)(-2 * j))), m2);
                        const uint8x16_t hb = vandq_u8(vshlq_u8(hv, vdupq_n_s8((int8_t)(-(4 * h + j)))), one);
                        const int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(low, vshlq_n_u8(hb, 2))), vdupq_n_s8(4));
                        const float32x4_t a = s8x16_dot(q, x + s * TK_KQ_SUPER + 128 * h + 32 * j + 16 * k);
                        acc = vfmaq_n_f32(acc, a, d * (float)tk__q3_k_scale(scales, i));
                    }
                }
            }
        }
        y[r] = vaddvq_f32(acc);
    }
}

/// IQ4_NL: the nibbles through a 16-entry tbl to their int8 values, widened to f32 and dotted with
/// x, scaled by d per 32-value block.
TK_NEON void tk__gemv_iq4_nl_neon(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t nb = w->cols / 32;
    const int8x16_t table = vld1q_s8(tk__iq4nl_values);
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nb * TK_IQ4_NL_BYTES);
        float32x4_t acc = vdupq_n_f32(0.0f);
        for (int64_t b = 0; b < nb; b++, p += TK_IQ4_NL_BYTES) {
            const uint8x16_t v = vld1q_u8(p + 2);
            const float *xb = x + b * 32;
            float32x4_t a = s8x16_dot(vqtbl1q_s8(table, vandq_u8(v, m4)), xb);
            a = vaddq_f32(a, s8x16_dot(vqtbl1q_s8(table, vshrq_n_u8(v, 4)), xb + 16));
            acc = vfmaq_n_f32(acc, a, f16_at(p));
        }
        y[r] = vaddvq_f32(acc);
    }
}

// ---- Q8_0 with int16 activations (both paths) ----

TK_NEON static inline int32x4_t q8_block_dot16(const int8_t *qs, const int16_t *xq) {
    int8x16_t w0 = vld1q_s8(qs), w1 = vld1q_s8(qs + 16);
    int16x8_t wa = vmovl_s8(vget_low_s8(w0)), wb = vmovl_s8(vget_high_s8(w0));
    int16x8_t wc = vmovl_s8(vget_low_s8(w1)), wd = vmovl_s8(vget_high_s8(w1));
    int16x8_t x0 = vld1q_s16(xq), x1 = vld1q_s16(xq + 8), x2 = vld1q_s16(xq + 16), x3 = vld1q_s16(xq + 24);
    // Two chains of 4 products per lane: each at most 4 x 127 x 32767 < 2^24.
    int32x4_t s = vmull_s16(vget_low_s16(wa), vget_low_s16(x0));
    s = vmlal_s16(s, vget_high_s16(wa), vget_high_s16(x0));
    s = vmlal_s16(s, vget_low_s16(wb), vget_low_s16(x1));
    s = vmlal_s16(s, vget_high_s16(wb), vget_high_s16(x1));
    int32x4_t t = vmull_s16(vget_low_s16(wc), vget_low_s16(x2));
    t = vmlal_s16(t, vget_high_s16(wc), vget_high_s16(x2));
    t = vmlal_s16(t, vget_low_s16(wd), vget_low_s16(x3));
    t = vmlal_s16(t, vget_high_s16(wd), vget_high_s16(x3));
    return BREAK_S32(vaddq_s32(s, t));
}

/// x (n values, a multiple of 32) → int16 blocks of 32 and one step per block.
TK_NEON void tk__quantize_x16_neon(const float *x, int64_t n, int16_t *xq, float *dx) {
    for (int64_t b = 0; b < n / 32; b++) {
        int32x4_t i[8];
        dx[b] = round32(x + b * 32, 32767.0f, i);
        for (int k = 0; k < 4; k++)
            vst1q_s16(xq + b * 32 + 8 * k, vcombine_s16(vqmovn_s32(i[2 * k]), vqmovn_s32(i[2 * k + 1])));
    }
}

TK_NEON void tk__gemv_q8_0_int16_neon(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, nb = n / 32;
    xscratch s;
    if (xscratch_init(&s, n, sizeof(int16_t))) return;
    int16_t *xq = s.q;
    tk__quantize_x16_neon(x, n, xq, s.d);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 34;
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2, p += 68) {
            int32x4_t d0 = q8_block_dot16((const int8_t *)(p + 2), xq + b * 32);
            int32x4_t d1 = q8_block_dot16((const int8_t *)(p + 36), xq + b * 32 + 32);
            a0 = vfmaq_n_f32(a0, vcvtq_f32_s32(d0), f16_at(p) * s.d[b]);
            a1 = vfmaq_n_f32(a1, vcvtq_f32_s32(d1), f16_at(p + 34) * s.d[b + 1]);
        }
        if (b < nb)
            a0 = vfmaq_n_f32(a0, vcvtq_f32_s32(q8_block_dot16((const int8_t *)(p + 2), xq + b * 32)),
                             f16_at(p) * s.d[b]);
        y[r] = vaddvq_f32(vaddq_f32(a0, a1));
    }
    free(s.heap);
}

// ---- integer route for the 4-bit formats: one instantiation per path ----

/// The 32-byte dot of the NEON path: lane k = sum of w0*x0 + w1*x1 over bytes 4k..4k+3
/// (int16 partial sums: at most 4 products of |w| <= 12 and |x| <= 127 each).
TK_NEON static inline int32x4_t dot32_neon(int8x16_t w0, int8x16_t x0, int8x16_t w1, int8x16_t x1) {
    int16x8_t a = vmull_s8(vget_low_s8(w0), vget_low_s8(x0));
    a = vmlal_s8(a, vget_low_s8(w1), vget_low_s8(x1));
    int16x8_t b = vmull_s8(vget_high_s8(w0), vget_high_s8(x0));
    b = vmlal_s8(b, vget_high_s8(w1), vget_high_s8(x1));
    return vpaddq_s32(vpaddlq_s16(a), vpaddlq_s16(b));
}

/// The same sum with FEAT_DotProd: two sdot.
TK_DOTPROD static inline int32x4_t dot32_sdot(int8x16_t w0, int8x16_t x0, int8x16_t w1, int8x16_t x1) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
}

/// E2M1 doubled (so every value is an integer; the scales take the 1/2), by code.
static const int8_t e2m1_x2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
/// Q4_0's nibble minus 8, by nibble.
static const int8_t q4_0_minus8[16] = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};

#define TK_NI_TARGET TK_NEON
#define TK_NI_DOT dot32_neon
#define TK_NI_NAME(f) f##_neon
#include "gemv_neon_int.h"
#undef TK_NI_TARGET
#undef TK_NI_DOT
#undef TK_NI_NAME

#define TK_NI_TARGET TK_DOTPROD
#define TK_NI_DOT dot32_sdot
#define TK_NI_NAME(f) f##_dot
#include "gemv_neon_int.h"
#undef TK_NI_TARGET
#undef TK_NI_DOT
#undef TK_NI_NAME

#endif
