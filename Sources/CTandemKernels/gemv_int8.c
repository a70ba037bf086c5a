// Quantised GEMV, integer route for the 4-bit formats (MXFP4, NVFP4, Q4_0) on x86-64.
// x is quantised per 32-value block to int8 (d = amax/127, q = round-to-nearest-even(x/d)), as
// llama.cpp does for its Q8 activations, once per call; weights go through a 16-entry vpshufb
// table to small integers, and each block is one integer dot product scaled by (weight scale x
// activation scale) in f32.
// Rows whose width is a multiple of 64 (every transformer matrix) take the 64-column kernels: the
// table gives unsigned values (E2M1 doubled + 12 in 0...24; Q4_0's nibble as is), so the int8
// products need no sign fix-ups (vpmaddubsw / vpdpbusd take u8 x s8 directly), and the offset
// (12 or 8 x the block's sum of q) is subtracted once per block from a per-call table; x is
// permuted once per call to meet the nibbles in storage order. Other widths take the older
// kernels: |w| x sign(x, w) with vpmaddubsw + vpmaddwd (AVX2) or vpdpbusd (AVX-512 VNNI).
// Error versus exact dequantise-then-dot: at most sum over blocks of (d_x/2) * sum |w_i| (the
// activation rounding) plus f32 rounding. Measured on an AVX2 Zen (1 thread, 16384 x 4096):
// NVFP4 7.4 GB/s with the 64-column kernel against 4.8 GB/s before (bench/RESULTS.md).
#include "tandem_gemv.h"
#include "tandem_formats.h"
#include "tk_internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)

// The AVX2 kernels carry TK_AVX2, the VNNI ones TK_AVX512 (tk_internal.h); a test harness may
// predefine those empty, and TK_TEST_EMULATE_VNNI (below), to run the VNNI instantiation on a CPU
// without AVX-512.

/// x (n values) → int8 blocks of 32 in xq (n rounded up to 32; the tail padded with zeros) and one
/// f32 scale per block in dx.
TK_AVX2 static void quantize_x(const float *x, int64_t n, int8_t *xq, float *dx) {
    for (int64_t b = 0; b < (n + 31) / 32; b++) {
        __m256i i[4];
        tk__quantize_block32(x, n, b, 127.0f, 1, xq + b * 32, dx + b, i);
    }
}

/// Scratch for the quantised x: on the stack up to 8192 columns, else on the heap.
typedef struct {
    int8_t stack_q[8192];
    float stack_d[256];
    int8_t *q;
    float *d;
    void *heap;
} xbuf;

static int xbuf_init(xbuf *b, int64_t n) {
    int64_t padded = (n + 31) / 32 * 32;
    b->heap = NULL;
    if (padded <= 8192) {
        b->q = b->stack_q;
        b->d = b->stack_d;
        return 0;
    }
    b->heap = malloc((size_t)padded + (size_t)(padded / 32) * sizeof(float));
    if (!b->heap) return -1;
    b->q = (int8_t *)b->heap;
    b->d = (float *)((char *)b->heap + padded);
    return 0;
}

// ---- kernel bodies, instantiated for AVX2 and VNNI ----
// DOT(w, x): 8 int32 lanes, lane k = sum of w*x over bytes 4k..4k+3 of the two 32-byte vectors.

#define DOT_AVX2(wv, xv) \
    _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv)), _mm256_set1_epi16(1))

#ifdef TK_TEST_EMULATE_VNNI
// Test harnesses without AVX512-VNNI hardware: the same sum through AVX2 (exact for these ranges).
#define DOT_VNNI(wv, xv) DOT_AVX2(wv, xv)
#else
#define DOT_VNNI(wv, xv) \
    _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(wv, wv), _mm256_sign_epi8(xv, wv))
#endif

