// Blocked GEMM (tandem_gemm.h): dequantise a panel of rows once, multiply it with blocks of tokens.
#include "tandem_gemm.h"
#include "tandem_formats.h"
#include "tandem_pool.h"
#include "kquants.h"
#include "tk_internal.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/// Rows dequantised together (a multiple of the 3-row tile). 12 rows of 8192 columns: 384 KiB.
#define PANEL_ROWS 12
/// Bytes of tokens (X rows) multiplied with one panel before moving on: about half an L2.
#define TOKEN_BLOCK_BYTES (256 * 1024)

// ---- row dequantisation into the scratch panel ----

#if defined(__x86_64__)
TK_AVX2 static void dq_f16_avx2(const uint8_t *p, float *d, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 2 * i))));
    for (; i < n; i++) d[i] = _cvtsh_ss(le16(p + 2 * i));
}

TK_AVX2 static void dq_q8_0_avx2(const uint8_t *p, float *d, int64_t n) {
    for (int64_t b = 0; b < n / 32; b++, p += 34, d += 32) {
        __m256 s = _mm256_set1_ps(_cvtsh_ss(le16(p)));
        for (int j = 0; j < 32; j += 8) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p + 2 + j)));
            _mm256_storeu_ps(d + j, _mm256_mul_ps(s, _mm256_cvtepi32_ps(q)));
        }
    }
}

/// FP8 E4M3 codes times `scale`: a code c (not NaN) is the f16 with bits (c & 0x80) << 8 | (c & 0x7F) << 7
/// times 2^8, so F16C converts 8 at a time; (f16 value) x (256 x scale) is the same single product,
/// rounded once, as the portable e4m3 x scale. (A NaN code reads as 480 x scale.)
TK_AVX2 static void dq_fp8_avx2(const uint8_t *p, float *d, int64_t n, float scale) {
    const __m256 s = _mm256_set1_ps(scale * 256.0f);
    const __m128i sign = _mm_set1_epi16((short)0x8000), mag = _mm_set1_epi16(0x3F80);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i c = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(p + i)));
        __m128i h = _mm_or_si128(_mm_and_si128(_mm_slli_epi16(c, 8), sign), _mm_and_si128(_mm_slli_epi16(c, 7), mag));
        _mm256_storeu_ps(d + i, _mm256_mul_ps(_mm256_cvtph_ps(h), s));
    }
    for (; i < n; i++) d[i] = tk_e4m3_to_f32(p[i]) * scale;
}

/// Q4_0 (offset -8, no minimum) and Q4_1 (minimum m) share the nibble split.
TK_AVX2 static void dq_q4_avx2(const uint8_t *p, float *d, int64_t n, int with_min) {
    const int64_t bytes = with_min ? 20 : 18;
    const __m128i low = _mm_set1_epi8(0x0F);
    for (int64_t b = 0; b < n / 32; b++, p += bytes, d += 32) {
        __m256 s = _mm256_set1_ps(_cvtsh_ss(le16(p)));
        __m128i raw = _mm_loadu_si128((const __m128i *)(p + (with_min ? 4 : 2)));
        __m128i lo = _mm_and_si128(raw, low), hi = _mm_and_si128(_mm_srli_epi16(raw, 4), low);
        __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        __m256 add = with_min ? _mm256_set1_ps(_cvtsh_ss(le16(p + 2))) : _mm256_setzero_ps();
        __m256i off = _mm256_set1_epi32(with_min ? 0 : 8);
        for (int k = 0; k < 4; k++) {
            __m256i q = _mm256_sub_epi32(_mm256_cvtepu8_epi32(parts[k]), off);
            __m256 v = _mm256_mul_ps(s, _mm256_cvtepi32_ps(q));
            _mm256_storeu_ps(d + 8 * k, with_min ? _mm256_add_ps(v, add) : v);
        }
    }
}

