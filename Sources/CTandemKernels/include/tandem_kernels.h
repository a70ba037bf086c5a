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

/// The weight formats, one enumeration for every kernel (tk_matvec, tk_gemv, tk_gemm, the row
/// conversions). The GGML block and float types keep the numbers GGUF gives them, so a GGUF tensor's
/// type field is its tk_type. The formats GGUF has no number for (scales kept outside the rows) are
/// numbered from 1024 up, clear of any number GGUF may assign later.
/// No kernel guesses a format: each answers TK_ERR_UNSUPPORTED_TYPE for a value it has no code for
/// (a tk_type it does not take, or a number that is no tk_type at all).
typedef enum {
    TK_F32 = 0,
    TK_F16 = 1,
    TK_Q4_0 = 2,   ///< ggml block_q4_0: 32 values in 18 bytes (f16 d, nibbles; value = d * (q - 8))
    TK_Q4_1 = 3,   ///< ggml block_q4_1: 32 values in 20 bytes (f16 d, f16 m, nibbles; value = d * q + m)
    TK_Q5_0 = 6,   ///< ggml block_q5_0: 32 values in 22 bytes (f16 d, 32 high bits, nibbles; value = d * (q - 16))
    TK_Q5_1 = 7,   ///< ggml block_q5_1: 32 values in 24 bytes (f16 d, f16 m, 32 high bits, nibbles; value = d * q + m)
    TK_Q8_0 = 8,   ///< ggml block_q8_0: 32 values in 34 bytes (f16 d, 32 int8)
    TK_Q2_K = 10, ///< ggml block_q2_K: 256 values in 84 bytes (4-bit scale and min per 16, 2-bit q, f16 d, dmin)
    TK_Q3_K = 11, ///< ggml block_q3_K: 256 values in 110 bytes (3-bit q, 6-bit scale per 16, f16 d)
    TK_Q4_K = 12, ///< ggml block_q4_K: 256 values in 144 bytes (f16 d, dmin, 6-bit scales/mins, nibbles)
    TK_Q5_K = 13, ///< ggml block_q5_K: 256 values in 176 bytes (as Q4_K plus one high bit per value)
    TK_Q6_K = 14, ///< ggml block_q6_K: 256 values in 210 bytes (4 + 2 bits, int8 scale per 16, f16 d)
    TK_IQ4_NL = 20, ///< ggml block_iq4_nl: 32 values in 18 bytes (f16 d, nibbles; value = d * table[q])
    TK_BF16 = 30,
    TK_MXFP4 = 39, ///< ggml block_mxfp4 (tandem_formats.h): E8M0 scale + 16 bytes of E2M1 nibbles
    /// FP8 E4M3 ("e4m3fn") codes, one byte per value, any cols; value = e4m3 * scale, the scale
    /// (tk_weights: scale times the optional row_scales[r]) kept outside the rows. Not a GGUF type.
    TK_FP8_E4M3 = 1024,
    /// NVFP4 as ModelOpt stores it: E2M1 nibbles (cols/2 bytes a row, cols % 16 == 0), one E4M3
    /// block scale per 16 values in a separate plane and one FP32 tensor scale (tk_weights
    /// block_scales and scale). Not a GGUF type (ggml's own NVFP4 blocks would be another layout).
    TK_NVFP4 = 1025,
} tk_type;

/// What the kernels that return int report. Callers test for 0; the two errors say why not.
#define TK_OK 0
/// A bad shape (cols not whole blocks, rows out of order, a stride too small) or a missing pointer.
#define TK_ERR_INVALID (-1)
/// The kernel has no code for this tk_type (or the value is no tk_type at all).
#define TK_ERR_UNSUPPORTED_TYPE (-2)

