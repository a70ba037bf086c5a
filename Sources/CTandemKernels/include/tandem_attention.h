// Tandem step attention: every token and query head of a batched step at once, K/V read through
// paged block tables, the (token, head) pairs spread over the process-wide pool (tandem_pool.h).
// Over an f32 cache (attention_f32.c) and an FP8 one (attention_fp8.c); the portable per-head
// references they fall back on, and are tested against, are in tandem_kernels.h.
#ifndef TANDEM_ATTENTION_H
#define TANDEM_ATTENTION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- over an f32 K/V cache (attention_f32.c) ----
/// Attention of a whole step: for every token t and query head h, out[t * q_stride + h * head_dim]
/// = attention of q[t * q_stride + h * head_dim] over positions 0...positions[t] of its sequence,
/// K/V read through the block table at tables + table_offset[t] (as tk_attention_paged; KV head
/// h / q_per_kv at (h / q_per_kv) * head_dim inside a token's slot). The (token, head) pairs
/// are spread over the process-wide pool; each pair is computed the same way whatever the batch,
/// on the AVX2 path when the CPU has it (else the portable tk_attention_paged). `window` > 0:
/// only the last `window` positions (the query's own included); `softcap` > 0: scores capped
/// to softcap * tanh(score / softcap) before the softmax (0 and 0: plain causal attention).
/// Returns 0 or -1.
typedef struct {
    float *out;
    const float *q;
    const float *k_base, *v_base;
    const int32_t *tables;
    const int64_t *table_offset;
    const int64_t *positions;
    int64_t tokens, heads, q_per_kv, head_dim, q_stride, block_size, token_stride;
    int64_t window;
    float softcap;
    /// Attention sinks (gpt-oss): one logit per query head (`heads` values) that joins each
    /// softmax's normalisation without a value; NULL: none.
    const float *sinks;
    /// Chunked attention (Llama 4's local layers): > 0, a query at position p attends to
    /// positions p / chunk * chunk ... p only (`window` is then ignored); 0: none.
    int64_t chunk;
} tk_attention_step;
int tk_attention_step_mt(const tk_attention_step *s);

// ---- over an FP8 K/V cache (attention_fp8.c) ----
// Each (token, KV head) vector of K and of V is head_dim E4M3 codes (OCP e4m3fn) times one FP32
// scale, amax / 448, so a vector's largest value lands on E4M3's largest finite value. Codes live
// where tk_attention_step's floats do (slot s, KV head g at codes + s * token_stride + g * head_dim,
// in bytes); scales in a plane beside them, scales[s * scale_stride + g].

/// codes (vectors, n), scales (vectors): vector i = src[i * n ..< (i + 1) * n] quantised with
/// scales[i] = amax / 448 (tk_fp8_e4m3_scale) and codes e4m3(x / scale) (round to nearest even,
/// saturating; an all-zero vector gets scale 0 and zero codes).
void tk_quantize_vectors_fp8_e4m3(const float *src, uint8_t *codes, float *scales, int64_t vectors, int64_t n);

/// As tk_attention_step, reading keys and values as e4m3(code) * scale. Paths as
/// tk_attention_step_mt: AVX2 (codes widened to f32 through F16C) when the thread's effective
/// path has it, else the portable tk_attention_paged_fp8. Returns 0 or -1.
typedef struct {
    float *out;
    const float *q;
    const uint8_t *k_codes, *v_codes;
    const float *k_scales, *v_scales;
    const int32_t *tables;
    const int64_t *table_offset;
    const int64_t *positions;
    int64_t tokens, heads, q_per_kv, head_dim, q_stride, block_size, token_stride;
    int64_t scale_stride; ///< scales per slot (this rank's KV heads)
    int64_t window;       ///< as tk_attention_step
    float softcap;        ///< as tk_attention_step
    const float *sinks;   ///< as tk_attention_step
    int64_t chunk;        ///< as tk_attention_step
} tk_attention_step_fp8;
int tk_attention_step_fp8_mt(const tk_attention_step_fp8 *s);

#ifdef __cplusplus
}
#endif
#endif
