// The GEMM's integer route (tandem_gemm.h) on x86-64: Q8_0, Q4_0, MXFP4 and NVFP4 weights times
// quantised activations, for prefill chunks and decode steps of several sequences (Q4_1: see
// format_info; its int16 kernel paths are kept for when its GEMV quantises too).
//
// Activations: each token is quantised once per call, per 32-value block, to the width tk_gemv
// uses for the format: int8 (d = amax/127) for the 4-bit formats, as tk_gemv's integer route and
// llama.cpp's Q8 activations; int16 (d = amax/32767, 256x less rounding) for Q8_0 and Q4_1, whose
// weights are precise enough for int8 activations to show (SmolLM2 Q4_1: top-1 0.907 / KL 0.022
// against the exact run, bench/RESULTS.md).
//
// Weights: a panel of rows is repacked once per call into an interleaved layout: for each group of
// 8 rows and each 4 columns (int8) or 2 columns (int16), one 32-byte vector whose dword r holds row
// r's values. One vpdpbusd / vpdpwssd with a broadcast dword of activations then adds 4 / 2 products
// to each of the 8 rows at once, so a block's 8 partial sums come out one per lane: no horizontal
// sums, and the scales (8 rows' weight scales times the token's activation scale) are one multiply
// and one FMA per block for 8 rows. int8: weights are unsigned bytes u = w + off (Q4_0: the nibble,
// off 8; MXFP4/NVFP4: 2 x E2M1 + 12 in 0...24), and the offset is taken out exactly by starting
// each block's int32 sum at -off x (sum of the block's int8 activations), precomputed per token.
// int16: weights as signed int16 (Q8_0: the value; Q4_1: the nibble), no offset; Q4_1's minimum
// adds m x d_x x (sum of q) per block.
// Cost per 8 rows x 1 token x 32 columns: 8 vpdpbusd (16 vpdpwssd) with broadcast operands, a
// convert, a multiply and an FMA, against 32 FMAs on the float route (which also dequantises).
//
// Paths: AVX-512 (VNNI, on 256-bit registers) and AVX2 take all five formats. On AVX2 the int8
// products go through vpmaddubsw (u <= 24: its int16 pair sums cannot saturate, and four of them
// still fit int16 before vpmaddwd widens) and the int16 ones through vpmaddwd.
//
// Results: each (row, token) is summed in one order, block by block, whatever the tile, the group,
// the batch or the thread split, so a token's outputs do not depend on which other tokens share the
// call. Error against exact dequantise-then-dot: at most sum over blocks of (d_x/2) sum |w_i| (the
// activation rounding) plus f32 rounding of one multiply-add per block.
#include "tandem_gemm.h"
#include "tandem_formats.h"
#include "tk_internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)

/// Rows repacked together (a multiple of 8).
#define INT_PANEL_ROWS 16
/// Activation bytes multiplied with one panel before moving on (about half an L2).
#define INT_TOKEN_BLOCK_BYTES (512 * 1024)

typedef struct {
    int sb;      ///< values per weight scale (32; NVFP4 16)
    int off;     ///< int8: u = w + off
    int has_min; ///< Q4_1: value = d q + m
    int es;      ///< bytes per activation and repacked weight: 1 (int8) or 2 (int16)
} int_format;

static int format_info(tk_type type, int_format *f) {
    switch (type) {
    case TK_Q8_0: *f = (int_format){32, 0, 0, 2}; return 0;
    case TK_Q4_0: *f = (int_format){32, 8, 0, 1}; return 0;
    // Q4_1 stays on the float route: its GEMV is exact (float), and a GEMM with int16 activations
    // made a verification step's logits differ from a plain decode's enough to flip a seeded
    // sample (e2e/test_speculative.py). The int16 kernels below take it again (has_min) once its
    // GEMV quantises activations the same way.
    case TK_Q4_1: return -1;
    case TK_MXFP4: *f = (int_format){32, 12, 0, 1}; return 0;
    case TK_NVFP4: *f = (int_format){16, 12, 0, 1}; return 0;
    default: return -1;
    }
}

int tk__gemm_int_route(tk_gemv_path path, tk_type type) {
    int_format f;
    if (format_info(type, &f)) return 0;
    return path == TK_PATH_AVX512 || path == TK_PATH_AVX2 ? 8 * f.es : 0;
}

// ---- activations ----

void tk__gemm_xq_free(tk__gemm_xq *xq) {
    free(xq->heap);
    xq->heap = NULL;
}

