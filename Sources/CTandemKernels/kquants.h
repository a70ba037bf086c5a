// Internal to CTandemKernels: the GGML K-quant super-blocks (256 values each; GGUF types 12, 13,
// 14). Layouts are described in kquants.c; tk_dequantize_row and tk_matvec call these, and the
// fused GEMV kernels (gemv_kquant_avx2.c) read the same layouts.
#ifndef TANDEM_KQUANTS_H
#define TANDEM_KQUANTS_H

#include <stdint.h>

#define TK_KQ_SUPER 256
#define TK_Q4_K_BYTES 144
#define TK_Q5_K_BYTES 176
#define TK_Q6_K_BYTES 210

/// The 6-bit scale and min of sub-block j (0..7) of a Q4_K or Q5_K super-block from its 12 packed
/// bytes s (layout in kquants.c).
static inline void tk__kq_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/// One super-block of each type into out (256 floats).
void tk__dequantize_q4_k_block(const uint8_t *b, float *out);
void tk__dequantize_q5_k_block(const uint8_t *b, float *out);
void tk__dequantize_q6_k_block(const uint8_t *b, float *out);

#endif
