// The GEMM's integer route (tandem_gemm.h) on AArch64: Q8_0, Q4_0, MXFP4 and NVFP4 weights times
// quantised activations on the NEON and dot-product paths, for prefill chunks and decode steps of
// several sequences, as gemm_int8.c does on x86-64.
//
// Activations: each token is quantised once per call by the GEMV's own quantisers (gemv_neon.c,
// tk__quantize_x8_neon and tk__quantize_x16_neon), so a speculative verification rounds a token
// exactly as a plain decode's GEMV does: int8 (d = amax/127) for the 4-bit formats, int16
// (d = amax/32767) for Q8_0. Q4_1 and FP8 stay on the float route, as their Arm GEMVs.
//
// Weights: a panel of 16 rows is repacked once per call, per group of 8 rows:
//   int8 (Q4_0: q - 8; MXFP4, NVFP4: 2 x E2M1, the scales take the 1/2): per 4 columns one
//     32-byte step, bytes 0-15 rows 0-3 and bytes 16-31 rows 4-7, dword r = that row's 4 values.
//     One sdot by element (vdotq_laneq_s32, lane k = the token's 4 activations) adds 4 products
//     to each of 4 rows; the NEON path does the same with smull, saddlp and addp.
//   int8 with FEAT_I8MM (the dot-product path on a CPU that has it, e.g. Grace): per 8 columns,
//     four 16-byte vectors of row pairs (rows 2p, 2p+1: 8 bytes each); one smmla with a token
//     pair's 8 activations each adds a 2 x 2 block of sums, 32 products per instruction against
//     sdot's 16. Its sums, scales and order are those of the sdot kernel, so the two give the same
//     bits.
//   int16 (Q8_0): per column one 16-byte step, int16 r = row r's value; smlal by element
//     (vmlal_laneq_s16) adds one product to each of 4 rows.
// A block's 8 row sums come out one per lane, scaled by one multiply and one FMA per 4 rows; no
// offsets (the values are signed, unlike x86's vpdpbusd bytes).
// Tiles: 8 rows x up to 4 tokens (32 vector registers: 8 int32 sums, 8 f32 sums, 4 x, 2 w). Each
// (row, token) is summed block by block in one order whatever the tile, the batch or the thread
// split, so a token's outputs do not depend on which other tokens share the call.
// Error against exact dequantise-then-dot: as tk_gemv's integer route, at most the sum over blocks
// of (d_x/2) sum |w_i| plus f32 rounding of one multiply-add per block.
//
// Compiled when __aarch64__ is defined, or inside the SIMDe harness (TK_NEON_EMULATED); with
// TK_TEST_BREAK_LANE every kernel negates one lane of its block sums.
#include "tandem_gemm.h"
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
#define GI_BREAK(v) vsetq_lane_s32(-vgetq_lane_s32((v), 1), (v), 1)
#define GI_BREAK0(v) vsetq_lane_s32(-vgetq_lane_s32((v), 0), (v), 0)
#else
#define GI_BREAK(v) (v)
#define GI_BREAK0(v) (v)
#endif

/// Rows repacked together (two 8-row groups).
#define GI_PANEL_ROWS 16
/// Activation bytes multiplied with one panel before moving on (about half an L2).
#define GI_TOKEN_BLOCK_BYTES (512 * 1024)

typedef struct {
    int sb; ///< values per weight scale (32; NVFP4 16)
    int es; ///< bytes per activation and repacked weight: 1 (int8) or 2 (int16)
} gi_format;

static int gi_format_of(tk_type type, gi_format *f) {
    switch (type) {
    case TK_Q8_0: *f = (gi_format){32, 2}; return 0;
    case TK_Q4_0:
    case TK_MXFP4: *f = (gi_format){32, 1}; return 0;
    case TK_NVFP4: *f = (gi_format){16, 1}; return 0;
    default: return -1; // Q4_1, FP8 and the float types: the float route, as their Arm GEMVs
    }
}

int tk__gemm_int_route(tk_gemv_path path, tk_type type) {
    gi_format f;
    if (gi_format_of(type, &f)) return 0;
    return path == TK_PATH_NEON || path == TK_PATH_DOTPROD ? 8 * f.es : 0;
}