#define DEFINE_INT_KERNELS(SUFFIX, TARGET, DOT)                                                          \
    TARGET static inline __m256i nib16x2_##SUFFIX(__m128i q, __m256i table) {                            \
        /* 16 bytes: value j in the low nibble, value j+16 in the high nibble → 32 int8 in order */     \
        const __m128i m4 = _mm_set1_epi8(0x0F);                                                          \
        __m256i nib = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));   \
        return _mm256_shuffle_epi8(table, nib);                                                          \
    }                                                                                                    \
                                                                                                         \
    TARGET static void mxfp4_any_##SUFFIX(const tk_weights *w, const float *x, float *y, int64_t rb,      \
                                          int64_t re) {                                                  \
        const int64_t n = w->cols, nb = n / 32;                                                          \
        xbuf xb;                                                                                         \
        if (xbuf_init(&xb, n)) return;                                                                   \
        quantize_x(x, n, xb.q, xb.d);                                                                    \
        const __m256i table = _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12, \
                                               0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12); \
        for (int64_t r = rb; r < re; r++) {                                                              \
            const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 17;                   \
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                   \
            int64_t b = 0;                                                                               \
            for (; b + 2 <= nb; b += 2, p += 34) {                                                       \
                __m256i w0 = nib16x2_##SUFFIX(_mm_loadu_si128((const __m128i *)(p + 1)), table);         \
                __m256i w1 = nib16x2_##SUFFIX(_mm_loadu_si128((const __m128i *)(p + 18)), table);        \
                __m256i d0 = DOT(w0, _mm256_loadu_si256((const __m256i *)(xb.q + b * 32)));              \
                __m256i d1 = DOT(w1, _mm256_loadu_si256((const __m256i *)(xb.q + b * 32 + 32)));         \
                /* doubled table: half the E8M0 scale */                                                 \
                a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d0),                                             \
                                     _mm256_set1_ps(tk_e8m0_f32_table[p[0]] * 0.5f * xb.d[b]), a0);      \
                a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d1),                                             \
                                     _mm256_set1_ps(tk_e8m0_f32_table[p[17]] * 0.5f * xb.d[b + 1]), a1); \
            }                                                                                            \
            if (b < nb) {                                                                                \
                __m256i w0 = nib16x2_##SUFFIX(_mm_loadu_si128((const __m128i *)(p + 1)), table);         \
                __m256i d0 = DOT(w0, _mm256_loadu_si256((const __m256i *)(xb.q + b * 32)));              \
                a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d0),                                             \
                                     _mm256_set1_ps(tk_e8m0_f32_table[p[0]] * 0.5f * xb.d[b]), a0);      \
            }                                                                                            \
            y[r] = hsum256(_mm256_add_ps(a0, a1));                                                       \
        }                                                                                                \
        free(xb.heap);                                                                                   \
    }                                                                                                    \
                                                                                                         \
    TARGET static void q4_0_any_##SUFFIX(const tk_weights *w, const float *x, float *y, int64_t rb,       \
                                         int64_t re) {                                                   \
        const int64_t n = w->cols, nb = n / 32;                                                          \
        xbuf xb;                                                                                         \
        if (xbuf_init(&xb, n)) return;                                                                   \
        quantize_x(x, n, xb.q, xb.d);                                                                    \
        const __m256i table = _mm256_setr_epi8(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7,  \
                                               -8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7); \
        for (int64_t r = rb; r < re; r++) {                                                              \
            const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 18;                   \
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                                   \
            int64_t b = 0;                                                                               \
            for (; b + 2 <= nb; b += 2, p += 36) {                                                       \
                __m256i w0 = nib16x2_##SUFFIX(_mm_loadu_si128((const __m128i *)(p + 2)), table);         \
                __m256i w1 = nib16x2_##SUFFIX(_mm_loadu_si128((const __m128i *)(p + 20)), table);        \
                __m256i d0 = DOT(w0, _mm256_loadu_si256((const __m256i *)(xb.q + b * 32)));              \
                __m256i d1 = DOT(w1, _mm256_loadu_si256((const __m256i *)(xb.q + b * 32 + 32)));         \
                a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d0), _mm256_set1_ps(_cvtsh_ss(le16(p)) * xb.d[b]), a0); \
                a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d1),                                             \
                                     _mm256_set1_ps(_cvtsh_ss(le16(p + 18)) * xb.d[b + 1]), a1);         \
            }                                                                                            \
            if (b < nb) {                                                                                \
                __m256i w0 = nib16x2_##SUFFIX(_mm_loadu_si128((const __m128i *)(p + 2)), table);         \
                __m256i d0 = DOT(w0, _mm256_loadu_si256((const __m256i *)(xb.q + b * 32)));              \
                a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d0), _mm256_set1_ps(_cvtsh_ss(le16(p)) * xb.d[b]), a0); \
            }                                                                                            \
            y[r] = hsum256(_mm256_add_ps(a0, a1));                                                       \
        }                                                                                                \
        free(xb.heap);                                                                                   \
    }                                                                                                    \
                                                                                                         \
    TARGET static void nvfp4_any_##SUFFIX(const tk_weights *w, const float *x, float *y, int64_t rb,      \
                                          int64_t re) {                                                  \
        const int64_t n = w->cols, nb16 = n / 16;                                                        \
        xbuf xb;                                                                                         \
        if (xbuf_init(&xb, n)) return;                                                                   \
        quantize_x(x, n, xb.q, xb.d);                                                                    \
        const __m256i table = _mm256_setr_epi8(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12, \
                                               0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12); \
        const __m128i m4 = _mm_set1_epi8(0x0F);                                                          \
        for (int64_t r = rb; r < re; r++) {                                                              \
            const uint8_t *q = (const uint8_t *)w->data + (size_t)r * (size_t)(n / 2);                   \
            const uint8_t *sc = w->block_scales + (size_t)r * (size_t)nb16;                              \
            __m256 acc = _mm256_setzero_ps();                                                            \
            for (int64_t b = 0; b < nb16; b += 2) {                                                      \
                /* 32 columns = two 16-column blocks: byte j holds columns 2j (low), 2j+1 (high) */      \
                int two = b + 2 <= nb16;                                                                 \
                __m128i bytes = two ? _mm_loadu_si128((const __m128i *)(q + b * 8))                      \
                                    : _mm_loadl_epi64((const __m128i *)(q + b * 8));                     \
                __m128i lo = _mm_and_si128(bytes, m4), hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), m4); \
                __m256i nib = _mm256_set_m128i(_mm_unpackhi_epi8(lo, hi), _mm_unpacklo_epi8(lo, hi));    \
                __m256i wv = _mm256_shuffle_epi8(table, nib);                                            \
                __m256i d = DOT(wv, _mm256_loadu_si256((const __m256i *)(xb.q + b * 16)));               \
                /* lanes 0-3: first block, lanes 4-7: second; doubled table: half the scale */           \
                float s0 = tk_e4m3_f32_table[sc[b]] * 0.5f * xb.d[b / 2];                                \
                float s1 = two ? tk_e4m3_f32_table[sc[b + 1]] * 0.5f * xb.d[b / 2] : 0.0f;               \
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d),                                             \
                                      _mm256_set_m128(_mm_set1_ps(s1), _mm_set1_ps(s0)), acc);           \
            }                                                                                            \
            y[r] = hsum256(acc) * w->scale;                                                              \
        }                                                                                                \
        free(xb.heap);                                                                                   \
    }