/// IQ4_NL: Q4_0's block layout, the nibbles looked up in the 16-value table (pshufb) instead of
/// offset by 8; d times the table value, the same single product as the portable dequantiser.
TK_AVX2 static void dq_iq4_nl_avx2(const uint8_t *p, float *d, int64_t n) {
    const __m128i low = _mm_set1_epi8(0x0F), table = _mm_loadu_si128((const __m128i *)tk__iq4nl_values);
    for (int64_t b = 0; b < n / 32; b++, p += 18, d += 32) {
        __m256 s = _mm256_set1_ps(_cvtsh_ss(le16(p)));
        __m128i raw = _mm_loadu_si128((const __m128i *)(p + 2));
        __m128i lo = _mm_shuffle_epi8(table, _mm_and_si128(raw, low));
        __m128i hi = _mm_shuffle_epi8(table, _mm_and_si128(_mm_srli_epi16(raw, 4), low));
        __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
        for (int k = 0; k < 4; k++) _mm256_storeu_ps(d + 8 * k, _mm256_mul_ps(s, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[k]))));
    }
}
#endif

/// Rows [r0, r1) of w dequantised into out ((r1 - r0) × cols). Returns 0 or -1.
static int dequantize_rows(const tk_weights *w, int avx2, int64_t r0, int64_t r1, float *out) {
    const int64_t cols = w->cols;
    const tk_type type = w->format;
    const size_t rb = tk_row_bytes(type, cols);
    switch (type) {
    // The formats whose scales live outside the rows.
    case TK_FP8_E4M3:
        for (int64_t r = r0; r < r1; r++, out += cols) {
            const uint8_t *src = (const uint8_t *)w->data + (size_t)r * rb;
            const float scale = w->scale * (w->row_scales ? w->row_scales[r] : 1.0f);
#if defined(__x86_64__)
            if (avx2 && fabsf(scale) < 1e30f) {
                dq_fp8_avx2(src, out, cols, scale);
                continue;
            }
#endif
            tk_dequantize_row_fp8_e4m3(src, out, cols, scale);
        }
        return 0;
    case TK_NVFP4:
        for (int64_t r = r0; r < r1; r++, out += cols)
            if (tk_dequantize_row_nvfp4((const uint8_t *)w->data + (size_t)r * rb,
                                        w->block_scales + (size_t)r * (size_t)(cols / 16), w->scale, out, cols))
                return -1;
        return 0;
    default: break;
    }
    for (int64_t r = r0; r < r1; r++, out += cols) {
        const uint8_t *src = (const uint8_t *)w->data + (size_t)r * rb;
#if defined(__x86_64__)
        if (avx2) {
            switch (type) {
            case TK_F16: dq_f16_avx2(src, out, cols); continue;
            case TK_Q8_0: dq_q8_0_avx2(src, out, cols); continue;
            case TK_Q4_0: dq_q4_avx2(src, out, cols, 0); continue;
            case TK_Q4_1: dq_q4_avx2(src, out, cols, 1); continue;
            case TK_IQ4_NL: dq_iq4_nl_avx2(src, out, cols); continue;
            default: break;
            }
        }
#else
        (void)avx2;
#endif
        if (tk_dequantize_row(type, src, out, cols)) return -1;
    }
    return 0;
}

// ---- micro-kernels: Y[t][r] for a tile of nr rows × nt tokens ----

static void tile_portable(const float *W, int64_t nr, const float *X, int64_t ldx, int64_t nt, float *Y,
                          int64_t ldy, int64_t cols) {
    for (int64_t i = 0; i < nr; i++)
        for (int64_t t = 0; t < nt; t++) {
            const float *a = W + i * cols, *b = X + t * ldx;
            float s[8] = {0};
            int64_t c = 0;
            for (; c + 8 <= cols; c += 8)
                for (int k = 0; k < 8; k++) s[k] += a[c + k] * b[c + k];
            float tail = 0;
            for (; c < cols; c++) tail += a[c] * b[c];
            Y[t * ldy + i] = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7])) + tail;
        }
}

