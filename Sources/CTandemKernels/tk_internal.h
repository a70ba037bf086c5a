// Internal to CTandemKernels (not in include/, so Swift never sees it): the small helpers, target
// attributes and kernel entry points that more than one kernel file uses, defined once here.
//
// Test harnesses may predefine TK_AVX2 and TK_AVX512 (empty) before including a kernel file, to
// compile its SIMD kernels against emulated intrinsics (CTandemKernelsEmulated); normal builds
// leave them alone.
#ifndef TANDEM_TK_INTERNAL_H
#define TANDEM_TK_INTERNAL_H

#include "tandem_gemv.h"
#include "tandem_kernels.h"
#include "tandem_pool.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

/// A little-endian 16-bit field (f16 scales, bf16 values) at any alignment.
static inline uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/// The GEMM's integer route (gemm_int8.c on x86-64, gemm_int_neon.c on AArch64): a call's
/// activations, each token quantised per 32-value block to int8 or int16 (es bytes each; q: cp
/// values per token, cols padded to 32), its scales dx and dx x sum(q) (sx, for Q4_1's minimum) per
/// block, and per weight block (32 values, NVFP4 16) -off x sum(q) (corr, the int8 route's offset).
/// On AArch64 the weights are signed and Q4_1 takes the float route, so sx and corr stay NULL.
typedef struct {
    void *q;
    float *dx, *sx;
    int32_t *corr;
    int64_t cp, nb, nsb, es;
    void *heap;
} tk__gemm_xq;
/// Quantises tokens [0, n) of x (ldx floats apart, cols each) for weights of `type`. 0 or -1.
int tk__gemm_xq_init(tk_type type, const float *x, int64_t ldx, int64_t n, int64_t cols, tk__gemm_xq *xq);
void tk__gemm_xq_free(tk__gemm_xq *xq);

// ---- x86-64: target attributes and horizontal sums ----
#if defined(__x86_64__)
#include <immintrin.h>

/// The AVX2 path's functions (gemv_avx2.c, gemv_int8.c, gemm.c, the attention files).
#ifndef TK_AVX2
#define TK_AVX2 __attribute__((target("avx2,fma,f16c")))
#endif
/// The AVX-512 path's functions (gemv_avx512.c, gemv_int8.c's VNNI kernels).
#ifndef TK_AVX512
#define TK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
#endif

/// The sum of 8 lanes in one fixed order, ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)): the order the
/// portable GEMM tile (gemm.c) sums its 8 partial sums in.
TK_AVX2 static inline float hsum256(__m256 v) {
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    b = _mm_add_ps(b, _mm_movehl_ps(b, b));
    b = _mm_add_ss(b, _mm_movehdup_ps(b));
    return _mm_cvtss_f32(b);
}

/// Four 8-lane sums → one vector of their four totals (lanes 0-3), the same order for every key.
TK_AVX2 static inline __m128 hsum4x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/// A 32-bit field (four int8 activations) at any alignment.
static inline int32_t tk__ld32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/// The largest |x| of 32 values held in four vectors.
TK_AVX2 static inline float tk__amax32(__m256 v0, __m256 v1, __m256 v2, __m256 v3) {
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_and_ps(v0, absmask), _mm256_and_ps(v1, absmask)),
                             _mm256_max_ps(_mm256_and_ps(v2, absmask), _mm256_and_ps(v3, absmask)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/// 32 values of x rounded to integers on a symmetric grid of `levels` steps each side of 0 (127 for
/// int8, 32767 for int16): the step amax / levels goes to *d, the rounded values (still int32) to i.
TK_AVX2 static inline void tk__round32(const float *xb, float levels, float *d, __m256i i[4]) {
    __m256 v[4];
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu_ps(xb + 8 * k);
    float amax = tk__amax32(v[0], v[1], v[2], v[3]);
    *d = amax / levels;
    __m256 id = _mm256_set1_ps(amax > 0.0f ? levels / amax : 0.0f);
    for (int k = 0; k < 4; k++) i[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], id));
}