// NVFP4 with cols a multiple of 64 (every transformer width): the nibbles are used in storage order
// and x is permuted to match instead. A 32-byte load holds 64 columns, byte k = columns 2k (low
// nibble) and 2k+1 (high), so the low nibbles meet x's even columns and the high nibbles its odd
// ones: no unpacking. The table maps codes to u = 2 x E2M1 + 12 in 0...24 (unsigned: vpmaddubsw
// and vpdpbusd take it as is, no vpsignb), and each 16-column block's sum_i u_i q_i is corrected by
// 12 sum_i q_i, precomputed once per call. Block scales become floats 8 at a time through F16C: an
// E4M3 code c (not NaN) equals the f16 with bits (c & 0x80) << 8 | (c & 0x7F) << 7, times 256.
// (A NaN block scale, which the quantiser never writes, reads as 480 here.)
// DOTU(lo, xlo, hi, xhi): 8 int32 lanes, lane k = sum over bytes 4k..4k+3 of lo*xlo + hi*xhi.
#define DOTU_AVX2(lo, xlo, hi, xhi)                                                                    \
    _mm256_madd_epi16(_mm256_add_epi16(_mm256_maddubs_epi16(lo, xlo), _mm256_maddubs_epi16(hi, xhi)), \
                      _mm256_set1_epi16(1))
#ifdef TK_TEST_EMULATE_VNNI
#define DOTU_VNNI(lo, xlo, hi, xhi) DOTU_AVX2(lo, xlo, hi, xhi)
#else
#define DOTU_VNNI(lo, xlo, hi, xhi) \
    _mm256_dpbusd_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), lo, xlo), hi, xhi)
#endif