#if defined(__x86_64__)
/// NR × NT tile (NR ≤ 3, NT ≤ 4, compile-time after inlining): one accumulator per pair, summed
/// by hsum256 (tk_internal.h) in the order tile_portable uses.
#define TILE_BODY(NR, NT)                                                                         \
    do {                                                                                          \
        __m256 acc[NR][NT];                                                                       \
        for (int i = 0; i < NR; i++)                                                              \
            for (int t = 0; t < NT; t++) acc[i][t] = _mm256_setzero_ps();                         \
        int64_t c = 0;                                                                            \
        for (; c + 8 <= cols; c += 8) {                                                           \
            __m256 wv[NR];                                                                        \
            for (int i = 0; i < NR; i++) wv[i] = _mm256_loadu_ps(W + i * cols + c);               \
            for (int t = 0; t < NT; t++) {                                                        \
                __m256 xv = _mm256_loadu_ps(X + t * ldx + c);                                     \
                for (int i = 0; i < NR; i++) acc[i][t] = _mm256_fmadd_ps(wv[i], xv, acc[i][t]);   \
            }                                                                                     \
        }                                                                                         \
        for (int i = 0; i < NR; i++)                                                              \
            for (int t = 0; t < NT; t++) {                                                        \
                float tail = 0;                                                                   \
                for (int64_t k = c; k < cols; k++) tail += W[i * cols + k] * X[t * ldx + k];      \
                Y[t * ldy + i] = hsum256(acc[i][t]) + tail;                                       \
            }                                                                                     \
    } while (0)

#define TILE_FN(NR, NT)                                                                           \
    TK_AVX2 static void tile_##NR##x##NT(const float *W, const float *X, int64_t ldx, float *Y,   \
                                         int64_t ldy, int64_t cols) {                             \
        TILE_BODY(NR, NT);                                                                        \
    }
TILE_FN(3, 4) TILE_FN(3, 3) TILE_FN(3, 2) TILE_FN(3, 1)
TILE_FN(2, 4) TILE_FN(2, 3) TILE_FN(2, 2) TILE_FN(2, 1)
TILE_FN(1, 4) TILE_FN(1, 3) TILE_FN(1, 2) TILE_FN(1, 1)

typedef void (*tile_fn)(const float *, const float *, int64_t, float *, int64_t, int64_t);
static const tile_fn tiles[3][4] = {
    {tile_1x1, tile_1x2, tile_1x3, tile_1x4},
    {tile_2x1, tile_2x2, tile_2x3, tile_2x4},
    {tile_3x1, tile_3x2, tile_3x3, tile_3x4},
};
#endif

// ---- driver ----

static _Thread_local float *scratch;
static _Thread_local size_t scratch_floats;

static float *panel_scratch(size_t floats) {
    if (scratch_floats < floats) {
        free(scratch);
        scratch = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        scratch_floats = scratch ? floats : 0;
    }
    return scratch;
}

/// Every tk_type: what tk_matvec takes, and the formats whose scales live outside the rows.
static int gemm_supports(tk_type type) {
    return tk_matvec_supports(type) || type == TK_FP8_E4M3 || type == TK_NVFP4;
}

/// TK_OK, or why w cannot be multiplied.
static int check(const tk_weights *w) {
    if (!w) return TK_ERR_INVALID;
    if (!gemm_supports(w->format)) return TK_ERR_UNSUPPORTED_TYPE;
    if (!w->data || w->cols <= 0 || tk_row_bytes(w->format, w->cols) == 0) return TK_ERR_INVALID;
    return w->format != TK_NVFP4 || w->block_scales != NULL ? TK_OK : TK_ERR_INVALID;
}

