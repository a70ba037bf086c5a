// Reference kernels: plain C, clear over clever. Optimised paths live beside these and are
// tested against them.
#include "tandem_kernels.h"
#include "tandem_formats.h"
#include "kquants.h"
#include "tk_internal.h"
#include <math.h>
#include <string.h>

float tk_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: normalise
            int e = -1;
            do { e++; mant <<= 1; } while ((mant & 0x400) == 0);
            mant &= 0x3FF;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7F800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t tk_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int32_t exp = (int32_t)((x >> 23) & 0xFF);
    uint32_t mant = x & 0x7FFFFF;
    if (exp == 0xFF) return (uint16_t)(sign | 0x7C00 | (mant ? 0x200 : 0));
    int32_t e = exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7C00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = sign | ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1FFF;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)h;
}

float tk_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

size_t tk_row_bytes(tk_type type, int64_t cols) {
    if (cols <= 0) return 0;
    switch (type) {
    case TK_F32: return (size_t)cols * 4;
    case TK_F16:
    case TK_BF16: return (size_t)cols * 2;
    case TK_Q8_0: return cols % 32 ? 0 : (size_t)(cols / 32) * 34;
    case TK_Q4_0: return cols % 32 ? 0 : (size_t)(cols / 32) * 18;
    case TK_Q4_1: return cols % 32 ? 0 : (size_t)(cols / 32) * 20;
    case TK_Q5_0: return cols % 32 ? 0 : (size_t)(cols / 32) * 22;
    case TK_Q5_1: return cols % 32 ? 0 : (size_t)(cols / 32) * 24;
    case TK_MXFP4: return tk_mxfp4_row_bytes(cols);
    case TK_IQ4_NL: return cols % 32 ? 0 : (size_t)(cols / 32) * TK_IQ4_NL_BYTES;
    case TK_Q2_K: return cols % TK_KQ_SUPER ? 0 : (size_t)(cols / TK_KQ_SUPER) * TK_Q2_K_BYTES;
    case TK_Q3_K: return cols % TK_KQ_SUPER ? 0 : (size_t)(cols / TK_KQ_SUPER) * TK_Q3_K_BYTES;
    case TK_Q4_K: return cols % TK_KQ_SUPER ? 0 : (size_t)(cols / TK_KQ_SUPER) * TK_Q4_K_BYTES;
    case TK_Q5_K: return cols % TK_KQ_SUPER ? 0 : (size_t)(cols / TK_KQ_SUPER) * TK_Q5_K_BYTES;
    case TK_Q6_K: return cols % TK_KQ_SUPER ? 0 : (size_t)(cols / TK_KQ_SUPER) * TK_Q6_K_BYTES;
    case TK_FP8_E4M3: return (size_t)cols;
    case TK_NVFP4: return cols % 16 ? 0 : (size_t)cols / 2;
    }
    return 0;
}

int tk_matvec_supports(tk_type type) {
    switch (type) {
    case TK_F32:
    case TK_F16:
    case TK_BF16:
    case TK_Q8_0:
    case TK_Q4_0:
    case TK_Q4_1:
    case TK_Q5_0:
    case TK_Q5_1:
    case TK_MXFP4:
    case TK_IQ4_NL:
    case TK_Q2_K:
    case TK_Q3_K:
    case TK_Q4_K:
    case TK_Q5_K:
    case TK_Q6_K: return 1;
    case TK_FP8_E4M3: // scales outside the rows: tk_gemv, tk_gemm and tandem_formats.h take them
    case TK_NVFP4: return 0;
    }
    return 0;
}