/// Per-call activation data of the 64-column kernels: x as int8 with each 64-column chunk split
/// into the two 32-byte vectors the weight nibbles meet (NVFP4: even then odd columns; MXFP4 and
/// Q4_0: columns 0-15 + 32-47 then 16-31 + 48-63), and per chunk two 8-lane vectors: the x scale
/// of each lane's 32-column block times `factor`, and offset x factor x x scale x sum of q per
/// weight block in the block's first lane (16-column blocks: lanes 0, 2, 4, 6; 32-column: 0, 4).
typedef struct {
    int8_t *q;
    float *dx;   // 8 floats per chunk
    float *corr; // 8 floats per chunk
    void *heap;
    int8_t stack_q[8192] __attribute__((aligned(32)));       // widths up to 8192 (e.g. a 1B FFN's down
    float stack_f[2 * 8 * 128] __attribute__((aligned(32)));  // projection) without a malloc per call
} nvx;

typedef enum { SPLIT_EVEN_ODD, SPLIT_HALVES } nvx_split;

TK_AVX2 static int nvx_init(nvx *v, const float *x, int64_t n, nvx_split split, float offset, float factor) {
    int64_t chunks = n / 64;
    v->heap = NULL;
    if (n <= 8192) {
        v->q = v->stack_q;
        v->dx = v->stack_f;
        v->corr = v->stack_f + 8 * 128;
    } else {
        v->heap = aligned_alloc(32, (size_t)n + (size_t)chunks * 16 * sizeof(float));
        if (!v->heap) return -1;
        v->q = (int8_t *)v->heap;
        v->dx = (float *)((char *)v->heap + n);
        v->corr = v->dx + chunks * 8;
    }
    xbuf xb;
    if (xbuf_init(&xb, n)) { free(v->heap); return -1; }
    quantize_x(x, n, xb.q, xb.d);
    const __m256i evens_odds = _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15,
                                                0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    for (int64_t c = 0; c < chunks; c++) {
        const int8_t *src = xb.q + c * 64;
        __m256i a = _mm256_loadu_si256((const __m256i *)src), b = _mm256_loadu_si256((const __m256i *)(src + 32));
        if (split == SPLIT_EVEN_ODD) {
            // [evens of 0-15 | odds of 0-15 || evens of 16-31 | odds of 16-31] → [evens 0-31 | odds 0-31]
            a = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(a, evens_odds), 0xD8);
            b = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(b, evens_odds), 0xD8);
        }
        _mm256_storeu_si256((__m256i *)(v->q + c * 64), _mm256_permute2x128_si256(a, b, 0x20));
        _mm256_storeu_si256((__m256i *)(v->q + c * 64 + 32), _mm256_permute2x128_si256(a, b, 0x31));
        float d0 = xb.d[2 * c] * factor, d1 = xb.d[2 * c + 1] * factor;
        int block = split == SPLIT_EVEN_ODD ? 16 : 32;
        for (int k = 0; k < 8; k++) {
            v->dx[c * 8 + k] = k < 4 ? d0 : d1;
            v->corr[c * 8 + k] = 0.0f;
        }
        for (int blk = 0; blk < 64 / block; blk++) {
            int sum = 0;
            for (int i = 0; i < block; i++) sum += src[blk * block + i];
            v->corr[c * 8 + blk * (block / 8)] = offset * (float)sum * (blk * block < 32 ? d0 : d1);
        }
    }
    free(xb.heap);
    return 0;
}

/// 4 E4M3 block scales → [s0, s0, s1, s1, s2, s2, s3, s3] / 256 (see above).
TK_AVX2 static inline __m256 nv_scales4(const uint8_t *sc) {
    int32_t bits;
    memcpy(&bits, sc, 4);
    __m128i c = _mm_cvtepu8_epi16(_mm_cvtsi32_si128(bits));
    __m128i h = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(c, _mm_set1_epi16(0x80)), 8),
                             _mm_slli_epi16(_mm_and_si128(c, _mm_set1_epi16(0x7F)), 7));
    return _mm256_cvtph_ps(_mm_unpacklo_epi16(h, h));
}