/// Rows [r0, r1) (at most one panel) for all n tokens.
static int gemm_panel(const tk_weights *w, int avx2, int neon, const float *x, int64_t ldx, float *y, int64_t ldy,
                      int64_t n, int64_t r0, int64_t r1) {
    const int64_t cols = w->cols, nr = r1 - r0;
    const float *W;
    if (w->format == TK_F32) {
        W = (const float *)w->data + (size_t)r0 * (size_t)cols;
    } else {
        float *s = panel_scratch((size_t)nr * (size_t)cols);
        if (!s) return -1;
        if (dequantize_rows(w, avx2, r0, r1, s)) return -1;
        W = s;
    }
    int64_t tb = TOKEN_BLOCK_BYTES / (cols * 4);
    tb = tb < 4 ? 4 : tb / 4 * 4;
    for (int64_t t0 = 0; t0 < n; t0 += tb) {
        int64_t t1 = t0 + tb < n ? t0 + tb : n;
        for (int64_t i = 0; i < nr; i += 3) {
            int64_t ni = nr - i < 3 ? nr - i : 3;
            for (int64_t t = t0; t < t1; t += 4) {
                int64_t nt = t1 - t < 4 ? t1 - t : 4;
                const float *Wi = W + i * cols, *Xt = x + t * ldx;
                float *Yt = y + t * ldy + r0 + i;
#if defined(__x86_64__)
                if (avx2) {
                    tiles[ni - 1][nt - 1](Wi, Xt, ldx, Yt, ldy, cols);
                    continue;
                }
#endif
#if defined(__aarch64__)
                if (neon) {
                    tk__gemm_tile_neon(Wi, ni, Xt, ldx, nt, Yt, ldy, cols);
                    continue;
                }
#else
                (void)neon;
#endif
                tile_portable(Wi, ni, Xt, ldx, nt, Yt, ldy, cols);
            }
        }
    }
    return 0;
}

/// The integer route (gemm_int8.c, gemm_int_neon.c) for rows [rb, re) of activations already quantised.
static int int_rows(tk_gemv_path path, const tk_weights *w, const void *xq, float *y, int64_t ldy, int64_t n,
                    int64_t rb, int64_t re) {
#if defined(__x86_64__)
    int rc = path == TK_PATH_AVX512 ? tk__gemm_int_rows_vnni(w, xq, y, ldy, n, rb, re)
                                    : tk__gemm_int_rows_avx2(w, xq, y, ldy, n, rb, re);
    return rc ? TK_ERR_INVALID : TK_OK;
#elif defined(__aarch64__)
    return tk__gemm_int_rows_neon(w, xq, y, ldy, n, rb, re, path == TK_PATH_DOTPROD) ? TK_ERR_INVALID : TK_OK;
#else
    (void)path; (void)w; (void)xq; (void)y; (void)ldy; (void)n; (void)rb; (void)re;
    return TK_ERR_INVALID;
#endif
}

int tk_gemm_activation_bits(tk_gemv_path path, tk_type type) {
    if (path == TK_PATH_AUTO) path = tk_gemv_effective_path();
    return tk__gemm_int_route(path, type);
}

int tk_gemm_with_path(tk_gemv_path path, const tk_weights *w, const float *x, int64_t ldx, float *y,
                      int64_t ldy, int64_t n, int64_t row_begin, int64_t row_end) {
    int rc = check(w);
    if (rc != TK_OK) return rc;
    if (!x || !y || n < 0 || row_begin < 0 || row_end < row_begin || ldx < w->cols) return TK_ERR_INVALID;
    if (path == TK_PATH_AUTO) path = tk_gemv_effective_path();
    else if (!tk_gemv_path_supported(path)) return TK_ERR_INVALID;
    if (n > 0 && ldy < row_end) return TK_ERR_INVALID;
#if defined(__x86_64__) || defined(__aarch64__)
    if (n > 0 && row_end > row_begin && tk__gemm_int_route(path, w->format)) {
        tk__gemm_xq xq;
        if (tk__gemm_xq_init(w->format, x, ldx, n, w->cols, &xq)) return TK_ERR_INVALID;
        rc = int_rows(path, w, &xq, y, ldy, n, row_begin, row_end);
        tk__gemm_xq_free(&xq);
        return rc;
    }
#endif
    int avx2 = tk__uses_avx2(path), neon = tk__uses_neon(path);
    for (int64_t r = row_begin; r < row_end && n > 0; r += PANEL_ROWS) {
        int64_t e = r + PANEL_ROWS < row_end ? r + PANEL_ROWS : row_end;
        if (gemm_panel(w, avx2, neon, x, ldx, y, ldy, n, r, e)) return TK_ERR_INVALID;
    }
    return TK_OK;
}