/// An f16 value (little-endian, any alignment) as f32.
static inline float gi_f16(const uint8_t *p) { return tk_f16_to_f32(le16(p)); }

/// E2M1 doubled (every value an integer; the scales take the 1/2), and Q4_0's nibble minus 8.
static const int8_t gi_e2m1_x2[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
static const int8_t gi_q4_0[16] = {-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7};

// ---- activations ----

void tk__gemm_xq_free(tk__gemm_xq *xq) {
    free(xq->heap);
    xq->heap = NULL;
}

TK_NEON int tk__gemm_xq_init(tk_type type, const float *x, int64_t ldx, int64_t n, int64_t cols, tk__gemm_xq *xq) {
    gi_format f;
    memset(xq, 0, sizeof *xq);
    if (gi_format_of(type, &f)) return -1;
    const int64_t cp = (cols + 31) / 32 * 32, nb = cp / 32;
    xq->cp = cp;
    xq->nb = nb;
    xq->nsb = cp / f.sb;
    xq->es = f.es;
    const size_t qb = (size_t)(n * cp * f.es + 63) / 64 * 64, total = qb + (size_t)(n * nb) * sizeof(float);
    xq->heap = aligned_alloc(64, (total + 63) / 64 * 64);
    if (!xq->heap) return -1;
    xq->q = xq->heap;
    xq->dx = (float *)((char *)xq->heap + qb);
    for (int64_t t = 0; t < n; t++) {
        if (f.es == 1) tk__quantize_x8_neon(x + t * ldx, cols, (int8_t *)xq->q + t * cp, xq->dx + t * nb, 0);
        else tk__quantize_x16_neon(x + t * ldx, cols, (int16_t *)xq->q + t * cp, xq->dx + t * nb);
    }
    return 0;
}

// ---- weights: the interleaved panel ----

typedef struct {
    uint8_t *u; ///< groups x (cp x 8 x es) bytes
    float *s;   ///< groups x nsb x 8 scales
} gi_panel;

static _Thread_local void *gi_panel_mem;
static _Thread_local size_t gi_panel_bytes;

static int gi_panel_alloc(gi_panel *p, int64_t groups, int64_t cp, int64_t es, int64_t nsb) {
    const size_t ub = (size_t)(groups * cp * 8 * es), total = ub + (size_t)(groups * nsb * 8) * sizeof(float);
    if (gi_panel_bytes < total) {
        free(gi_panel_mem);
        gi_panel_mem = aligned_alloc(64, (total + 63) / 64 * 64);
        gi_panel_bytes = gi_panel_mem ? total : 0;
        if (!gi_panel_mem) return -1;
    }
    p->u = gi_panel_mem;
    p->s = (float *)((char *)gi_panel_mem + ub);
    return 0;
}

/// An int8 format's row chunk c (32 columns) as signed values in column order (lo: 0-15, hi:
/// 16-31) and its scales (s[1]: NVFP4's second 16-column block). `type` is constant per caller.
TK_NEON static inline __attribute__((always_inline)) void gi_chunk8(tk_type type, const tk_weights *w,
                                                                   const uint8_t *row, const uint8_t *scales,
                                                                   int64_t c, int8x16_t *lo, int8x16_t *hi,
                                                                   float s[2]) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    if (type == TK_NVFP4) { // byte j: column 2j low, 2j + 1 high; a last lone 16-column block reads 8 bytes
        const uint8_t *p = row + c * 16, *sc = scales + c * 2;
        const int two = (c + 1) * 32 <= w->cols;
        s[0] = tk_e4m3_f32_table[sc[0]] * 0.5f * w->scale;
        s[1] = two ? tk_e4m3_f32_table[sc[1]] * 0.5f * w->scale : 0.0f;
        const int8x16_t t = vld1q_s8(gi_e2m1_x2);
        const uint8x16_t v = two ? vld1q_u8(p) : vcombine_u8(vld1_u8(p), vdup_n_u8(0));
        const int8x16_t l = vqtbl1q_s8(t, vandq_u8(v, m4)), h = vqtbl1q_s8(t, vshrq_n_u8(v, 4));
        *lo = vzip1q_s8(l, h);
        *hi = vzip2q_s8(l, h);
        return;
    }
    // Q4_0 (18-byte blocks, f16 scale) and MXFP4 (17 bytes, E8M0 scale): value j in the low nibble
    // of byte j, value j + 16 in the high one.
    const int mx = type == TK_MXFP4;
    const uint8_t *p = row + c * (mx ? 17 : 18);
    s[0] = mx ? tk_e8m0_f32_table[p[0]] * 0.5f : gi_f16(p);
    const int8x16_t t = vld1q_s8(mx ? gi_e2m1_x2 : gi_q4_0);
    const uint8x16_t v = vld1q_u8(p + (mx ? 1 : 2));
    *lo = vqtbl1q_s8(t, vandq_u8(v, m4));
    *hi = vqtbl1q_s8(t, vshrq_n_u8(v, 4));
}