TK_AVX2 int tk__gemm_xq_init(tk_type type, const float *x, int64_t ldx, int64_t n, int64_t cols, tk__gemm_xq *xq) {
    int_format f;
    memset(xq, 0, sizeof *xq);
    if (format_info(type, &f)) return -1;
    const int64_t cp = (cols + 31) / 32 * 32, nb = cp / 32, nsb = cp / f.sb;
    xq->cp = cp;
    xq->nb = nb;
    xq->nsb = nsb;
    xq->es = f.es;
    // One allocation: q (n x cp values), dx and sx (n x nb floats each), corr (n x nsb int32).
    size_t qb = (size_t)(n * cp * f.es + 63) / 64 * 64, fb = (size_t)(n * nb) * sizeof(float);
    size_t total = qb + 2 * fb + (size_t)(n * nsb) * sizeof(int32_t) + 64;
    xq->heap = aligned_alloc(64, (total + 63) / 64 * 64);
    if (!xq->heap) return -1;
    xq->q = xq->heap;
    xq->dx = (float *)((char *)xq->heap + qb);
    xq->sx = xq->dx + n * nb;
    xq->corr = (int32_t *)(xq->sx + n * nb);
    const float levels = f.es == 1 ? 127.0f : 32767.0f;
    for (int64_t t = 0; t < n; t++) {
        const float *xt = x + t * ldx;
        for (int64_t b = 0; b < nb; b++) {
            __m256i i[4];
            float d;
            tk__quantize_block32(xt, cols, b, levels, f.es, (char *)xq->q + (t * cp + b * 32) * f.es, &d, i);
            // i[k] holds values 8k..8k+7: the two 16-value halves' sums of q.
            __m256i h = _mm256_hadd_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3]));
            int32_t l[8];
            _mm256_storeu_si256((__m256i *)l, h); // l0-1, l4-5: first half's pairs; l2-3, l6-7: second's
            const int32_t s0 = (l[0] + l[1]) + (l[4] + l[5]), s1 = (l[2] + l[3]) + (l[6] + l[7]);
            xq->dx[t * nb + b] = d;
            xq->sx[t * nb + b] = d * (float)(s0 + s1);
            if (f.sb == 16) {
                xq->corr[t * nsb + 2 * b] = -f.off * s0;
                xq->corr[t * nsb + 2 * b + 1] = -f.off * s1;
            } else {
                xq->corr[t * nsb + b] = -f.off * (s0 + s1);
            }
        }
    }
    return 0;
}

// ---- weights: one row's 32 values as unsigned bytes, and the 8 x 8 dword transpose ----

/// 16 bytes of nibbles, value j in the low nibble of byte j and value j + 16 in the high one
/// (ggml's Q4_0, Q4_1, MXFP4), as 32 bytes in value order.
TK_AVX2 static inline __m256i nibbles_halves(const uint8_t *p) {
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m128i q = _mm_loadu_si128((const __m128i *)p);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
}

/// `bytes` (16, or 8 for a last half block) of NVFP4 nibbles, value 2k low and 2k + 1 high in byte k,
/// as 32 (or 16, zero-padded) bytes in value order.
TK_AVX2 static inline __m256i nibbles_pairs(const uint8_t *p, int bytes) {
    const __m128i m4 = _mm_set1_epi8(0x0F);
    __m128i q = bytes == 16 ? _mm_loadu_si128((const __m128i *)p) : _mm_loadl_epi64((const __m128i *)p);
    __m128i lo = _mm_and_si128(q, m4), hi = _mm_and_si128(_mm_srli_epi16(q, 4), m4);
    return _mm256_set_m128i(bytes == 16 ? _mm_unpackhi_epi8(lo, hi) : _mm_setzero_si128(), _mm_unpacklo_epi8(lo, hi));
}