/// Block b of x (n values; a tail block padded with zeros) rounded by tk__round32 on the grid of
/// `levels`, stored at q in value order as int8 (es 1) or int16 (es 2): the activation quantiser
/// of the GEMV's and the GEMM's integer routes. The step goes to *d, the rounded values (int32) to
/// i for callers that sum them.
TK_AVX2 static inline void tk__quantize_block32(const float *x, int64_t n, int64_t b, float levels, int es, void *q,
                                                float *d, __m256i i[4]) {
    float tmp[32];
    const float *xb = x + b * 32;
    if (n - b * 32 < 32) {
        memset(tmp, 0, sizeof tmp);
        memcpy(tmp, xb, (size_t)(n - b * 32) * sizeof(float));
        xb = tmp;
    }
    tk__round32(xb, levels, d, i);
    if (es == 1) {
        const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
        _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(p, order));
    } else {
        // packs works per 128-bit lane: [0-3 | 8-11 || 4-7 | 12-15] → reorder the 64-bit quarters
        int16_t *q16 = q;
        _mm256_storeu_si256((__m256i *)q16, _mm256_permute4x64_epi64(_mm256_packs_epi32(i[0], i[1]), 0xD8));
        _mm256_storeu_si256((__m256i *)(q16 + 16), _mm256_permute4x64_epi64(_mm256_packs_epi32(i[2], i[3]), 0xD8));
    }
}

/// Rows [rb, re) of Y (tokens ldy floats apart) for all n tokens of xq. 0 or -1 (no memory).
int tk__gemm_int_rows_avx2(const tk_weights *w, const tk__gemm_xq *xq, float *y, int64_t ldy, int64_t n,
                           int64_t rb, int64_t re);
int tk__gemm_int_rows_vnni(const tk_weights *w, const tk__gemm_xq *xq, float *y, int64_t ldy, int64_t n,
                           int64_t rb, int64_t re);
#endif

// ---- AArch64 (or its emulation in tests): target attributes ----
#if defined(__aarch64__) || defined(TK_NEON_EMULATED)
/// The NEON path's functions (gemv_neon.c): Advanced SIMD is part of every AArch64 core.
#ifndef TK_NEON
#define TK_NEON
#endif
/// The dot-product path's functions (FEAT_DotProd: sdot/udot).
#ifndef TK_DOTPROD
#if defined(__clang__)
#define TK_DOTPROD __attribute__((target("dotprod")))
#else
#define TK_DOTPROD __attribute__((target("arch=armv8.2-a+dotprod")))
#endif
#endif
/// Functions that use FEAT_I8MM (smmla), run on the dot-product path when the CPU has it.
#ifndef TK_I8MM
#if defined(__clang__)
#define TK_I8MM __attribute__((target("dotprod,i8mm")))
#else
#define TK_I8MM __attribute__((target("arch=armv8.2-a+dotprod+i8mm")))
#endif
#endif
#endif