/// A weight matrix as the kernels take it: `rows` (implicit: the caller's row range) rows of `cols`
/// values stored as `format`, row-major; row r starts at data + r * tk_row_bytes(format, cols).
typedef struct {
    tk_type format;
    int64_t cols;
    const void *data;
    /// TK_NVFP4: E4M3 block scales, cols/16 per row, row-major. NULL for the other formats.
    const uint8_t *block_scales;
    /// TK_FP8_E4M3: optional per-row FP32 scales (indexed by absolute row), multiplied with `scale`.
    const float *row_scales;
    /// TK_FP8_E4M3: per-tensor scale (1 if unused); TK_NVFP4: tensor scale. Ignored by the formats
    /// that carry their scales in the rows.
    float scale;
} tk_weights;

// ---- scalar conversions ----
float tk_f16_to_f32(uint16_t h);
uint16_t tk_f32_to_f16(float f);
float tk_bf16_to_f32(uint16_t h);

/// Bytes in one row of `cols` values of `type` (the row data: TK_NVFP4's block scales are cols/16
/// more bytes, in their own plane); 0 if cols is not a positive whole number of blocks or `type` is
/// no tk_type.
size_t tk_row_bytes(tk_type type, int64_t cols);

/// Dequantise one row: src holds `cols` values of `type`, dst (cols) f32.
/// Returns 0, TK_ERR_INVALID for a bad cols, or TK_ERR_UNSUPPORTED_TYPE for TK_FP8_E4M3 and
/// TK_NVFP4 (their scales live outside the row: tk_dequantize_row_fp8_e4m3 / _nvfp4 in
/// tandem_formats.h take them) or a value that is no tk_type.
int tk_dequantize_row(tk_type type, const void *src, float *dst, int64_t cols);

/// 1 if tk_matvec and tk_dequantize_row take `type` (every format whose scales are in its rows), else 0.
int tk_matvec_supports(tk_type type);

/// y (rows) = W (rows, cols; stored as `type`, row-major) · x (cols).
/// Rows [row_begin, row_end) only, so callers can split the work. Returns 0, TK_ERR_INVALID, or
/// TK_ERR_UNSUPPORTED_TYPE where tk_matvec_supports(type) is 0.
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
/// gpt-oss's gated activation, in place: g = min(gate, limit), u = clamp(up, -limit, limit),
/// gate = g · sigmoid(alpha · g) · (u + 1) (alpha 1.702, limit 7 in gpt-oss).
void tk_swiglu_clamped(float *gate, const float *up, int64_t n, float alpha, float limit);
/// gate[i] = gelu_tanh(gate[i]) * up[i] (GeGLU, Gemma), gelu_tanh(x) =
/// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
void tk_geglu_tanh(float *gate, const float *up, int64_t n);
/// x[i] = cap * tanh(x[i] / cap) (Gemma 2's final logit soft-capping).
void tk_softcap(float *x, int64_t n, float cap);
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
/// As tk_attention_paged, positions before `first` left out and scores capped with `softcap`
/// (> 0) as tk_attention_step describes.
void tk_attention_paged_ex(float *out, const float *q, const float *k_base, const float *v_base,
                           const int32_t *block_table, int64_t block_size, int64_t token_stride,
                           int64_t len, int64_t head_dim, float *scores, int64_t first, float softcap);

/// As tk_attention_paged over an FP8 cache: position t's key is e4m3(k_codes[slot * token_stride
/// + d]) * k_scales[slot * scale_stride] (the caller offsets codes and scales to its KV head), its
/// value likewise. Codes decode through tk_e4m3_f32_table (tandem_formats.h).
void tk_attention_paged_fp8(float *out, const float *q, const uint8_t *k_codes, const uint8_t *v_codes,
                            const float *k_scales, const float *v_scales, int64_t scale_stride,
                            const int32_t *block_table, int64_t block_size, int64_t token_stride,
                            int64_t len, int64_t head_dim, float *scores);
/// As tk_attention_paged_fp8 with `first` and `softcap` as tk_attention_paged_ex.
void tk_attention_paged_fp8_ex(float *out, const float *q, const uint8_t *k_codes, const uint8_t *v_codes,
                               const float *k_scales, const float *v_scales, int64_t scale_stride,
                               const int32_t *block_table, int64_t block_size, int64_t token_stride,
                               int64_t len, int64_t head_dim, float *scores, int64_t first, float softcap);

#ifdef __cplusplus
}
#endif
#endif