int tk_gemm(const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
            int64_t row_begin, int64_t row_end) {
    return tk_gemm_with_path(TK_PATH_AUTO, w, x, ldx, y, ldy, n, row_begin, row_end);
}

typedef struct {
    const tk_weights *w;
    tk_gemv_path path;
    const float *x;
    const void *xq; // the integer route's quantised activations, or NULL (float route)
    float *y;
    int64_t ldx, ldy, n, row_begin, panels, panel_rows;
    int64_t row_end;
    atomic_int failed;
} gemm_job;

static void gemm_task(void *ctx, int64_t t, int64_t ntasks) {
    gemm_job *j = ctx;
    // Task t takes a contiguous run of panels, so threads do not share cache lines of Y rows.
    int64_t p0 = j->panels * t / ntasks, p1 = j->panels * (t + 1) / ntasks;
    int64_t b = j->row_begin + p0 * j->panel_rows, e = j->row_begin + p1 * j->panel_rows;
    if (e > j->row_end) e = j->row_end;
    if (b >= e) return;
    int rc = j->xq ? int_rows(j->path, j->w, j->xq, j->y, j->ldy, j->n, b, e)
                   : tk_gemm_with_path(j->path, j->w, j->x, j->ldx, j->y, j->ldy, j->n, b, e);
    if (rc) atomic_store(&j->failed, 1);
}

int tk_gemm_mt(const tk_weights *w, const float *x, int64_t ldx, float *y, int64_t ldy, int64_t n,
               int64_t row_begin, int64_t row_end) {
    int rc = check(w);
    if (rc != TK_OK) return rc;
    if (row_end < row_begin) return TK_ERR_INVALID;
    const tk_gemv_path path = tk_gemv_effective_path();
    // The integer route splits 16-row panels (two 8-row groups), the float route 12-row ones.
    const int int_route = tk__gemm_int_route(path, w->format);
    const int64_t panel_rows = int_route ? 16 : PANEL_ROWS;
    int64_t panels = (row_end - row_begin + panel_rows - 1) / panel_rows;
    int threads = tk_threads_get();
    if (threads > 1 && panels >= 2 && n > 0) {
        if (!x || !y || ldx < w->cols || ldy < row_end || row_begin < 0) return TK_ERR_INVALID;
        gemm_job j = {.w = w, .path = path, .x = x, .y = y, .ldx = ldx, .ldy = ldy, .n = n,
                      .row_begin = row_begin, .row_end = row_end, .panels = panels, .panel_rows = panel_rows};
        atomic_init(&j.failed, 0);
        int64_t tasks = panels < threads ? panels : threads;
#if defined(__x86_64__) || defined(__aarch64__)
        tk__gemm_xq xq;
        if (int_route) {
            // Quantised once for every thread.
            if (tk__gemm_xq_init(w->format, x, ldx, n, w->cols, &xq)) return TK_ERR_INVALID;
            j.xq = &xq;
        }
        int ran = tk_threads_run(gemm_task, &j, tasks) == 0;
        if (int_route) {
            if (!ran) gemm_task(&j, 0, 1);
            tk__gemm_xq_free(&xq);
            return atomic_load(&j.failed) ? TK_ERR_INVALID : TK_OK;
        }
#else
        int ran = tk_threads_run(gemm_task, &j, tasks) == 0;
#endif
        if (ran) return atomic_load(&j.failed) ? TK_ERR_INVALID : TK_OK;
    }
    return tk_gemm(w, x, ldx, y, ldy, n, row_begin, row_end);
}