/// v[r]: row r's 4 dwords (r = 0..3); dword k of the 4 rows goes to out + 32 k.
TK_NEON static inline void gi_transpose4(const int32x4_t v[4], uint8_t *out) {
    const int64x2_t t0 = vreinterpretq_s64_s32(vtrn1q_s32(v[0], v[1])), t1 = vreinterpretq_s64_s32(vtrn2q_s32(v[0], v[1]));
    const int64x2_t t2 = vreinterpretq_s64_s32(vtrn1q_s32(v[2], v[3])), t3 = vreinterpretq_s64_s32(vtrn2q_s32(v[2], v[3]));
    vst1q_u8(out, vreinterpretq_u8_s64(vtrn1q_s64(t0, t2)));
    vst1q_u8(out + 32, vreinterpretq_u8_s64(vtrn1q_s64(t1, t3)));
    vst1q_u8(out + 64, vreinterpretq_u8_s64(vtrn2q_s64(t0, t2)));
    vst1q_u8(out + 96, vreinterpretq_u8_s64(vtrn2q_s64(t1, t3)));
}

/// v[r]: row r's 8 int16 values (r = 0..7); column k of the 8 rows goes to out + 16 k.
TK_NEON static inline void gi_transpose8(const int16x8_t v[8], uint8_t *out) {
    int16x8_t t[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = vtrn1q_s16(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = vtrn2q_s16(v[2 * i], v[2 * i + 1]);
    }
    int32x4_t u[8];
    for (int h = 0; h < 2; h++) { // rows 0-3, rows 4-7
        const int32x4_t a = vreinterpretq_s32_s16(t[4 * h]), b = vreinterpretq_s32_s16(t[4 * h + 1]);
        const int32x4_t c = vreinterpretq_s32_s16(t[4 * h + 2]), d = vreinterpretq_s32_s16(t[4 * h + 3]);
        u[4 * h + 0] = vtrn1q_s32(a, c); // columns 0 and 4
        u[4 * h + 1] = vtrn1q_s32(b, d); // 1 and 5
        u[4 * h + 2] = vtrn2q_s32(a, c); // 2 and 6
        u[4 * h + 3] = vtrn2q_s32(b, d); // 3 and 7
    }
    for (int k = 0; k < 4; k++) {
        const int64x2_t lo = vreinterpretq_s64_s32(u[k]), hi = vreinterpretq_s64_s32(u[4 + k]);
        vst1q_u8(out + 16 * k, vreinterpretq_u8_s64(vtrn1q_s64(lo, hi)));
        vst1q_u8(out + 16 * (k + 4), vreinterpretq_u8_s64(vtrn2q_s64(lo, hi)));
    }
}

/// Rows [r0, r0 + 8) (those below re; the rest zero) into group g of the panel.
TK_NEON static inline __attribute__((always_inline)) void gi_repack_as(tk_type type, const tk_weights *w, int64_t r0,
                                                                      int64_t re, const tk__gemm_xq *xq,
                                                                      const gi_panel *p, int64_t g, int mm) {
    const int es = type == TK_Q8_0 ? 2 : 1, per = type == TK_NVFP4 ? 2 : 1;
    const int64_t cp = xq->cp, nb = xq->nb, nsb = xq->nsb;
    uint8_t *U = p->u + g * cp * 8 * es;
    float *S = p->s + g * nsb * 8;
    const size_t rbytes = tk_row_bytes(w->format, w->cols);
    const int valid = re - r0 < 8 ? (int)(re - r0) : 8;
    const uint8_t *rows[8], *scales[8];
    for (int i = 0; i < 8; i++) {
        rows[i] = (const uint8_t *)w->data + (size_t)(r0 + i) * rbytes;
        scales[i] = w->block_scales ? w->block_scales + (size_t)(r0 + i) * (size_t)(w->cols / 16) : NULL;
    }
    for (int64_t c = 0; c < nb; c++) {
        if (es == 2) { // Q8_0: 34-byte blocks, f16 scale, 32 int8 values
            int16x8_t v[4][8];
            for (int i = 0; i < 8; i++) {
                if (i < valid) {
                    const uint8_t *b = rows[i] + c * 34;
                    const int8x16_t q0 = vld1q_s8((const int8_t *)b + 2), q1 = vld1q_s8((const int8_t *)b + 18);
                    v[0][i] = vmovl_s8(vget_low_s8(q0));
                    v[1][i] = vmovl_s8(vget_high_s8(q0));
                    v[2][i] = vmovl_s8(vget_low_s8(q1));
                    v[3][i] = vmovl_s8(vget_high_s8(q1));
                    S[c * 8 + i] = gi_f16(b);
                } else {
                    v[0][i] = v[1][i] = v[2][i] = v[3][i] = vdupq_n_s16(0);
                    S[c * 8 + i] = 0.0f;
                }
            }
            for (int j = 0; j < 4; j++) gi_transpose8(v[j], U + c * 512 + j * 128);
            continue;
        }
        int32x4_t lo[8], hi[8];
        for (int i = 0; i < 8; i++) {
            float s[2] = {0.0f, 0.0f};
            if (i < valid) {
                int8x16_t l, h;
                gi_chunk8(type, w, rows[i], scales[i], c, &l, &h, s);
                lo[i] = vreinterpretq_s32_s8(l);
                hi[i] = vreinterpretq_s32_s8(h);
            } else {
                lo[i] = hi[i] = vdupq_n_s32(0);
            }
            for (int j = 0; j < per; j++) S[(c * per + j) * 8 + i] = s[j];
        }
        uint8_t *out = U + c * 256;
        if (mm) { // columns 8k..8k+7: row pair p (8 bytes each) at out + 64 k + 16 p
            for (int q = 0; q < 4; q++) {
                const int64x2_t a = vreinterpretq_s64_s32(lo[2 * q]), b = vreinterpretq_s64_s32(lo[2 * q + 1]);
                const int64x2_t c2 = vreinterpretq_s64_s32(hi[2 * q]), d2 = vreinterpretq_s64_s32(hi[2 * q + 1]);
                vst1q_u8(out + 16 * q, vreinterpretq_u8_s64(vzip1q_s64(a, b)));
                vst1q_u8(out + 64 + 16 * q, vreinterpretq_u8_s64(vzip2q_s64(a, b)));
                vst1q_u8(out + 128 + 16 * q, vreinterpretq_u8_s64(vzip1q_s64(c2, d2)));
                vst1q_u8(out + 192 + 16 * q, vreinterpretq_u8_s64(vzip2q_s64(c2, d2)));
            }
            continue;
        }
        // columns 4k..4k+3: rows 0-3 at out + 32 k, rows 4-7 at + 16
        gi_transpose4(lo, out);
        gi_transpose4(lo + 4, out + 16);
        gi_transpose4(hi, out + 128);
        gi_transpose4(hi + 4, out + 144);
    }
}

/// `mm`: the row-pair layout of the smmla kernel (int8 formats only).
TK_NEON static void gi_repack(const tk_weights *w, int64_t r0, int64_t re, const tk__gemm_xq *xq, const gi_panel *p,
                              int64_t g, int mm) {
    switch (w->format) {
    case TK_Q8_0: gi_repack_as(TK_Q8_0, w, r0, re, xq, p, g, 0); break;
    case TK_Q4_0: gi_repack_as(TK_Q4_0, w, r0, re, xq, p, g, mm); break;
    case TK_MXFP4: gi_repack_as(TK_MXFP4, w, r0, re, xq, p, g, mm); break;
    default: gi_repack_as(TK_NVFP4, w, r0, re, xq, p, g, mm); break;
    }
}

// ---- kernels: 8 rows x T tokens ----

/// The NEON path's sdot by element: acc lane r += the dot of w's dword r with x's dword `lane`
/// (products at most 12 x 127, so smull's int16 lanes and their pair sums cannot overflow).
TK_NEON static inline int32x4_t gi_lanedot_neon(int32x4_t acc, int8x16_t w, int8x16_t xb) {
    const int16x8_t lo = vmull_s8(vget_low_s8(w), vget_low_s8(xb)), hi = vmull_high_s8(w, xb);
    return vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)));
}
#define GI_DOT_NEON(acc, w, x, lane) \
    acc = gi_lanedot_neon(acc, w, vreinterpretq_s8_s32(vdupq_laneq_s32(vreinterpretq_s32_s8(x), lane)))
