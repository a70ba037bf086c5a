// Low-precision number formats: scalar encoders/decoders and block (de)quantisers.
// Everything here is portable C and bit-exact; the GEMV kernels (gemv_*.c) read the same layouts.
// The rules (rounding, saturation, NaN, scale choice) are spelled out in tandem_formats.h.
#include "tandem_formats.h"
#include <math.h>
#include <string.h>

static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ---- generic small-float rounding ----

/// Rounds a finite, non-negative f32 (bits u, sign clear) to a float with M mantissa bits and
/// exponent bias B, round-to-nearest-even, with unbounded exponent range upwards. Returns the
/// magnitude code (exponent field << M | mantissa), which may exceed the format's largest code;
/// the caller decides what overflow means. Subnormals of the target format are handled; f32
/// subnormals are far below every target's smallest subnormal and round to 0.
static inline uint32_t round_magnitude(uint32_t u, int M, int B) {
    uint32_t expf = u >> 23;
    if (expf == 0) return 0; // zero or f32 subnormal
    int e = (int)expf - 127;
    uint32_t mant = (u & 0x7FFFFFu) | 0x800000u; // 24 significant bits: value = mant * 2^(e-23)
    int emin = 1 - B;                             // exponent of the smallest normal
    int shift = 23 - M + (e < emin ? emin - e : 0);
    if (shift > 24) return 0; // below half the smallest subnormal (mant < 2^24 <= half)
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) q++;
    if (e < emin) return q; // subnormal; q == 1 << M is the smallest normal's code
    // q in [2^M, 2^(M+1)] including the implicit bit: adding it to (e+B-1) << M carries correctly.
    return ((uint32_t)(e + B - 1) << M) + q;
}

// ---- E4M3 (e4m3fn) ----

float tk_e4m3_to_f32(uint8_t v) {
    uint32_t sign = (uint32_t)(v & 0x80) << 24;
    uint32_t e = (v >> 3) & 0xF, m = v & 7;
    if (e == 0xF && m == 7) return bits_f32(sign | 0x7FC00000u);
    if (e == 0) return bits_f32(sign | f32_bits((float)m * 0x1p-9f));
    return bits_f32(sign | ((e + 120) << 23) | (m << 20));
}

uint8_t tk_f32_to_e4m3(float x) {
    uint32_t u = f32_bits(x);
    uint8_t sign = (uint8_t)((u >> 24) & 0x80);
    u &= 0x7FFFFFFFu;
    if (u > 0x7F800000u) return sign | 0x7F; // NaN
    if (u == 0x7F800000u) return sign | 0x7E; // inf saturates
    uint32_t c = round_magnitude(u, 3, 7);
    return sign | (uint8_t)(c > 0x7E ? 0x7E : c);
}

// ---- E5M2 ----

float tk_e5m2_to_f32(uint8_t v) {
    uint32_t sign = (uint32_t)(v & 0x80) << 24;
    uint32_t e = (v >> 2) & 0x1F, m = v & 3;
    if (e == 0x1F) return bits_f32(sign | (m ? 0x7FC00000u : 0x7F800000u));
    if (e == 0) return bits_f32(sign | f32_bits((float)m * 0x1p-16f));
    return bits_f32(sign | ((e + 112) << 23) | (m << 21));
}

static inline uint8_t e5m2_encode(float x, int saturate) {
    uint32_t u = f32_bits(x);
    uint8_t sign = (uint8_t)((u >> 24) & 0x80);
    u &= 0x7FFFFFFFu;
    if (u > 0x7F800000u) return sign | 0x7E; // NaN (quiet)
    uint8_t overflow = saturate ? 0x7B : 0x7C;
    if (u == 0x7F800000u) return sign | overflow;
    uint32_t c = round_magnitude(u, 2, 15);
    return sign | (uint8_t)(c > 0x7B ? overflow : c);
}

uint8_t tk_f32_to_e5m2(float x) { return e5m2_encode(x, 0); }
uint8_t tk_f32_to_e5m2_sat(float x) { return e5m2_encode(x, 1); }