// ---- the GEMV kernels (gemv_dispatch.c picks one per path and format and checks the arguments) ----
/// Rows [rb, re) of y = W x; w, x and y already checked, rb < re.
typedef void (*tk__gemv_kernel)(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re);
#if defined(__x86_64__)
// Float route (gemv_avx2.c, gemv_avx512.c): FP8 and Q4_1.
void tk__gemv_fp8_avx2(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_fp8_avx512(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q4_1_avx2(const tk_weights *, const float *, float *, int64_t, int64_t); // both x86 paths
// Integer route (gemv_int8.c): the 4-bit formats (int8 x) and Q8_0 (int16 x).
void tk__gemv_nvfp4_int_avx2(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_mxfp4_int_avx2(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q4_0_int_avx2(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_nvfp4_int_vnni(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_mxfp4_int_vnni(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q4_0_int_vnni(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q8_0_int16_avx2(const tk_weights *, const float *, float *, int64_t, int64_t); // both x86 paths
// K-quants, float route (gemv_kquant_avx2.c), both x86 paths.
void tk__gemv_q2_k_avx2(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q3_k_avx2(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q4_k_avx2(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q5_k_avx2(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q6_k_avx2(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_iq4_nl_avx2(const tk_weights *, const float *, float *, int64_t, int64_t);
#endif
#if defined(__aarch64__) || defined(TK_NEON_EMULATED)
// gemv_neon.c: float route (both Arm paths), Q8_0 with int16 x (both), and the integer route of
// the 4-bit formats on the NEON path (_neon: smull/sadalp) and the dot-product path (_dot: sdot).
void tk__gemv_fp8_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q4_1_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q8_0_int16_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q2_k_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q3_k_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q4_k_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q5_k_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q6_k_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_iq4_nl_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q4_0_int_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_mxfp4_int_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_nvfp4_int_neon(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_q4_0_int_dot(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_mxfp4_int_dot(const tk_weights *, const float *, float *, int64_t, int64_t);
void tk__gemv_nvfp4_int_dot(const tk_weights *, const float *, float *, int64_t, int64_t);
/// gemv_neon.c's activation quantisers, shared with the GEMM's integer route (gemm_int_neon.c) so
/// that both round a token alike: x (n values) → int8 blocks of 32 (tail padded with zeros; NVFP4's
/// GEMV stores each block evens-then-odds, `deinterleave`), or → int16 blocks (n a multiple of 32),
/// and one step per block into dx.
void tk__quantize_x8_neon(const float *x, int64_t n, int8_t *xq, float *dx, int deinterleave);
void tk__quantize_x16_neon(const float *x, int64_t n, int16_t *xq, float *dx);
/// gemm_int_neon.c: the GEMM's integer route, rows [rb, re) of Y for all n tokens of xq, on the
/// dot-product path (`dot` 1: smmla when tk__arm_has_i8mm, else sdot by element) or the NEON path
/// (0). 0, or -1 (no memory).
int tk__gemm_int_rows_neon(const tk_weights *w, const tk__gemm_xq *xq, float *y, int64_t ldy, int64_t n,
                           int64_t rb, int64_t re, int dot);
/// gemv_dispatch.c: whether this CPU has FEAT_I8MM (the dot-product path's GEMM then uses smmla).
int tk__arm_has_i8mm(void);
/// gemm_neon.c: Y[t * ldy + i] = row i of W (cols floats each) · token t of X, for nr ≤ 3 rows and
/// nt ≤ 4 tokens (both AArch64 paths).
void tk__gemm_tile_neon(const float *W, int64_t nr, const float *X, int64_t ldx, int64_t nt, float *Y,
                        int64_t ldy, int64_t cols);
/// attention_neon.c: one query head as tk__attention_paged_f32 computes it (`rows`: len scratch
/// slots; `sink`: the head's attention sink or NULL).
void tk__attention_f32_neon(float *out, const float *q, const float *k_base, const float *v_base,
                            const int32_t *table, int64_t block_size, int64_t stride, int64_t len,
                            int64_t hd, float *scores, int64_t *rows, int64_t first, float softcap, const float *sink);
/// attention_fp8_neon.c: the g query heads sharing one KV head over an FP8 cache, as attention_fp8.c's
/// x86 group kernel (`wide`: 32 × hd floats of scratch; rows, slots: len each).
void tk__attention_fp8_group_neon(float *out, const float *q, int64_t g, const uint8_t *k_codes,
                                  const uint8_t *v_codes, const float *k_scales, const float *v_scales,
                                  int64_t scale_stride, const int32_t *table, int64_t block_size, int64_t stride,
                                  int64_t len, int64_t hd, float *scores, int64_t *rows, int64_t *slots, float *wide,
                                  int64_t first, float softcap, const float *sinks);
#endif

// ---- step attention (attention_f32.c, attention_fp8.c) and the GEMM: path choice, work split ----

/// Whether a path runs the AVX2 bodies (the AVX-512 path reuses them for these kernels).
static inline int tk__uses_avx2(tk_gemv_path path) {
#if defined(__x86_64__)
    return path == TK_PATH_AVX2 || path == TK_PATH_AVX512;
#else
    (void)path;
    return 0;
#endif
}

/// Whether a path runs the NEON bodies (the dot-product path reuses them where it has none of its own).
static inline int tk__uses_neon(tk_gemv_path path) {
#if defined(__aarch64__)
    return path == TK_PATH_NEON || path == TK_PATH_DOTPROD;
#else
    (void)path;
    return 0;
#endif
}

/// The GEMM's activation width for `type` on `path` (gemm_int8.c, gemm_int_neon.c): 8 or 16 on the
/// integer route, 0 on the float route.
int tk__gemm_int_route(tk_gemv_path path, tk_type type);

/// The first position a query at `len - 1` attends to under a sliding window of `window`
/// positions (itself included; 0: no window).
static inline int64_t tk__window_first(int64_t len, int64_t window) {
    return window > 0 && len > window ? len - window : 0;
}

/// Where positions [0, len) of a sequence live: out[p] = (table[p / block_size] * block_size +
/// p % block_size) * stride, `table` listing the sequence's K/V blocks of block_size positions.
static inline void tk__table_rows(const int32_t *table, int64_t block_size, int64_t len, int64_t stride, int64_t *out) {
    for (int64_t p = 0, b = 0; p < len; b++) {
        const int64_t base = (int64_t)table[b] * block_size;
        for (int64_t k = 0; k < block_size && p < len; k++, p++) out[p] = (base + k) * stride;
    }
}

/// The first position a query at `len - 1` attends to: its chunk's start under chunked attention
/// (`chunk` > 0: Llama 4's local layers attend within aligned blocks of `chunk` positions), else
/// as tk__window_first.
static inline int64_t tk__attention_first(int64_t len, int64_t window, int64_t chunk) {
    return chunk > 0 ? (len - 1) / chunk * chunk : tk__window_first(len, window);
}

/// kernels.c: the portable attention of one query head (tk_attention_paged_ex, tk_attention_paged_fp8_ex)
/// with an attention sink (`sink`: the head's logit, or NULL).
void tk__attention_paged_f32(float *out, const float *q, const float *k_base, const float *v_base,
                             const int32_t *block_table, int64_t block_size, int64_t token_stride, int64_t len,
                             int64_t head_dim, float *scores, int64_t first, float softcap, const float *sink);
void tk__attention_paged_fp8(float *out, const float *q, const uint8_t *k_codes, const uint8_t *v_codes,
                             const float *k_scales, const float *v_scales, int64_t scale_stride,
                             const int32_t *block_table, int64_t block_size, int64_t token_stride, int64_t len,
                             int64_t head_dim, float *scores, int64_t first, float softcap, const float *sink);

/// Scaled scores of one query: positions before `first` leave the softmax (-inf); with
/// `softcap` > 0 each score becomes softcap * tanh(score / softcap) (Gemma 2's logit capping).
static inline void tk__shape_scores(float *scores, int64_t len, int64_t first, float softcap) {
    for (int64_t t = 0; t < first && t < len; t++) scores[t] = -INFINITY;
    if (softcap > 0)
        for (int64_t t = first; t < len; t++) scores[t] = softcap * tanhf(scores[t] / softcap);
}

/// The softmax of one query's `len` scaled scores, in place, as every attention path computes it:
/// window and soft-cap (tk__shape_scores), then exp(score - max) / sum, the sum in float in
/// position order. `sink` (NULL: none): an attention sink's logit (gpt-oss: one learned score per
/// head that joins the normalisation but carries no value, so the weights sum to less than one).
static inline void tk__attention_softmax(float *scores, int64_t len, int64_t first, float softcap, const float *sink) {
    tk__shape_scores(scores, len, first, softcap);
    float mx = sink ? *sink : -INFINITY;
    for (int64_t t = 0; t < len; t++)
        if (scores[t] > mx) mx = scores[t];
    float sum = sink ? expf(*sink - mx) : 0;
    for (int64_t t = 0; t < len; t++) {
        scores[t] = expf(scores[t] - mx);
        sum += scores[t];
    }
    const float inv = 1.0f / sum;
    for (int64_t t = 0; t < len; t++) scores[t] *= inv;
}

/// The FP8 group kernels' softmax (attention_fp8.c, attention_fp8_neon.c): for each of the `g`
/// heads' `len` raw scores (q·k of the widened codes times the key scale and 2^8), scale, then
/// tk__attention_softmax (with head h's sink `sinks[h]` where `sinks` is not NULL), then fold in
/// each value's scale and 2^8 so the weights multiply the widened value codes directly; zeroes the
/// heads' `hd` outputs for the accumulation that follows.
static inline void tk__fp8_group_softmax(float *scores, int64_t g, int64_t len, float scale, int64_t first, float softcap,
                                         const float *sinks, const float *v_scales, const int64_t *slots, float *out,
                                         int64_t hd) {
    for (int64_t h = 0; h < g; h++) {
        float *sc = scores + h * len;
        for (int64_t t = 0; t < len; t++) sc[t] *= scale;
        tk__attention_softmax(sc, len, first, softcap, sinks ? sinks + h : NULL);
        for (int64_t t = 0; t < len; t++) sc[t] *= 256.0f * v_scales[slots[t]];
        for (int64_t d = 0; d < hd; d++) out[h * hd + d] = 0;
    }
}

#if defined(__x86_64__)
/// e^x for 8 floats (Cephes' expf: x = n ln2 + r, a degree-6 polynomial in r, 2^n through the
/// exponent bits): within 2 ulp of expf for x in [-87, 88.37]; 0 below -87 (and for -inf); x above
/// 88.37 is clamped.
TK_AVX2 static inline __m256 tk__exp256(__m256 x) {
    const __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_GE_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.3762626647949f));
    __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_set1_ps(1.9875691500e-4f);
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
    y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(y, _mm256_castsi256_ps(e)), keep);
}

/// tk__attention_softmax with the exponentials 8 at a time (tk__exp256) and the sum in 8 lanes:
/// the same weights to within a few f32 ulps. The x86 f32 attention kernel's softmax.
TK_AVX2 static inline void tk__attention_softmax_avx2(float *scores, int64_t len, int64_t first, float softcap,
                                                      const float *sink) {
    tk__shape_scores(scores, len, first, softcap);
    float mx = sink ? *sink : -INFINITY;
    for (int64_t t = 0; t < len; t++)
        if (scores[t] > mx) mx = scores[t];
    const __m256 m = _mm256_set1_ps(mx);
    __m256 acc = _mm256_setzero_ps();
    int64_t t = 0;
    for (; t + 8 <= len; t += 8) {
        __m256 e = tk__exp256(_mm256_sub_ps(_mm256_loadu_ps(scores + t), m));
        _mm256_storeu_ps(scores + t, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = (sink ? expf(*sink - mx) : 0) + hsum256(acc);
    for (; t < len; t++) {
        scores[t] = expf(scores[t] - mx);
        sum += scores[t];
    }
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (t = 0; t + 8 <= len; t += 8) _mm256_storeu_ps(scores + t, _mm256_mul_ps(_mm256_loadu_ps(scores + t), inv));
    for (; t < len; t++) scores[t] *= 1.0f / sum;
}
#endif

/// positions[t] + 1 at the most over the step's tokens (at least 1), or -1 if a position is negative.
static inline int64_t tk__step_max_len(const int64_t *positions, int64_t tokens) {
    int64_t max_len = 1;
    for (int64_t t = 0; t < tokens; t++) {
        if (positions[t] < 0) return -1;
        if (positions[t] + 1 > max_len) max_len = positions[t] + 1;
    }
    return max_len;
}

/// Runs task over `items` independent items, on the kernel threads when the step has enough work
/// (`work`: items x context length; one decode token's heads over a short context is too little to
/// hand out), else on this thread. The task deals items round-robin by its (task, ntasks).
static inline void tk__run_step(tk_task_fn task, void *job, int64_t items, int64_t work) {
    int threads = tk_threads_get();
    if (threads > 1 && work >= 4096) {
        int64_t tasks = items < threads ? items : threads;
        if (tk_threads_run(task, job, tasks) == 0) return;
    }
    task(job, 0, 1);
}

#endif