#define GI_DOT_SDOT(acc, w, x, lane) acc = vdotq_laneq_s32(acc, w, x, lane)

/// Step k of 4 (columns 4k..4k+3 of a 16-column x vector) for T tokens: rows 0-3 and 4-7.
#define GI_STEP8(DOT, k)                                                              \
    do {                                                                              \
        const int8x16_t w0 = vld1q_s8(Wq + 32 * (k)), w1 = vld1q_s8(Wq + 32 * (k) + 16); \
        for (int t = 0; t < T; t++) {                                                 \
            DOT(a[0][t], w0, x[t], k);                                                \
            DOT(a[1][t], w1, x[t], k);                                                \
        }                                                                             \
    } while (0)
/// Column m of 8 (lane m of an int16 x vector) for T tokens.
#define GI_STEP16(m)                                                                  \
    do {                                                                              \
        const int16x8_t wv = vld1q_s16(Wj + 8 * (m));                                 \
        for (int t = 0; t < T; t++) {                                                 \
            a[0][t] = vmlal_laneq_s16(a[0][t], vget_low_s16(wv), x[t], m);            \
            a[1][t] = vmlal_laneq_s16(a[1][t], vget_high_s16(wv), x[t], m);           \
        }                                                                             \
    } while (0)

/// f (rows 0-3, 4-7 per token) += the block sums a, times the rows' scales ws and the token's step.
#define GI_SCALE(s)                                                                                  \
    do {                                                                                             \
        const float32x4_t ws0 = vld1q_f32(S + (s) * 8), ws1 = vld1q_f32(S + (s) * 8 + 4);            \
        for (int t = 0; t < T; t++) {                                                                \
            const float d = xq->dx[(t0 + t) * nb + (s) / per];                                       \
            f[0][t] = vfmaq_f32(f[0][t], vcvtq_f32_s32(GI_BREAK(a[0][t])), vmulq_n_f32(ws0, d));     \
            f[1][t] = vfmaq_f32(f[1][t], vcvtq_f32_s32(a[1][t]), vmulq_n_f32(ws1, d));               \
        }                                                                                            \
    } while (0)