int tk_dequantize_row(tk_type type, const void *src, float *dst, int64_t cols) {
    const uint8_t *p = (const uint8_t *)src;
    switch (type) {
    case TK_F32:
        memcpy(dst, src, (size_t)cols * 4);
        return 0;
    case TK_F16:
        for (int64_t i = 0; i < cols; i++) dst[i] = tk_f16_to_f32(le16(p + 2 * i));
        return 0;
    case TK_BF16:
        for (int64_t i = 0; i < cols; i++) dst[i] = tk_bf16_to_f32(le16(p + 2 * i));
        return 0;
    case TK_Q8_0:
        if (cols % 32) return -1;
        for (int64_t b = 0; b < cols / 32; b++, p += 34) {
            float d = tk_f16_to_f32(le16(p));
            const int8_t *q = (const int8_t *)(p + 2);
            for (int j = 0; j < 32; j++) dst[b * 32 + j] = d * (float)q[j];
        }
        return 0;
    case TK_Q4_0:
        if (cols % 32) return -1;
        for (int64_t b = 0; b < cols / 32; b++, p += 18) {
            float d = tk_f16_to_f32(le16(p));
            const uint8_t *q = p + 2;
            for (int j = 0; j < 16; j++) {
                dst[b * 32 + j] = d * (float)((int)(q[j] & 0x0F) - 8);
                dst[b * 32 + j + 16] = d * (float)((int)(q[j] >> 4) - 8);
            }
        }
        return 0;
    case TK_Q4_1:
        if (cols % 32) return -1;
        for (int64_t b = 0; b < cols / 32; b++, p += 20) {
            float d = tk_f16_to_f32(le16(p));
            float m = tk_f16_to_f32(le16(p + 2));
            const uint8_t *q = p + 4;
            for (int j = 0; j < 16; j++) {
                dst[b * 32 + j] = d * (float)(q[j] & 0x0F) + m;
                dst[b * 32 + j + 16] = d * (float)(q[j] >> 4) + m;
            }
        }
        return 0;
    case TK_Q5_0:
    case TK_Q5_1: {
        // ggml: bit j of the 32-bit qh is value j's fifth bit; nibble j low, j + 16 high.
        if (cols % 32) return -1;
        const int one = type == TK_Q5_1, bytes = one ? 24 : 22;
        for (int64_t b = 0; b < cols / 32; b++, p += bytes) {
            float d = tk_f16_to_f32(le16(p));
            float m = one ? tk_f16_to_f32(le16(p + 2)) : 0;
            const uint8_t *h = p + (one ? 4 : 2), *q = h + 4;
            uint32_t qh = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
            for (int j = 0; j < 16; j++) {
                int lo = (q[j] & 0x0F) | (int)((qh >> j) & 1) << 4;
                int hi = (q[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
                dst[b * 32 + j] = one ? d * (float)lo + m : d * (float)(lo - 16);
                dst[b * 32 + j + 16] = one ? d * (float)hi + m : d * (float)(hi - 16);
            }
        }
        return 0;
    }
    case TK_MXFP4:
        return tk_dequantize_row_mxfp4(src, dst, cols);
    case TK_IQ4_NL:
        if (cols % 32) return -1;
        for (int64_t b = 0; b < cols / 32; b++, p += TK_IQ4_NL_BYTES) tk__dequantize_iq4_nl_block(p, dst + b * 32);
        return 0;
    case TK_Q2_K:
    case TK_Q3_K:
    case TK_Q4_K:
    case TK_Q5_K:
    case TK_Q6_K: {
        if (cols % TK_KQ_SUPER) return -1;
        const size_t sb = tk_row_bytes(type, TK_KQ_SUPER);
        for (int64_t b = 0; b < cols / TK_KQ_SUPER; b++, p += sb) {
            float *out = dst + b * TK_KQ_SUPER;
            if (type == TK_Q2_K) tk__dequantize_q2_k_block(p, out);
            else if (type == TK_Q3_K) tk__dequantize_q3_k_block(p, out);
            else if (type == TK_Q4_K) tk__dequantize_q4_k_block(p, out);
            else if (type == TK_Q5_K) tk__dequantize_q5_k_block(p, out);
            else tk__dequantize_q6_k_block(p, out);
        }
        return 0;
    }
    case TK_FP8_E4M3:
    case TK_NVFP4: return TK_ERR_UNSUPPORTED_TYPE; // their scales are not in the row
    }
    return TK_ERR_UNSUPPORTED_TYPE;
}

static float dot_f32(const float *a, const float *b, int64_t n) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/// tk_matvec's rows, out of line so that tk_matvec's type check does not change how these loops
/// compile (register allocation included).
__attribute__((noinline)) static int matvec_rows(tk_type type, const void *w, const float *x, float *y,
                                                 int64_t row_begin, int64_t row_end, int64_t cols) {
    size_t rb = tk_row_bytes(type, cols);
    if (rb == 0) return TK_ERR_INVALID;
    const uint8_t *base = (const uint8_t *)w;
    if (type == TK_F32) {
        for (int64_t r = row_begin; r < row_end; r++)
            y[r] = dot_f32((const float *)(base + (size_t)r * rb), x, cols);
        return 0;
    }
    if (type == TK_Q4_1 || type == TK_Q4_0 || type == TK_Q8_0) {
        // Fused dequantise-and-dot per 32-value block.
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *p = base + (size_t)r * rb;
            float acc = 0;
            for (int64_t b = 0; b < cols / 32; b++) {
                const float *xb = x + b * 32;
                if (type == TK_Q8_0) {
                    float d = tk_f16_to_f32(le16(p));
                    const int8_t *q = (const int8_t *)(p + 2);
                    float s = 0;
                    for (int j = 0; j < 32; j++) s += (float)q[j] * xb[j];
                    acc += d * s;
                    p += 34;
                } else if (type == TK_Q4_0) {
                    float d = tk_f16_to_f32(le16(p));
                    const uint8_t *q = p + 2;
                    float s = 0;
                    for (int j = 0; j < 16; j++)
                        s += (float)((int)(q[j] & 0x0F) - 8) * xb[j] + (float)((int)(q[j] >> 4) - 8) * xb[j + 16];
                    acc += d * s;
                    p += 18;
                } else {
                    float d = tk_f16_to_f32(le16(p));
                    float m = tk_f16_to_f32(le16(p + 2));
                    const uint8_t *q = p + 4;
                    float s = 0, xs = 0;
                    for (int j = 0; j < 16; j++) {
                        s += (float)(q[j] & 0x0F) * xb[j] + (float)(q[j] >> 4) * xb[j + 16];
                        xs += xb[j] + xb[j + 16];
                    }
                    acc += d * s + m * xs;
                    p += 20;
                }
            }
            y[r] = acc;
        }
        return 0;
    }
    if (type == TK_Q5_0 || type == TK_Q5_1 || type == TK_IQ4_NL) {
        // Dequantise block by block (exact), then dot.
        float buf[32];
        const size_t bb = tk_row_bytes(type, 32);
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *p = base + (size_t)r * rb;
            float acc = 0;
            for (int64_t b = 0; b < cols / 32; b++, p += bb) {
                if (tk_dequantize_row(type, p, buf, 32) != 0) return -1;
                acc += dot_f32(buf, x + b * 32, 32);
            }
            y[r] = acc;
        }
        return 0;
    }
    if (type == TK_MXFP4) {
        // Dequantise block by block (exact), then dot.
        float buf[32];
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *p = base + (size_t)r * rb;
            float acc = 0;
            for (int64_t b = 0; b < cols / 32; b++) {
                tk_dequantize_row_mxfp4(p + b * 17, buf, 32);
                acc += dot_f32(buf, x + b * 32, 32);
            }
            y[r] = acc;
        }
        return 0;
    }
    if (type == TK_Q2_K || type == TK_Q3_K || type == TK_Q4_K || type == TK_Q5_K || type == TK_Q6_K) {
        // Dequantise super-block by super-block (exact), then dot.
        float buf[TK_KQ_SUPER];
        const size_t sb = tk_row_bytes(type, TK_KQ_SUPER);
        for (int64_t r = row_begin; r < row_end; r++) {
            const uint8_t *p = base + (size_t)r * rb;
            float acc = 0;
            for (int64_t b = 0; b < cols / TK_KQ_SUPER; b++, p += sb) {
                if (tk_dequantize_row(type, p, buf, TK_KQ_SUPER) != 0) return -1;
                acc += dot_f32(buf, x + b * TK_KQ_SUPER, TK_KQ_SUPER);
            }
            y[r] = acc;
        }
        return 0;
    }
    // F16 / BF16: dequantise a row into a stack buffer in chunks.
    float buf[256];
    for (int64_t r = row_begin; r < row_end; r++) {
        const uint8_t *p = base + (size_t)r * rb;
        float acc = 0;
        for (int64_t c = 0; c < cols; c += 256) {
            int64_t n = cols - c < 256 ? cols - c : 256;
            if (tk_dequantize_row(type, p + c * 2, buf, n) != 0) return -1;
            acc += dot_f32(buf, x + c, n);
        }
        y[r] = acc;
    }
    return 0;
}