/// int8 formats (`type`): a row's 32-column chunk `c` (row: its bytes; scales: NVFP4's block scales
/// of the row) as u = w + off bytes; its scales into s (one per sub-block: 1, or 2 for NVFP4).
TK_AVX2 static inline __m256i unpack_chunk(tk_type type, const tk_weights *w, const uint8_t *row, const uint8_t *scales,
                                           int64_t c, float s[2]) {
    const int64_t cols = w->cols;
    // 2 x E2M1 + 12 (u in 0...24) for the codes 0-15.
    const __m256i e2m1 = _mm256_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0,
                                          12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
    switch (type) {
    case TK_Q4_0: {
        const uint8_t *p = row + c * 18;
        s[0] = _cvtsh_ss(le16(p));
        return nibbles_halves(p + 2);
    }
    case TK_MXFP4: {
        const uint8_t *p = row + c * 17;
        s[0] = tk_e8m0_f32_table[p[0]] * 0.5f; // the table doubles E2M1
        return _mm256_shuffle_epi8(e2m1, nibbles_halves(p + 1));
    }
    default: { // TK_NVFP4: 16-column blocks, E4M3 block scales beside the nibbles
        const uint8_t *p = row + c * 16, *sc = scales + c * 2;
        int two = (c + 1) * 32 <= cols;
        s[0] = tk_e4m3_f32_table[sc[0]] * 0.5f * w->scale;
        s[1] = two ? tk_e4m3_f32_table[sc[1]] * 0.5f * w->scale : 0.0f;
        return _mm256_shuffle_epi8(e2m1, nibbles_pairs(p, two ? 16 : 8));
    }
    }
}

/// int16 formats: a row's 32-column chunk `c` as int16 values (v[0]: 0-15, v[1]: 16-31), its scale
/// into s and Q4_1's minimum into m.
TK_AVX2 static inline void unpack_chunk16(tk_type type, const uint8_t *row, int64_t c, __m256i v[2], float *s, float *m) {
    if (type == TK_Q8_0) {
        const uint8_t *p = row + c * 34;
        *s = _cvtsh_ss(le16(p));
        v[0] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 2)));
        v[1] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + 18)));
    } else { // TK_Q4_1
        const uint8_t *p = row + c * 20;
        *s = _cvtsh_ss(le16(p));
        *m = _cvtsh_ss(le16(p + 2));
        __m256i u = nibbles_halves(p + 4);
        v[0] = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(u));
        v[1] = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(u, 1));
    }
}

/// v[r] holds row r's 8 dwords; afterwards v[k] holds dword k of rows 0-7.
TK_AVX2 static inline void transpose8x8(__m256i v[8]) {
    __m256i t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i + 0] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
        u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
        u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
    }
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_permute2x128_si256(u[k], u[4 + k], 0x20);
        v[k + 4] = _mm256_permute2x128_si256(u[k], u[4 + k], 0x31);
    }
}

/// A panel of rows in the interleaved layout: per group of 8 rows, cp x es / 4 vectors of 32 bytes
/// (256 x es bytes per 32 columns), the scales (8 per sub-block) and Q4_1's minimums (8 per block).
typedef struct {
    uint8_t *u;  // groups x (cp x 8) bytes
    float *s;    // groups x nsb x 8
    float *m;    // groups x nb x 8
} int_panel;

static _Thread_local void *panel_mem;
static _Thread_local size_t panel_bytes;

static int panel_alloc(int_panel *p, int64_t groups, int64_t cp, int64_t es, int64_t nsb, int64_t nb) {
    size_t ub = (size_t)(groups * cp * 8 * es), sb = (size_t)(groups * nsb * 8) * sizeof(float);
    size_t total = ub + sb + (size_t)(groups * nb * 8) * sizeof(float);
    if (panel_bytes < total) {
        free(panel_mem);
        panel_mem = aligned_alloc(64, (total + 63) / 64 * 64);
        panel_bytes = panel_mem ? total : 0;
        if (!panel_mem) return -1;
    }
    p->u = panel_mem;
    p->s = (float *)((char *)panel_mem + ub);
    p->m = p->s + groups * nsb * 8;
    return 0;
}

