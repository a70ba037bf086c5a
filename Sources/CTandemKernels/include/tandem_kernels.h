// Tandem CPU kernels: the plain, portable reference paths of the forward pass.
// Shapes follow llama2.c's habit: every pointer names its layout.
// Matrices are row-major, one output feature per row: W (rows, cols), y = W x.
#ifndef TANDEM_KERNELS_H
#define TANDEM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// GGML-style tensor element types, numbered as GGUF numbers them.
typedef enum {
    TK_F32 = 0,
    TK_F16 = 1,
    TK_Q4_0 = 2,
    TK_Q4_1 = 3,
    TK_Q8_0 = 8,
    TK_Q4_K = 12, ///< ggml block_q4_K: 256 values in 144 bytes (f16 d, dmin, 6-bit scales/mins, nibbles)
    TK_Q5_K = 13, ///< ggml block_q5_K: 256 values in 176 bytes (as Q4_K plus one high bit per value)
    TK_Q6_K = 14, ///< ggml block_q6_K: 256 values in 210 bytes (4 + 2 bits, int8 scale per 16, f16 d)
    TK_BF16 = 30,
    TK_MXFP4 = 39, ///< ggml block_mxfp4 (tandem_formats.h): E8M0 scale + 16 bytes of E2M1 nibbles
} tk_type;

// ---- scalar conversions ----
float tk_f16_to_f32(uint16_t h);
uint16_t tk_f32_to_f16(float f);
float tk_bf16_to_f32(uint16_t h);

/// Bytes in one row of `cols` values of `type`; 0 if cols is not a whole number of blocks
/// or the type is unknown.
size_t tk_row_bytes(tk_type type, int64_t cols);

/// Dequantise one row: src holds `cols` values of `type`, dst (cols) f32.
/// Returns 0, or -1 for an unsupported type.
int tk_dequantize_row(tk_type type, const void *src, float *dst, int64_t cols);

/// y (rows) = W (rows, cols; stored as `type`, row-major) · x (cols).
/// Rows [row_begin, row_end) only, so callers can split the work. Returns 0 or -1.
int tk_matvec(tk_type type, const void *w, const float *x, float *y,
              int64_t row_begin, int64_t row_end, int64_t cols);
/// tk_matvec with rows split over the process-wide pool (tandem_pool.h) when the matrix is large
/// enough; identical results (each row computed the same way, by one thread).
int tk_matvec_mt(tk_type type, const void *w, const float *x, float *y,
                 int64_t row_begin, int64_t row_end, int64_t cols);

// ---- elementwise and normalisation ----
/// out (n) = x (n) / rms(x) * weight (n).
void tk_rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps);
/// In-place softmax of x (n).
void tk_softmax(float *x, int64_t n);
/// gate (n) = silu(gate) * up (n).
void tk_swiglu(float *gate, const float *up, int64_t n);
/// y (n) += x (n).
void tk_add(float *y, const float *x, int64_t n);

/// Rotary embedding on `heads` consecutive heads of `head_dim` each, at position `pos`.
/// interleaved != 0 rotates pairs (2i, 2i+1); otherwise (i, i + head_dim/2).
void tk_rope(float *x, int64_t heads, int64_t head_dim, int64_t pos, float theta, int interleaved);
/// RoPE with a per-pair divisor of the frequency (llama.cpp's `rope_freqs`, Hugging Face
/// `rope_scaling` llama3/linear): pair i turns by pos * theta^(-2i/head_dim) / freq_factors[i].
/// `freq_factors` (head_dim/2 values) may be NULL: plain RoPE.
void tk_rope_scaled(float *x, int64_t heads, int64_t head_dim, int64_t pos, float theta, int interleaved,
                    const float *freq_factors);

/// Attention for one query head over `len` cached positions.
/// q (head_dim); keys/values: position t's vector at k + t*stride (head_dim floats);
/// scores (len) scratch; out (head_dim).
void tk_attention_head(float *out, const float *q, const float *k, const float *v,
                       int64_t stride, int64_t len, int64_t head_dim, float *scores);

/// Attention for one query head over `len` positions stored in a paged cache.
/// Position t lives in block block_table[t / block_size], slot t % block_size; a slot's vector
/// starts at base + (block * block_size + slot) * token_stride (+ the caller's head offset).
void tk_attention_paged(float *out, const float *q, const float *k_base, const float *v_base,
                        const int32_t *block_table, int64_t block_size, int64_t token_stride,
                        int64_t len, int64_t head_dim, float *scores);

/// As tk_attention_paged over an FP8 cache: position t's key is e4m3(k_codes[slot * token_stride
/// + d]) * k_scales[slot * scale_stride] (the caller offsets codes and scales to its KV head), its
/// value likewise. Codes decode through tk_e4m3_f32_table (tandem_formats.h).
void tk_attention_paged_fp8(float *out, const float *q, const uint8_t *k_codes, const uint8_t *v_codes,
                            const float *k_scales, const float *v_scales, int64_t scale_stride,
                            const int32_t *block_table, int64_t block_size, int64_t token_stride,
                            int64_t len, int64_t head_dim, float *scores);

#ifdef __cplusplus
}
#endif
#endif