int tk_matvec(tk_type type, const void *w, const float *x, float *y,
              int64_t row_begin, int64_t row_end, int64_t cols) {
    if (!tk_matvec_supports(type)) return TK_ERR_UNSUPPORTED_TYPE;
    return matvec_rows(type, w, x, y, row_begin, row_end, cols);
}

void tk_rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = 1.0f / sqrtf((float)(ss / (double)n) + eps);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * weight[i];
}

void tk_softmax(float *x, int64_t n) {
    float mx = x[0];
    for (int64_t i = 1; i < n; i++) if (x[i] > mx) mx = x[i];
    double sum = 0;
    for (int64_t i = 0; i < n; i++) { x[i] = expf(x[i] - mx); sum += x[i]; }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

void tk_swiglu_clamped(float *gate, const float *up, int64_t n, float alpha, float limit) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i] < limit ? gate[i] : limit;
        float u = up[i] < -limit ? -limit : (up[i] > limit ? limit : up[i]);
        gate[i] = g / (1.0f + expf(-alpha * g)) * (u + 1.0f);
    }
}

#if defined(__x86_64__)
/// silu(gate) * up, 8 at a time through tk__exp256 (within a few ulps of the scalar loop).
TK_AVX2 static int64_t swiglu_avx2(float *gate, const float *up, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 e = tk__exp256(_mm256_sub_ps(_mm256_setzero_ps(), g));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
    return i;
}
#endif