/// Rows [r0, r0 + 8) (those below `re`; the rest zero) into group g of the panel; `type` is w->format,
/// a constant in each caller so that the chunk loop holds no format switch.
TK_AVX2 static inline __attribute__((always_inline)) void repack_group_as(tk_type type, const tk_weights *w,
                                                                        const int_format *f, int64_t r0, int64_t re,
                                                                        int64_t cp, int64_t nsb, int64_t nb,
                                                                        const int_panel *p, int64_t g) {
    // Constants once `type` is: bytes per value, sub-blocks per chunk.
    const int es = type == TK_Q8_0 || type == TK_Q4_1 ? 2 : 1, per = type == TK_NVFP4 ? 2 : 1;
    (void)f;
    uint8_t *U = p->u + g * cp * 8 * es;
    float *S = p->s + g * nsb * 8, *M = p->m + g * nb * 8;
    const size_t rbytes = tk_row_bytes(w->format, w->cols);
    const uint8_t *rows[8], *scales[8];
    for (int i = 0; i < 8; i++) {
        rows[i] = (const uint8_t *)w->data + (size_t)(r0 + i) * rbytes;
        scales[i] = w->block_scales ? w->block_scales + (size_t)(r0 + i) * (size_t)(w->cols / 16) : NULL;
    }
    for (int64_t c = 0; c < nb; c++) {
        __m256i v[8], v2[8];
        for (int i = 0; i < 8; i++) {
            float s[2] = {0, 0}, m = 0;
            if (r0 + i >= re) {
                v[i] = v2[i] = _mm256_setzero_si256();
            } else if (es == 2) {
                __m256i h[2];
                unpack_chunk16(type, rows[i], c, h, s, &m);
                v[i] = h[0];
                v2[i] = h[1];
            } else {
                v[i] = unpack_chunk(type, w, rows[i], scales[i], c, s);
            }
            for (int j = 0; j < per; j++) S[(c * per + j) * 8 + i] = s[j];
            if (type == TK_Q4_1) M[c * 8 + i] = m;
        }
        transpose8x8(v);
        uint8_t *out = U + c * 256 * es;
        for (int k = 0; k < 8; k++) _mm256_store_si256((__m256i *)(out + k * 32), v[k]);
        if (es == 2) {
            transpose8x8(v2);
            for (int k = 0; k < 8; k++) _mm256_store_si256((__m256i *)(out + 256 + k * 32), v2[k]);
        }
    }
}

TK_AVX2 static void repack_group(const tk_weights *w, const int_format *f, int64_t r0, int64_t re, int64_t cp,
                                 int64_t nsb, int64_t nb, const int_panel *p, int64_t g) {
    switch (w->format) {
    case TK_Q8_0: repack_group_as(TK_Q8_0, w, f, r0, re, cp, nsb, nb, p, g); break;
    case TK_Q4_0: repack_group_as(TK_Q4_0, w, f, r0, re, cp, nsb, nb, p, g); break;
    case TK_Q4_1: repack_group_as(TK_Q4_1, w, f, r0, re, cp, nsb, nb, p, g); break;
    case TK_MXFP4: repack_group_as(TK_MXFP4, w, f, r0, re, cp, nsb, nb, p, g); break;
    default: repack_group_as(TK_NVFP4, w, f, r0, re, cp, nsb, nb, p, g); break;
    }
}

// ---- kernels: G groups of 8 rows x T tokens ----

// STEP(acc, w, x): acc += per-lane dot products of the weight vector w and the broadcast dword x.
#define STEP8_VNNI(acc, w, x) acc = _mm256_dpbusd_epi32(acc, w, x)
#define STEP16_VNNI(acc, w, x) acc = _mm256_dpwssd_epi32(acc, w, x)
#define STEP16_AVX2(acc, w, x) acc = _mm256_add_epi32(acc, _mm256_madd_epi16(w, x))
// AVX2, int8: vpmaddubsw into int16 partial sums, widened by one vpmaddwd every four steps
// (u <= 24: at most 4 x 2 x 24 x 127 = 24384 fits int16). QUAD says which kernels do this.
#define STEP8_AVX2(acc, w, x) acc = _mm256_add_epi16(acc, _mm256_maddubs_epi16(w, x))