/// Y rows 0..nr-1 (of 8) of tokens t0..t0+T-1.
#define GI_STORE()                                                                                   \
    for (int t = 0; t < T; t++) {                                                                    \
        float *yt = y + (t0 + t) * ldy, tmp[8];                                                      \
        if (nr == 8) {                                                                               \
            vst1q_f32(yt, f[0][t]);                                                                  \
            vst1q_f32(yt + 4, f[1][t]);                                                              \
        } else {                                                                                     \
            vst1q_f32(tmp, f[0][t]);                                                                 \
            vst1q_f32(tmp + 4, f[1][t]);                                                             \
            memcpy(yt, tmp, (size_t)nr * sizeof(float));                                             \
        }                                                                                            \
    }

/// The int8 tile on one path (TARGET, DOT): SB values per scale (32 or 16), T ≤ 4 tokens.
#define GI_DEFINE_TILE8(NAME, TARGET, DOT)                                                           \
    TARGET static inline __attribute__((always_inline)) void NAME(                                   \
        const uint8_t *U, const float *S, const tk__gemm_xq *xq, int64_t t0, const int T, const int SB, \
        float *y, int64_t ldy, int64_t nr) {                                                         \
        const int64_t nsb = xq->nsb, cp = xq->cp, nb = xq->nb, per = 32 / SB;                        \
        float32x4_t f[2][4];                                                                         \
        const int8_t *xs[4];                                                                         \
        for (int t = 0; t < T; t++) {                                                                \
            f[0][t] = f[1][t] = vdupq_n_f32(0.0f);                                                   \
            xs[t] = (const int8_t *)xq->q + (t0 + t) * cp;                                           \
        }                                                                                            \
        for (int64_t s = 0; s < nsb; s++) {                                                          \
            int32x4_t a[2][4];                                                                       \
            for (int t = 0; t < T; t++) a[0][t] = a[1][t] = vdupq_n_s32(0);                          \
            for (int q = 0; q < SB / 16; q++) {                                                      \
                const int8_t *Wq = (const int8_t *)U + s * SB * 8 + q * 128;                         \
                int8x16_t x[4];                                                                      \
                for (int t = 0; t < T; t++) x[t] = vld1q_s8(xs[t] + s * SB + 16 * q);                \
                GI_STEP8(DOT, 0);                                                                    \
                GI_STEP8(DOT, 1);                                                                    \
                GI_STEP8(DOT, 2);                                                                    \
                GI_STEP8(DOT, 3);                                                                    \
            }                                                                                        \
            GI_SCALE(s);                                                                             \
        }                                                                                            \
        GI_STORE()                                                                                   \
    }