#define DEFINE_NVFP4_64(SUFFIX, TARGET, DOTU)                                                            \
    TARGET static void nvfp4_64_##SUFFIX(const tk_weights *w, const nvx *v, float *y, int64_t rb,       \
                                         int64_t re) {                                                   \
        const int64_t n = w->cols, chunks = n / 64;                                                      \
        const __m256i table = _mm256_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0, \
                                               12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0); \
        const __m256i m4 = _mm256_set1_epi8(0x0F);                                                       \
        for (int64_t r = rb; r < re; r++) {                                                              \
            const uint8_t *q = (const uint8_t *)w->data + (size_t)r * (size_t)(n / 2);                   \
            const uint8_t *sc = w->block_scales + (size_t)r * (size_t)(n / 16);                          \
            __m256 acc = _mm256_setzero_ps(), cor = _mm256_setzero_ps();                                 \
            for (int64_t c = 0; c < chunks; c++) {                                                       \
                __m256i bytes = _mm256_loadu_si256((const __m256i *)(q + c * 32));                       \
                __m256i lo = _mm256_shuffle_epi8(table, _mm256_and_si256(bytes, m4));                    \
                __m256i hi = _mm256_shuffle_epi8(table, _mm256_and_si256(_mm256_srli_epi16(bytes, 4), m4)); \
                __m256i d = DOTU(lo, _mm256_load_si256((const __m256i *)(v->q + c * 64)), hi,            \
                                 _mm256_load_si256((const __m256i *)(v->q + c * 64 + 32)));              \
                __m256 s = nv_scales4(sc + c * 4);                                                       \
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(s, _mm256_load_ps(v->dx + c * 8)), acc); \
                cor = _mm256_fmadd_ps(s, _mm256_load_ps(v->corr + c * 8), cor);                          \
            }                                                                                            \
            y[r] = hsum256(_mm256_sub_ps(acc, cor)) * w->scale;                                          \
        }                                                                                                \
    }                                                                                                    \
                                                                                                         \
    TARGET void tk__gemv_nvfp4_##SUFFIX(const tk_weights *w, const float *x, float *y, int64_t rb,       \
                                        int64_t re) {                                                    \
        nvx v;                                                                                           \
        if (w->cols % 64 != 0 || nvx_init(&v, x, w->cols, SPLIT_EVEN_ODD, 12.0f, 128.0f) != 0) {                                        \
            nvfp4_any_##SUFFIX(w, x, y, rb, re);                                                         \
            return;                                                                                      \
        }                                                                                                \
        nvfp4_64_##SUFFIX(w, &v, y, rb, re);                                                             \
        free(v.heap);                                                                                    \
    }                                                                                                    \
                                                                                                         \
    /* MXFP4 / Q4_0, two 32-column blocks per step: the two 16-byte nibble runs side by side, low     \
       nibbles = columns 0-15 of each block, high = 16-31 (x permuted to match, SPLIT_HALVES).      \
       SCALES(p) gives the two blocks' weight scales; BYTES is the block size, HEAD its scale bytes. */ \
    TARGET static inline __attribute__((always_inline)) void blocks32_##SUFFIX(const tk_weights *w, const nvx *v, float *y, int64_t rb,       \
                                         int64_t re, int mx) {                                           \
        const int64_t n = w->cols, chunks = n / 64, bytes = mx ? 17 : 18, head = mx ? 1 : 2;              \
        const __m256i table = _mm256_setr_epi8(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0, \
                                               12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0); \
        const __m256i m4 = _mm256_set1_epi8(0x0F);                                                       \
        for (int64_t r = rb; r < re; r++) {                                                              \
            const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(n / 32 * bytes);          \
            __m256 acc = _mm256_setzero_ps(), cor = _mm256_setzero_ps();                                 \
            for (int64_t c = 0; c < chunks; c++, p += 2 * bytes) {                                       \
                __m256i wv = _mm256_set_m128i(_mm_loadu_si128((const __m128i *)(p + bytes + head)),      \
                                              _mm_loadu_si128((const __m128i *)(p + head)));             \
                __m256i lo = _mm256_and_si256(wv, m4), hi = _mm256_and_si256(_mm256_srli_epi16(wv, 4), m4); \
                if (mx) { /* Q4_0's nibble is already the unsigned operand */                            \
                    lo = _mm256_shuffle_epi8(table, lo);                                                 \
                    hi = _mm256_shuffle_epi8(table, hi);                                                 \
                }                                                                                        \
                __m256i d = DOTU(lo, _mm256_load_si256((const __m256i *)(v->q + c * 64)), hi,            \
                                 _mm256_load_si256((const __m256i *)(v->q + c * 64 + 32)));              \
                float s0 = mx ? tk_e8m0_f32_table[p[0]] : _cvtsh_ss(le16(p));                            \
                float s1 = mx ? tk_e8m0_f32_table[p[bytes]] : _cvtsh_ss(le16(p + bytes));                \
                __m256 s = _mm256_set_m128(_mm_set1_ps(s1), _mm_set1_ps(s0));                            \
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(s, _mm256_load_ps(v->dx + c * 8)), acc); \
                cor = _mm256_fmadd_ps(s, _mm256_load_ps(v->corr + c * 8), cor);                          \
            }                                                                                            \
            y[r] = hsum256(_mm256_sub_ps(acc, cor));                                                     \
        }                                                                                                \
    }                                                                                                    \
                                                                                                         \
    TARGET void tk__gemv_mxfp4_##SUFFIX(const tk_weights *w, const float *x, float *y, int64_t rb,       \
                                        int64_t re) {                                                    \
        nvx v; /* doubled table: half the E8M0 scale */                                                  \
        if (w->cols % 64 != 0 || nvx_init(&v, x, w->cols, SPLIT_HALVES, 12.0f, 0.5f) != 0) {             \
            mxfp4_any_##SUFFIX(w, x, y, rb, re);                                                         \
            return;                                                                                      \
        }                                                                                                \
        blocks32_##SUFFIX(w, &v, y, rb, re, 1);                                                          \
        free(v.heap);                                                                                    \
    }                                                                                                    \
                                                                                                         \
    TARGET void tk__gemv_q4_0_##SUFFIX(const tk_weights *w, const float *x, float *y, int64_t rb,        \
                                       int64_t re) {                                                     \
        nvx v; /* q - 8: the nibble itself is the unsigned operand, offset 8 */                          \
        if (w->cols % 64 != 0 || nvx_init(&v, x, w->cols, SPLIT_HALVES, 8.0f, 1.0f) != 0) {              \
            q4_0_any_##SUFFIX(w, x, y, rb, re);                                                          \
            return;                                                                                      \
        }                                                                                                \
        blocks32_##SUFFIX(w, &v, y, rb, re, 0);                                                          \
        free(v.heap);                                                                                    \
    }