/// Y[t * ldy + r] for rows of G groups (valid rows nr[g] of 8 each) and tokens t0..t0+T-1. The k
/// loop is outermost inside a block, so each weight vector is loaded once per tile and each
/// broadcast activation dword serves G groups. SB: values per scale; ES: bytes per value.
#define DEFINE_TILE_KERNEL(NAME, TARGET, STEP, QUAD, SB, ES)                                              \
    TARGET static inline __attribute__((always_inline)) void NAME##_tile(                                \
        const uint8_t *U, int64_t gstride, const float *S, const float *M, int has_min, const tk__gemm_xq *xq, \
        int64_t t0, const int G, const int T, float *y, int64_t ldy, const int64_t *nr) {               \
        const int K = (SB) * (ES) / 4; /* weight vectors per block */                                    \
        const int64_t nsb = xq->nsb, per = 32 / (SB), cp = xq->cp, nb = xq->nb;                          \
        __m256 f[2][4];                                                                                  \
        for (int g = 0; g < G; g++)                                                                      \
            for (int t = 0; t < T; t++) f[g][t] = _mm256_setzero_ps();                                   \
        const uint8_t *xs[4];                                                                            \
        for (int t = 0; t < T; t++) xs[t] = (const uint8_t *)xq->q + (t0 + t) * cp * (ES);                \
        for (int64_t s = 0; s < nsb; s++) {                                                              \
            __m256i acc[2][4], part[2][4];                                                               \
            for (int t = 0; t < T; t++) {                                                                \
                __m256i c = _mm256_set1_epi32(xq->corr[(t0 + t) * nsb + s]);                             \
                for (int g = 0; g < G; g++) acc[g][t] = c;                                               \
            }                                                                                            \
            const uint8_t *W = U + s * (SB) * 8 * (ES);                                                  \
            for (int k = 0; k < K; k++) {                                                                \
                __m256i w[2];                                                                            \
                for (int g = 0; g < G; g++) w[g] = _mm256_load_si256((const __m256i *)(W + g * gstride + 32 * k)); \
                for (int t = 0; t < T; t++) {                                                            \
                    __m256i x = _mm256_set1_epi32(tk__ld32(xs[t] + s * (SB) * (ES) + 4 * k));            \
                    for (int g = 0; g < G; g++) {                                                        \
                        if (QUAD) {                                                                      \
                            if (k % 4 == 0) part[g][t] = _mm256_setzero_si256();                         \
                            STEP(part[g][t], w[g], x);                                                   \
                            if (k % 4 == 3)                                                              \
                                acc[g][t] = _mm256_add_epi32(acc[g][t], _mm256_madd_epi16(part[g][t], _mm256_set1_epi16(1))); \
                        } else {                                                                         \
                            STEP(acc[g][t], w[g], x);                                                    \
                        }                                                                                \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
            for (int g = 0; g < G; g++) {                                                                \
                const __m256 ws = _mm256_load_ps(S + g * nsb * 8 + s * 8);                               \
                for (int t = 0; t < T; t++) {                                                            \
                    const int64_t tt = t0 + t;                                                           \
                    __m256 sc = _mm256_mul_ps(ws, _mm256_set1_ps(xq->dx[tt * nb + s / per]));            \
                    f[g][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[g][t]), sc, f[g][t]);               \
                    if (has_min)                                                                         \
                        f[g][t] = _mm256_fmadd_ps(_mm256_load_ps(M + g * nb * 8 + s * 8),                \
                                                  _mm256_set1_ps(xq->sx[tt * nb + s]), f[g][t]);         \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
        for (int g = 0; g < G; g++)                                                                      \
            for (int t = 0; t < T; t++) {                                                                \
                float *yt = y + (t0 + t) * ldy + 8 * g;                                                  \
                if (nr[g] == 8) {                                                                        \
                    _mm256_storeu_ps(yt, f[g][t]);                                                       \
                } else {                                                                                 \
                    float tmp[8];                                                                        \
                    _mm256_storeu_ps(tmp, f[g][t]);                                                      \
                    memcpy(yt, tmp, (size_t)nr[g] * sizeof(float));                                     \
                }                                                                                        \
            }                                                                                            \
    }                                                                                                    \
    /* Tokens [ta, tb) of G groups (a constant once inlined), four at a time, then the tail. */          \
    TARGET static inline __attribute__((always_inline)) void NAME##_groups(                              \
        const uint8_t *U, int64_t gstride, const float *S, const float *M, int has_min, const tk__gemm_xq *xq, \
        int64_t ta, int64_t tb, const int G, float *y, int64_t ldy, const int64_t *nr) {                 \
        int64_t t = ta;                                                                                  \
        for (; t + 4 <= tb; t += 4) NAME##_tile(U, gstride, S, M, has_min, xq, t, G, 4, y, ldy, nr);     \
        switch (tb - t) {                                                                                \
        case 3: NAME##_tile(U, gstride, S, M, has_min, xq, t, G, 3, y, ldy, nr); break;                  \
        case 2: NAME##_tile(U, gstride, S, M, has_min, xq, t, G, 2, y, ldy, nr); break;                  \
        case 1: NAME##_tile(U, gstride, S, M, has_min, xq, t, G, 1, y, ldy, nr); break;                  \
        default: break;                                                                                  \
        }                                                                                                \
    }                                                                                                    \
    /* G groups: 1 or 2 (GMAX: the most this path's registers take). */                                  \
    TARGET static void NAME(const uint8_t *U, int64_t gstride, const float *S, const float *M, int has_min, \
                            const tk__gemm_xq *xq, int64_t ta, int64_t tb, int G, float *y, int64_t ldy, \
                            const int64_t *nr) {                                                         \
        if (G == 2) NAME##_groups(U, gstride, S, M, has_min, xq, ta, tb, 2, y, ldy, nr);                \
        else NAME##_groups(U, gstride, S, M, has_min, xq, ta, tb, 1, y, ldy, nr);                       \
    }

// AVX2 has 16 vector registers: one group per tile (4 sums, 4 partials or none, 4 floats, w, x).
// AVX-512VL has 32: two groups per tile.
DEFINE_TILE_KERNEL(tokens_avx2_i8_32, TK_AVX2, STEP8_AVX2, 1, 32, 1)
DEFINE_TILE_KERNEL(tokens_avx2_i8_16, TK_AVX2, STEP8_AVX2, 1, 16, 1)
DEFINE_TILE_KERNEL(tokens_avx2_i16, TK_AVX2, STEP16_AVX2, 0, 32, 2)
DEFINE_TILE_KERNEL(tokens_vnni_i8_32, TK_AVX512, STEP8_VNNI, 0, 32, 1)
DEFINE_TILE_KERNEL(tokens_vnni_i8_16, TK_AVX512, STEP8_VNNI, 0, 16, 1)
DEFINE_TILE_KERNEL(tokens_vnni_i16, TK_AVX512, STEP16_VNNI, 0, 32, 2)

typedef void (*tokens_fn)(const uint8_t *, int64_t, const float *, const float *, int, const tk__gemm_xq *,
                          int64_t, int64_t, int, float *, int64_t, const int64_t *);

/// Rows [rb, re) for every token of xq, panel by panel; `gmax` groups per tile.
static int int_rows(const tk_weights *w, const tk__gemm_xq *xq, float *y, int64_t ldy, int64_t n, int64_t rb,
                    int64_t re, tokens_fn kernel, int gmax) {
    int_format f;
    if (format_info(w->format, &f) || f.es != xq->es) return -1;
    const int64_t cp = xq->cp, nsb = xq->nsb, nb = xq->nb, gstride = cp * 8 * f.es;
    int_panel p;
    if (panel_alloc(&p, INT_PANEL_ROWS / 8, cp, f.es, nsb, nb)) return -1;
    int64_t tbk = INT_TOKEN_BLOCK_BYTES / (cp * f.es);
    tbk = tbk < 4 ? 4 : tbk / 4 * 4;
    for (int64_t r = rb; r < re; r += INT_PANEL_ROWS) {
        const int64_t pe = r + INT_PANEL_ROWS < re ? r + INT_PANEL_ROWS : re;
        const int64_t groups = (pe - r + 7) / 8;
        for (int64_t g = 0; g < groups; g++) repack_group(w, &f, r + 8 * g, pe, cp, nsb, nb, &p, g);
        for (int64_t t0 = 0; t0 < n; t0 += tbk) {
            const int64_t t1 = t0 + tbk < n ? t0 + tbk : n;
            for (int64_t g = 0; g < groups; g += gmax) {
                const int G = groups - g < gmax ? (int)(groups - g) : gmax;
                int64_t nr[2];
                for (int i = 0; i < G; i++) {
                    const int64_t g0 = r + 8 * (g + i);
                    nr[i] = pe - g0 < 8 ? pe - g0 : 8;
                }
                kernel(p.u + g * gstride, gstride, p.s + g * nsb * 8, p.m + g * nb * 8, f.has_min, xq, t0, t1, G,
                       y + r + 8 * g, ldy, nr);
            }
        }
    }
    return 0;
}

int tk__gemm_int_rows_avx2(const tk_weights *w, const tk__gemm_xq *xq, float *y, int64_t ldy, int64_t n,
                           int64_t rb, int64_t re) {
    tokens_fn k = xq->es == 2 ? tokens_avx2_i16 : w->format == TK_NVFP4 ? tokens_avx2_i8_16 : tokens_avx2_i8_32;
    return int_rows(w, xq, y, ldy, n, rb, re, k, 1);
}

int tk__gemm_int_rows_vnni(const tk_weights *w, const tk__gemm_xq *xq, float *y, int64_t ldy, int64_t n,
                           int64_t rb, int64_t re) {
    tokens_fn k = xq->es == 2 ? tokens_vnni_i16 : w->format == TK_NVFP4 ? tokens_vnni_i8_16 : tokens_vnni_i8_32;
    return int_rows(w, xq, y, ldy, n, rb, re, k, 2);
}

#elif !defined(__aarch64__) // AArch64: gemm_int_neon.c

int tk__gemm_int_route(tk_gemv_path path, tk_type type) {
    (void)path;
    (void)type;
    return 0;
}

#endif