GI_DEFINE_TILE8(gi_tile8_neon, TK_NEON, GI_DOT_NEON)
GI_DEFINE_TILE8(gi_tile8_sdot, TK_DOTPROD, GI_DOT_SDOT)

/// The int8 tile with smmla: rows in 4 pairs x tokens in pairs (T ≤ 4; an odd last token is paired
/// with zeros). a[p][q] = [r t, r t', r' t, r' t'] for rows r = 2p, r' = 2p + 1 and tokens t = 2q,
/// t' = 2q + 1; each lane scaled by its row's scale times its token's step, as the sdot tile does.
TK_I8MM static inline __attribute__((always_inline)) void gi_tile8_mmla(const uint8_t *U, const float *S,
                                                                       const tk__gemm_xq *xq, int64_t t0, const int T,
                                                                       const int SB, float *y, int64_t ldy, int64_t nr) {
    const int64_t nsb = xq->nsb, cp = xq->cp, nb = xq->nb, per = 32 / SB;
    const int P = (T + 1) / 2;
    float32x4_t f[4][2];
    const int8_t *xs[4];
    for (int t = 0; t < 4; t++) xs[t] = t < T ? (const int8_t *)xq->q + (t0 + t) * cp : NULL;
    for (int p = 0; p < 4; p++) f[p][0] = f[p][1] = vdupq_n_f32(0.0f);
    for (int64_t s = 0; s < nsb; s++) {
        int32x4_t a[4][2];
        for (int p = 0; p < 4; p++) a[p][0] = a[p][1] = vdupq_n_s32(0);
        for (int k = 0; k < SB / 8; k++) {
            const int8_t *Wk = (const int8_t *)U + s * SB * 8 + k * 64;
            int8x16_t w[4];
            for (int p = 0; p < 4; p++) w[p] = vld1q_s8(Wk + 16 * p);
            for (int q = 0; q < P; q++) {
                const int8x8_t x0 = vld1_s8(xs[2 * q] + s * SB + 8 * k);
                const int8x8_t x1 = 2 * q + 1 < T ? vld1_s8(xs[2 * q + 1] + s * SB + 8 * k) : vdup_n_s8(0);
                const int8x16_t xv = vcombine_s8(x0, x1);
                for (int p = 0; p < 4; p++) a[p][q] = vmmlaq_s32(a[p][q], w[p], xv);
            }
        }
        const float32x4_t ws0 = vld1q_f32(S + s * 8), ws1 = vld1q_f32(S + s * 8 + 4);
        const float32x4_t wp[4] = {vzip1q_f32(ws0, ws0), vzip2q_f32(ws0, ws0), vzip1q_f32(ws1, ws1), vzip2q_f32(ws1, ws1)};
        for (int q = 0; q < P; q++) {
            const float d0 = xq->dx[(t0 + 2 * q) * nb + s / per];
            const float d1 = 2 * q + 1 < T ? xq->dx[(t0 + 2 * q + 1) * nb + s / per] : 0.0f;
            const float32x2_t dd = vset_lane_f32(d1, vdup_n_f32(d0), 1);
            const float32x4_t dv = vcombine_f32(dd, dd);
            f[0][q] = vfmaq_f32(f[0][q], vcvtq_f32_s32(GI_BREAK0(a[0][q])), vmulq_f32(wp[0], dv));
            for (int p = 1; p < 4; p++) f[p][q] = vfmaq_f32(f[p][q], vcvtq_f32_s32(a[p][q]), vmulq_f32(wp[p], dv));
        }
    }
    for (int q = 0; q < P; q++) {
        for (int e = 0; e < 2 && 2 * q + e < T; e++) { // token 2q (lanes 0, 2), token 2q + 1 (lanes 1, 3)
            const float32x4_t r03 = e ? vuzp2q_f32(f[0][q], f[1][q]) : vuzp1q_f32(f[0][q], f[1][q]);
            const float32x4_t r47 = e ? vuzp2q_f32(f[2][q], f[3][q]) : vuzp1q_f32(f[2][q], f[3][q]);
            float *yt = y + (t0 + 2 * q + e) * ldy, tmp[8];
            if (nr == 8) {
                vst1q_f32(yt, r03);
                vst1q_f32(yt + 4, r47);
            } else {
                vst1q_f32(tmp, r03);
                vst1q_f32(tmp + 4, r47);
                memcpy(yt, tmp, (size_t)nr * sizeof(float));
            }
        }
    }
}