void tk_swiglu(float *gate, const float *up, int64_t n) {
    int64_t i = 0;
#if defined(__x86_64__)
    if (tk__uses_avx2(tk_gemv_effective_path())) i = swiglu_avx2(gate, up, n);
#endif
    for (; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void tk_geglu_tanh(float *gate, const float *up, int64_t n) {
    const float c = 0.7978845608028654f;  // sqrt(2 / pi)
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = 0.5f * g * (1.0f + tanhf(c * (g + 0.044715f * g * g * g))) * up[i];
    }
}

void tk_softcap(float *x, int64_t n, float cap) {
    for (int64_t i = 0; i < n; i++) x[i] = cap * tanhf(x[i] / cap);
}

void tk_add(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void tk_rope(float *x, int64_t heads, int64_t head_dim, int64_t pos, float theta, int interleaved) {
    tk_rope_scaled(x, heads, head_dim, pos, theta, interleaved, NULL);
}

void tk_rope_scaled(float *x, int64_t heads, int64_t head_dim, int64_t pos, float theta, int interleaved,
                    const float *freq_factors) {
    int64_t half = head_dim / 2;
    for (int64_t i = 0; i < half; i++) {
        double freq = pow((double)theta, -2.0 * (double)i / (double)head_dim);
        if (freq_factors) freq /= (double)freq_factors[i];
        double angle = (double)pos * freq;
        float c = (float)cos(angle), s = (float)sin(angle);
        for (int64_t h = 0; h < heads; h++) {
            float *v = x + h * head_dim;
            int64_t a = interleaved ? 2 * i : i;
            int64_t b = interleaved ? 2 * i + 1 : i + half;
            float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void tk_attention_head(float *out, const float *q, const float *k, const float *v,
                       int64_t stride, int64_t len, int64_t head_dim, float *scores) {
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int64_t t = 0; t < len; t++) scores[t] = dot_f32(q, k + t * stride, head_dim) * scale;
    tk_softmax(scores, len);
    for (int64_t d = 0; d < head_dim; d++) out[d] = 0;
    for (int64_t t = 0; t < len; t++) {
        const float *vt = v + t * stride;
        float a = scores[t];
        for (int64_t d = 0; d < head_dim; d++) out[d] += a * vt[d];
    }
}

void tk_attention_paged(float *out, const float *q, const float *k_base, const float *v_base,
                        const int32_t *block_table, int64_t block_size, int64_t token_stride,
                        int64_t len, int64_t head_dim, float *scores) {
    tk_attention_paged_ex(out, q, k_base, v_base, block_table, block_size, token_stride, len, head_dim, scores, 0, 0);
}

void tk_attention_paged_ex(float *out, const float *q, const float *k_base, const float *v_base,
                           const int32_t *block_table, int64_t block_size, int64_t token_stride,
                           int64_t len, int64_t head_dim, float *scores, int64_t first, float softcap) {
    tk__attention_paged_f32(out, q, k_base, v_base, block_table, block_size, token_stride, len, head_dim, scores,
                            first, softcap, NULL);
}

void tk__attention_paged_f32(float *out, const float *q, const float *k_base, const float *v_base,
                             const int32_t *block_table, int64_t block_size, int64_t token_stride, int64_t len,
                             int64_t head_dim, float *scores, int64_t first, float softcap, const float *sink) {
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int64_t t = 0; t < len; t++) {
        int64_t slot = (int64_t)block_table[t / block_size] * block_size + t % block_size;
        scores[t] = dot_f32(q, k_base + slot * token_stride, head_dim) * scale;
    }
    tk__attention_softmax(scores, len, first, softcap, sink);
    for (int64_t d = 0; d < head_dim; d++) out[d] = 0;
    for (int64_t t = 0; t < len; t++) {
        int64_t slot = (int64_t)block_table[t / block_size] * block_size + t % block_size;
        const float *vt = v_base + slot * token_stride;
        float a = scores[t];
        for (int64_t d = 0; d < head_dim; d++) out[d] += a * vt[d];
    }
}

void tk_attention_paged_fp8(float *out, const float *q, const uint8_t *k_codes, const uint8_t *v_codes,
                            const float *k_scales, const float *v_scales, int64_t scale_stride,
                            const int32_t *block_table, int64_t block_size, int64_t token_stride,
                            int64_t len, int64_t head_dim, float *scores) {
    tk_attention_paged_fp8_ex(out, q, k_codes, v_codes, k_scales, v_scales, scale_stride, block_table, block_size,
                              token_stride, len, head_dim, scores, 0, 0);
}

void tk_attention_paged_fp8_ex(float *out, const float *q, const uint8_t *k_codes, const uint8_t *v_codes,
                               const float *k_scales, const float *v_scales, int64_t scale_stride,
                               const int32_t *block_table, int64_t block_size, int64_t token_stride,
                               int64_t len, int64_t head_dim, float *scores, int64_t first, float softcap) {
    tk__attention_paged_fp8(out, q, k_codes, v_codes, k_scales, v_scales, scale_stride, block_table, block_size,
                            token_stride, len, head_dim, scores, first, softcap, NULL);
}

void tk__attention_paged_fp8(float *out, const float *q, const uint8_t *k_codes, const uint8_t *v_codes,
                             const float *k_scales, const float *v_scales, int64_t scale_stride,
                             const int32_t *block_table, int64_t block_size, int64_t token_stride, int64_t len,
                             int64_t head_dim, float *scores, int64_t first, float softcap, const float *sink) {
    float scale = 1.0f / sqrtf((float)head_dim);
    for (int64_t t = 0; t < len; t++) {
        int64_t slot = (int64_t)block_table[t / block_size] * block_size + t % block_size;
        const uint8_t *k = k_codes + slot * token_stride;
        float dot = 0;
        for (int64_t d = 0; d < head_dim; d++) dot += q[d] * tk_e4m3_f32_table[k[d]];
        scores[t] = dot * k_scales[slot * scale_stride] * scale;
    }
    tk__attention_softmax(scores, len, first, softcap, sink);
    for (int64_t d = 0; d < head_dim; d++) out[d] = 0;
    for (int64_t t = 0; t < len; t++) {
        int64_t slot = (int64_t)block_table[t / block_size] * block_size + t % block_size;
        const uint8_t *v = v_codes + slot * token_stride;
        float a = scores[t] * v_scales[slot * scale_stride];
        for (int64_t d = 0; d < head_dim; d++) out[d] += a * tk_e4m3_f32_table[v[d]];
    }
}
