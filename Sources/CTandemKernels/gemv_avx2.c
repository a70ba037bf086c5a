// Quantised GEMV, AVX2 (+ FMA, F16C) float-route kernels: FP8 and Q4_1, weights placed exactly
// into f32 lanes by bit placement (no conversion instruction). Q4_0, MXFP4, NVFP4 (int8 x) and
// Q8_0 (int16 x) use the integer route in gemv_int8.c.
// Q4_1 stays on the float route: on the shipped SmolLM2 (Q4_1) the int8-activation route moved the
// logits by KL 0.022 nats (top-1 0.91) from the exact run; this one matches it to f32 rounding.
#include "tandem_gemv.h"
#include "tandem_formats.h"
#include "tk_internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

TK_AVX2 static inline float f16_scalar(const uint8_t *p) { return _cvtsh_ss(le16(p)); }

/// The FP8 and Q4_1 kernels read weights as f32 denormals (FP8 subnormal codes; every Q4_1 nibble):
/// with MXCSR's denormals-are-zero bit set (code built with -ffast-math can set it for the whole
/// process) they would read as 0. Each call clears the bit for its duration and puts it back.
static inline unsigned denormals_in(void) {
    unsigned csr = _mm_getcsr();
    if (csr & 0x0040) _mm_setcsr(csr & ~0x0040u);
    return csr;
}

static inline void denormals_restore(unsigned csr) {
    if (csr & 0x0040) _mm_setcsr(csr);
}

/// FP8 E4M3 through the f32 bit pattern, no conversion instruction: a code's exponent and mantissa
/// bits placed at the f32's low exponent and top mantissa bits (sign at the top) read as the value
/// x 2^-120, subnormals included (f32 denormals then; FMA takes them at full speed on the x86 CPUs
/// measured). x is scaled by 2^64 up front so the products stay normal, and the sum by 2^56 after:
/// all exact powers of two, so the result equals the dequantise-then-dot sum up to f32 rounding
/// order. Two in-lane unpacks take 32 codes to four vectors of 8 floats; x is permuted once per
/// call into the same order ([0-3, 16-19], [4-7, 20-23], [8-11, 24-27], [12-15, 28-31]).
/// (E4M3 NaN codes read as 480 here, as in the F16C version this replaced; the quantiser never
/// writes them.)
TK_AVX2 void tk__gemv_fp8_avx2(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, n32 = n / 32 * 32;
    float stack_x[8192] __attribute__((aligned(32))); // 32 KiB: the widest rows of 1B-8B models, no malloc per call
    float *xp = n32 <= 8192 ? stack_x : aligned_alloc(32, (size_t)(n32 > 0 ? n32 : 32) * sizeof(float));
    if (!xp) return;
    const unsigned csr = denormals_in();
    const __m256 up = _mm256_set1_ps(0x1p64f);
    for (int64_t c = 0; c < n32; c += 32) {
        for (int g = 0; g < 4; g++) {
            __m128 a = _mm_loadu_ps(x + c + 4 * g), b = _mm_loadu_ps(x + c + 16 + 4 * g);
            _mm256_store_ps(xp + c + 8 * g, _mm256_mul_ps(_mm256_set_m128(b, a), up));
        }
    }
    const __m256i keep = _mm256_set1_epi16((short)0x87F0);
    const __m256i zero = _mm256_setzero_si256();
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *q = (const uint8_t *)w->data + (size_t)r * (size_t)n;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (int64_t c = 0; c < n32; c += 32) {
            // code as the high byte of a 16-bit lane, arithmetic shift by 4: sign at bit 15 (and
            // copied into 14-11, masked off), exponent at 10-7, mantissa at 6-4; then as the
            // high half of a 32-bit lane.
            __m256i v = _mm256_loadu_si256((const __m256i *)(q + c));
            __m256i lo = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpacklo_epi8(zero, v), 4), keep);
            __m256i hi = _mm256_and_si256(_mm256_srai_epi16(_mm256_unpackhi_epi8(zero, v), 4), keep);
            a0 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, lo)), _mm256_load_ps(xp + c), a0);
            a1 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, lo)), _mm256_load_ps(xp + c + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, hi)), _mm256_load_ps(xp + c + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, hi)), _mm256_load_ps(xp + c + 24), a3);
        }
        float tail = 0;
        for (int64_t c = n32; c < n; c++) tail += tk_e4m3_f32_table[q[c]] * x[c];
        float s = w->scale * (w->row_scales ? w->row_scales[r] : 1.0f);
        float simd = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        y[r] = (simd * 0x1p56f + tail) * s;
    }
    denormals_restore(csr);
    if (xp != stack_x) free(xp);
}