// ---- E2M1 ----

static const float e2m1_values[16] = {
    0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
    -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f,
};

float tk_e2m1_to_f32(uint8_t v) { return e2m1_values[v & 0xF]; }

uint8_t tk_f32_to_e2m1(float x) {
    uint32_t u = f32_bits(x);
    uint8_t sign = (uint8_t)((u >> 28) & 0x8);
    u &= 0x7FFFFFFFu;
    if (u > 0x7F800000u) return 0; // NaN
    if (u == 0x7F800000u) return sign | 7;
    uint32_t c = round_magnitude(u, 1, 1);
    return sign | (uint8_t)(c > 7 ? 7 : c);
}

// ---- E8M0 ----

float tk_e8m0_to_f32(uint8_t v) {
    if (v == 0xFF) return bits_f32(0x7FC00000u);
    if (v == 0) return 0x1p-127f; // f32 subnormal 0x00400000
    return bits_f32((uint32_t)v << 23);
}

uint8_t tk_f32_to_e8m0(float x) {
    uint32_t u = f32_bits(x);
    if (u == 0 || u >= 0x7F800000u) return 0xFF; // +0, negatives (incl. -0), inf, NaN
    if (u < 0x00800000u) return u >= 0x00600000u ? 1 : 0; // f32 subnormal: 2^-127 or 2^-126
    uint32_t c = (u + 0x00400000u) >> 23; // round the mantissa half-up into the exponent
    return c > 254 ? 0xFF : (uint8_t)c;
}

// ---- rows ----

void tk_e4m3_to_f32_row(const uint8_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = tk_e4m3_to_f32(src[i]);
}

void tk_f32_to_e4m3_row(const float *src, uint8_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = tk_f32_to_e4m3(src[i]);
}

void tk_e5m2_to_f32_row(const uint8_t *src, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = tk_e5m2_to_f32(src[i]);
}

void tk_f32_to_e5m2_row(const float *src, uint8_t *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) dst[i] = tk_f32_to_e5m2(src[i]);
}

float tk_amax(const float *x, int64_t n) {
    float m = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > m) m = a; // NaN compares false: ignored
    }
    return m;
}

// ---- FP8 E4M3 with scale ----

float tk_fp8_e4m3_scale(float amax) { return amax / 448.0f; }

void tk_quantize_row_fp8_e4m3(const float *src, uint8_t *dst, int64_t n, float scale) {
    if (!(scale != 0.0f && isfinite(scale))) {
        memset(dst, 0, (size_t)(n > 0 ? n : 0));
        return;
    }
    for (int64_t i = 0; i < n; i++) dst[i] = tk_f32_to_e4m3(src[i] / scale);
}

void tk_dequantize_row_fp8_e4m3(const uint8_t *src, float *dst, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++) dst[i] = tk_e4m3_to_f32(src[i]) * scale;
}

// ---- MXFP4 (ggml block_mxfp4) ----