/// The int16 tile (Q8_0, both paths): T ≤ 4 tokens.
TK_NEON static inline __attribute__((always_inline)) void gi_tile16(const uint8_t *U, const float *S,
                                                                   const tk__gemm_xq *xq, int64_t t0, const int T,
                                                                   float *y, int64_t ldy, int64_t nr) {
    const int64_t cp = xq->cp, nb = xq->nb, per = 1;
    float32x4_t f[2][4];
    const int16_t *xs[4];
    for (int t = 0; t < T; t++) {
        f[0][t] = f[1][t] = vdupq_n_f32(0.0f);
        xs[t] = (const int16_t *)xq->q + (t0 + t) * cp;
    }
    for (int64_t s = 0; s < nb; s++) {
        // Each lane sums 32 products of |w| <= 127 and |x| <= 32767: below 2^27.
        int32x4_t a[2][4];
        for (int t = 0; t < T; t++) a[0][t] = a[1][t] = vdupq_n_s32(0);
        for (int j = 0; j < 4; j++) { // 8 columns at a time
            const int16_t *Wj = (const int16_t *)U + s * 256 + j * 64;
            int16x8_t x[4];
            for (int t = 0; t < T; t++) x[t] = vld1q_s16(xs[t] + s * 32 + 8 * j);
            GI_STEP16(0);
            GI_STEP16(1);
            GI_STEP16(2);
            GI_STEP16(3);
            GI_STEP16(4);
            GI_STEP16(5);
            GI_STEP16(6);
            GI_STEP16(7);
        }
        GI_SCALE(s);
    }
    GI_STORE()
}

/// Tokens [ta, tb) of one 8-row group, four at a time, then the tail, through CALL(T).
#define GI_TOKENS(CALL)                                               \
    do {                                                              \
        int64_t t = ta;                                               \
        for (; t + 4 <= tb; t += 4) CALL(4);                          \
        switch (tb - t) {                                             \
        case 3: CALL(3); break;                                       \
        case 2: CALL(2); break;                                       \
        case 1: CALL(1); break;                                       \
        default: break;                                               \
        }                                                             \
    } while (0)

/// Tokens [ta, tb) through the int8 tile that GI_CALL32 / GI_CALL16 name, its scale block (32, or
/// NVFP4's 16) a constant in each branch.
#define GI_TOKENS8()                                                      \
    do {                                                                  \
        if (xq->nsb == xq->nb) {                                          \
            GI_TOKENS(GI_CALL32);                                         \
        } else {                                                          \
            GI_TOKENS(GI_CALL16);                                         \
        }                                                                 \
    } while (0)