/// Q4_1 nibbles through the f32 bit pattern, like FP8 above: a nibble q zero-extended into a 32-bit
/// lane reads as the f32 denormal q x 2^-149, so no int-to-float conversion is needed. x is scaled
/// by 2^80 up front and the row's sum by 2^69 at the end (exact powers of two), so each product
/// q·x·2^-69 is normal and the result is the exact dot up to f32 rounding order, for |x| < 2^48
/// (x·2^80 would overflow) and |q·x| ≥ 2^-57 (a smaller product loses bits; its weight in a sum is
/// below the f32 rounding of the other terms unless all of x is that small). One vpmovzxbd per 8
/// bytes gives 8 lanes holding both nibbles of a byte (low = element j, high = element 16 + j): an
/// AND and a shift split them, and x is read in its own order.
///
/// `denormal` 0: each nibble is converted to f32 instead (vcvtdq2ps), no denormal in sight. Intel
/// cores take a microcode assist for every multiply with a denormal input (the denormal form ran
/// about 10x slower than the portable kernel on an Intel Xeon), so Q4_1 runs the converted form
/// there (`tk_gemv_q4_1_denormal_route`). Inlined with a constant `denormal`, so each form is
/// branch-free.
TK_AVX2 static inline __attribute__((always_inline)) __m256 q4_1_nibbles(__m256i q, const int denormal) {
    return denormal ? _mm256_castsi256_ps(q) : _mm256_cvtepi32_ps(q);
}

TK_AVX2 static inline __attribute__((always_inline)) __m256 q4_1_block_dot(const uint8_t *p, const float *xb, const int denormal) {
    const __m256i m4 = _mm256_set1_epi32(0x0F);
    __m256i b0 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 4)));
    __m256i b1 = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(p + 12)));
    __m256 lo = _mm256_mul_ps(q4_1_nibbles(_mm256_and_si256(b0, m4), denormal), _mm256_load_ps(xb));
    lo = _mm256_fmadd_ps(q4_1_nibbles(_mm256_and_si256(b1, m4), denormal), _mm256_load_ps(xb + 8), lo);
    __m256 hi = _mm256_mul_ps(q4_1_nibbles(_mm256_srli_epi32(b0, 4), denormal), _mm256_load_ps(xb + 16));
    hi = _mm256_fmadd_ps(q4_1_nibbles(_mm256_srli_epi32(b1, 4), denormal), _mm256_load_ps(xb + 24), hi);
    return _mm256_add_ps(lo, hi);
}

/// Which Q4_1 block dot the AVX2 kernel uses: 1 the denormal placement (no conversion; fastest
/// where denormal multiplies run at full speed, as on the AMD Zen cores measured), 0 the
/// conversion (Intel). Set from the CPU vendor at first use; a thread may override it for itself.
static int q4_1_vendor_route = -1;
static _Thread_local int q4_1_thread_route = -1;

static int q4_1_route(void) {
    if (q4_1_thread_route >= 0) return q4_1_thread_route;
    int r = __atomic_load_n(&q4_1_vendor_route, __ATOMIC_RELAXED);
    if (r < 0) {
        unsigned a, b, c, d;
        // CPUID leaf 0: vendor "GenuineIntel" is ebx "Genu", edx "ineI", ecx "ntel".
        int intel = __get_cpuid(0, &a, &b, &c, &d) && b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu;
        r = intel ? 0 : 1;
        __atomic_store_n(&q4_1_vendor_route, r, __ATOMIC_RELAXED);
    }
    return r;
}

int tk_gemv_q4_1_denormal_route(int enable) {
    int previous = q4_1_route();
    if (enable >= 0) q4_1_thread_route = enable ? 1 : 0;
    return previous;
}