/// ggml's kvalues_mxfp4: the E2M1 values doubled, so that they are integers.
static const int8_t mxfp4_kvalues[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

/// Half the E8M0 scale, 2^(e-128), as ggml's GGML_E8M0_TO_FP32_HALF (NaN for 0xFF here).
static inline float e8m0_half(uint8_t e) {
    if (e == 0xFF) return bits_f32(0x7FC00000u);
    if (e < 2) return bits_f32(0x00200000u << e);
    return bits_f32((uint32_t)(e - 1) << 23);
}

size_t tk_mxfp4_row_bytes(int64_t cols) {
    if (cols <= 0 || cols % 32) return 0;
    return (size_t)(cols / 32) * TK_MXFP4_BLOCK_BYTES;
}

static inline uint8_t mxfp4_best_index(float x, float d) {
    int best = 0;
    float best_err = fabsf((float)mxfp4_kvalues[0] * d - x);
    for (int i = 1; i < 16; i++) {
        float err = fabsf((float)mxfp4_kvalues[i] * d - x);
        if (err < best_err) {
            best = i;
            best_err = err;
        }
    }
    return (uint8_t)best;
}

int tk_quantize_row_mxfp4(const float *src, void *dst, int64_t cols) {
    if (cols < 0 || cols % 32) return -1;
    uint8_t *p = (uint8_t *)dst;
    for (int64_t b = 0; b < cols / 32; b++, p += TK_MXFP4_BLOCK_BYTES) {
        const float *x = src + b * 32;
        float amax = 0.0f;
        for (int j = 0; j < 32; j++) {
            float a = fabsf(x[j]);
            if (amax < a) amax = a;
        }
        uint8_t e = 0;
        if (amax > 0.0f) {
            float fe = floorf(log2f(amax)) - 2.0f + 127.0f;
            e = fe <= 0.0f ? 0 : fe >= 254.0f ? 254 : (uint8_t)fe;
        }
        float d = e8m0_half(e);
        p[0] = e;
        for (int j = 0; j < 16; j++)
            p[1 + j] = (uint8_t)(mxfp4_best_index(x[j], d) | (mxfp4_best_index(x[j + 16], d) << 4));
    }
    return 0;
}

int tk_dequantize_row_mxfp4(const void *src, float *dst, int64_t cols) {
    if (cols < 0 || cols % 32) return -1;
    const uint8_t *p = (const uint8_t *)src;
    for (int64_t b = 0; b < cols / 32; b++, p += TK_MXFP4_BLOCK_BYTES) {
        float d = e8m0_half(p[0]);
        float *y = dst + b * 32;
        for (int j = 0; j < 16; j++) {
            y[j] = (float)mxfp4_kvalues[p[1 + j] & 0x0F] * d;
            y[j + 16] = (float)mxfp4_kvalues[p[1 + j] >> 4] * d;
        }
    }
    return 0;
}

// ---- NVFP4 (ModelOpt layout) ----

float tk_nvfp4_tensor_scale(float amax) { return amax / (6.0f * 448.0f); }

int tk_quantize_row_nvfp4(const float *src, uint8_t *packed, uint8_t *block_scales,
                          float tensor_scale, int64_t cols) {
    if (cols < 0 || cols % 16) return -1;
    for (int64_t b = 0; b < cols / 16; b++) {
        const float *x = src + b * 16;
        float bamax = tk_amax(x, 16);
        float s = bamax / (6.0f * tensor_scale);
        if (s == 0.0f) s = 1.0f;
        uint8_t sc = tk_f32_to_e4m3(s);
        block_scales[b] = sc;
        float denom = tk_e4m3_to_f32(sc) * tensor_scale;
        uint8_t *q = packed + b * 8;
        if (!(denom != 0.0f && isfinite(denom))) {
            memset(q, 0, 8);
            continue;
        }
        for (int j = 0; j < 8; j++) {
            float v0 = x[2 * j] / denom, v1 = x[2 * j + 1] / denom;
            uint8_t c0 = (uint8_t)((tk_f32_to_e2m1(fabsf(v0)) & 7) | (v0 < 0.0f ? 8 : 0));
            uint8_t c1 = (uint8_t)((tk_f32_to_e2m1(fabsf(v1)) & 7) | (v1 < 0.0f ? 8 : 0));
            q[j] = (uint8_t)(c0 | (c1 << 4));
        }
    }
    return 0;
}

int tk_dequantize_row_nvfp4(const uint8_t *packed, const uint8_t *block_scales, float tensor_scale,
                            float *dst, int64_t cols) {
    if (cols < 0 || cols % 16) return -1;
    for (int64_t b = 0; b < cols / 16; b++) {
        float d = tk_e4m3_to_f32(block_scales[b]) * tensor_scale;
        const uint8_t *q = packed + b * 8;
        float *y = dst + b * 16;
        for (int j = 0; j < 8; j++) {
            y[2 * j] = e2m1_values[q[j] & 0x0F] * d;
            y[2 * j + 1] = e2m1_values[q[j] >> 4] * d;
        }
    }
    return 0;
}