TK_NEON static void gi_tokens_neon(const uint8_t *U, const float *S, const tk__gemm_xq *xq, int64_t ta, int64_t tb,
                                   float *y, int64_t ldy, int64_t nr) {
    if (xq->es == 2) {
#define CALL(T) gi_tile16(U, S, xq, t, T, y, ldy, nr)
        GI_TOKENS(CALL);
#undef CALL
        return;
    }
#define GI_CALL32(T) gi_tile8_neon(U, S, xq, t, T, 32, y, ldy, nr)
#define GI_CALL16(T) gi_tile8_neon(U, S, xq, t, T, 16, y, ldy, nr)
    GI_TOKENS8();
#undef GI_CALL32
#undef GI_CALL16
}

TK_DOTPROD static void gi_tokens_sdot(const uint8_t *U, const float *S, const tk__gemm_xq *xq, int64_t ta, int64_t tb,
                                      float *y, int64_t ldy, int64_t nr) {
#define GI_CALL32(T) gi_tile8_sdot(U, S, xq, t, T, 32, y, ldy, nr)
#define GI_CALL16(T) gi_tile8_sdot(U, S, xq, t, T, 16, y, ldy, nr)
    GI_TOKENS8();
#undef GI_CALL32
#undef GI_CALL16
}

TK_I8MM static void gi_tokens_mmla(const uint8_t *U, const float *S, const tk__gemm_xq *xq, int64_t ta, int64_t tb,
                                   float *y, int64_t ldy, int64_t nr) {
#define GI_CALL32(T) gi_tile8_mmla(U, S, xq, t, T, 32, y, ldy, nr)
#define GI_CALL16(T) gi_tile8_mmla(U, S, xq, t, T, 16, y, ldy, nr)
    GI_TOKENS8();
#undef GI_CALL32
#undef GI_CALL16
}

int tk__gemm_int_rows_neon(const tk_weights *w, const tk__gemm_xq *xq, float *y, int64_t ldy, int64_t n, int64_t rb,
                           int64_t re, int dot) {
    gi_format f;
    if (gi_format_of(w->format, &f) || f.es != xq->es) return -1;
    const int mm = dot && f.es == 1 && tk__arm_has_i8mm();
    const int64_t cp = xq->cp, nsb = xq->nsb, gbytes = cp * 8 * f.es;
    gi_panel p;
    if (gi_panel_alloc(&p, GI_PANEL_ROWS / 8, cp, f.es, nsb)) return -1;
    int64_t tbk = GI_TOKEN_BLOCK_BYTES / (cp * f.es);
    tbk = tbk < 4 ? 4 : tbk / 4 * 4;
    for (int64_t r = rb; r < re; r += GI_PANEL_ROWS) {
        const int64_t pe = r + GI_PANEL_ROWS < re ? r + GI_PANEL_ROWS : re, groups = (pe - r + 7) / 8;
        for (int64_t g = 0; g < groups; g++) gi_repack(w, r + 8 * g, pe, xq, &p, g, mm);
        for (int64_t t0 = 0; t0 < n; t0 += tbk) {
            const int64_t t1 = t0 + tbk < n ? t0 + tbk : n;
            for (int64_t g = 0; g < groups; g++) {
                const int64_t g0 = r + 8 * g, nr = pe - g0 < 8 ? pe - g0 : 8;
                const uint8_t *U = p.u + g * gbytes;
                const float *S = p.s + g * nsb * 8;
                if (mm) gi_tokens_mmla(U, S, xq, t0, t1, y + g0, ldy, nr);
                else if (dot && f.es == 1) gi_tokens_sdot(U, S, xq, t0, t1, y + g0, ldy, nr);
                else gi_tokens_neon(U, S, xq, t0, t1, y + g0, ldy, nr);
            }
        }
    }
    return 0;
}

#undef GI_BREAK
#undef GI_BREAK0
#undef GI_DOT_NEON
#undef GI_DOT_SDOT
#undef GI_STEP8
#undef GI_STEP16
#undef GI_SCALE
#undef GI_STORE
#undef GI_DEFINE_TILE8
#undef GI_TOKENS
#undef GI_TOKENS8
#endif