// Q8_0 with x rounded to int16 per 32-value block (d = amax / 32767): each x_i moves by at most
// d/2, 256 times less than with int8 activations, which moved SmolLM2's head logits by 0.12-0.28
// (bench/RESULTS.md, 2026-11-30); weights widen to int16 (vpmovsxbw), vpmaddwd sums pairs exactly in int32 (at most
// 4 x 127 x 32767 per lane, exact in f32 too), one f32 FMA per block.
TK_AVX2 static void quantize_x16(const float *x, int64_t n, int16_t *xq, float *dx) {
    for (int64_t b = 0; b < n / 32; b++) {
        __m256i i[4];
        tk__quantize_block32(x, n, b, 32767.0f, 2, xq + b * 32, dx + b, i);
    }
}

TK_AVX2 static inline __m256i q8_block_dot16(const uint8_t *qs, const int16_t *xq) {
    __m256i w0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)qs));
    __m256i w1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(qs + 16)));
    return _mm256_add_epi32(_mm256_madd_epi16(w0, _mm256_loadu_si256((const __m256i *)xq)),
                            _mm256_madd_epi16(w1, _mm256_loadu_si256((const __m256i *)(xq + 16))));
}

TK_AVX2 void tk__gemv_q8_0_int16_avx2(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, nb = n / 32;
    int16_t stack_q[8192] __attribute__((aligned(32)));
    float stack_d[256];
    int16_t *xq = stack_q;
    float *dx = stack_d;
    void *heap = NULL;
    if (n > 8192) {
        heap = malloc((size_t)n * sizeof(int16_t) + (size_t)nb * sizeof(float));
        if (!heap) return;
        xq = heap;
        dx = (float *)(xq + n);
    }
    quantize_x16(x, n, xq, dx);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 34;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2, p += 68) {
            __m256i d0 = q8_block_dot16(p + 2, xq + b * 32), d1 = q8_block_dot16(p + 36, xq + b * 32 + 32);
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d0), _mm256_set1_ps(_cvtsh_ss(le16(p)) * dx[b]), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d1), _mm256_set1_ps(_cvtsh_ss(le16(p + 34)) * dx[b + 1]), a1);
        }
        if (b < nb)
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(q8_block_dot16(p + 2, xq + b * 32)),
                                 _mm256_set1_ps(_cvtsh_ss(le16(p)) * dx[b]), a0);
        y[r] = hsum256(_mm256_add_ps(a0, a1));
    }
    free(heap);
}

DEFINE_INT_KERNELS(int_avx2, TK_AVX2, DOT_AVX2)
DEFINE_INT_KERNELS(int_vnni, TK_AVX512, DOT_VNNI)
DEFINE_NVFP4_64(int_avx2, TK_AVX2, DOTU_AVX2)
DEFINE_NVFP4_64(int_vnni, TK_AVX512, DOTU_VNNI)

#endif