/// Q4_1 (value = d*q + m): per row sum_b d_b * (q_b . x_b) + m_b * sum(x_b). Per call: x x 2^80 and
/// the block sums of x, laid out as (0, sum_b) pairs. Two blocks per step: their first dwords
/// (d | m << 16) go through one 4-wide F16C conversion to (d0, m0, d1, m1); one FMA against
/// (0, sum_b, 0, sum_b+1) accumulates the m terms, d0 and d1 are broadcast onto two accumulators,
/// and the row's sum is scaled by 2^69 once at the end. `denormal` 0: converted nibbles, no scaling.
TK_AVX2 static inline __attribute__((always_inline)) void q4_1_rows(const tk_weights *w, const float *x, float *y, int64_t rb,
                                                                   int64_t re, const int denormal) {
    const int64_t n = w->cols, nb = n / 32;
    float stack_x[8192] __attribute__((aligned(32))); // 32 KiB: the widest rows of 1B-8B models, no malloc per call
    float stack_sums[512] __attribute__((aligned(16)));
    float *xs = n <= 8192 ? stack_x : aligned_alloc(32, (size_t)(n > 0 ? n : 32) * sizeof(float));
    float *sums = nb <= 256 ? stack_sums : aligned_alloc(16, (size_t)(nb + 1) / 2 * 4 * sizeof(float)); // size: a multiple of 16
    if (!xs || !sums) {
        if (xs != stack_x) free(xs);
        if (sums != stack_sums) free(sums);
        return;
    }
    const unsigned csr = denormal ? denormals_in() : 0;
    const __m256 up = _mm256_set1_ps(denormal ? 0x1p80f : 1.0f);
    const float down = denormal ? 0x1p69f : 1.0f;
    for (int64_t b = 0; b < nb; b++) {
        const float *xb = x + b * 32;
        __m256 v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(xb + 8 * k);
            _mm256_store_ps(xs + b * 32 + 8 * k, _mm256_mul_ps(v[k], up));
        }
        sums[2 * b] = 0.0f;
        sums[2 * b + 1] = hsum256(_mm256_add_ps(_mm256_add_ps(v[0], v[1]), _mm256_add_ps(v[2], v[3])));
    }
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 20;
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        __m128 offs = _mm_setzero_ps();
        int64_t b = 0;
        for (; b + 1 < nb; b += 2, p += 40) {
            int32_t s0, s1;
            memcpy(&s0, p, 4);
            memcpy(&s1, p + 20, 4);
            __m128 dm = _mm_cvtph_ps(_mm_insert_epi32(_mm_cvtsi32_si128(s0), s1, 1));
            offs = _mm_fmadd_ps(dm, _mm_load_ps(sums + 2 * b), offs);
            acc0 = _mm256_fmadd_ps(q4_1_block_dot(p, xs + b * 32, denormal), _mm256_broadcastss_ps(dm), acc0);
            acc1 = _mm256_fmadd_ps(q4_1_block_dot(p + 20, xs + b * 32 + 32, denormal), _mm256_broadcastss_ps(_mm_movehl_ps(dm, dm)), acc1);
        }
        float last = 0.0f;
        if (b < nb) {
            acc0 = _mm256_fmadd_ps(q4_1_block_dot(p, xs + b * 32, denormal), _mm256_set1_ps(f16_scalar(p)), acc0);
            last = f16_scalar(p + 2) * sums[2 * b + 1];
        }
        offs = _mm_add_ps(offs, _mm_movehl_ps(offs, offs)); // lane 1: the m terms of both accumulators
        y[r] = hsum256(_mm256_add_ps(acc0, acc1)) * down + (_mm_cvtss_f32(_mm_shuffle_ps(offs, offs, 1)) + last);
    }
    if (denormal) denormals_restore(csr);
    if (xs != stack_x) free(xs);
    if (sums != stack_sums) free(sums);
}


TK_AVX2 void tk__gemv_q4_1_avx2(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    if (q4_1_route()) q4_1_rows(w, x, y, rb, re, 1);
    else q4_1_rows(w, x, y, rb, re, 0);
}

#else

int tk_gemv_q4_1_denormal_route(int enable) {
    (void)enable;
    return -1;
}

#endif
