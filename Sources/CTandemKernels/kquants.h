// Internal to CTandemKernels: the GGML K-quant super-blocks (256 values each; GGUF types 10 to
// 14) and IQ4_NL (GGUF type 20: 32 values a block through a 16-entry table). Layouts are described
// in kquants.c; tk_dequantize_row and tk_matvec call these, and the fused GEMV kernels
// (gemv_kquant_avx2.c, gemv_neon.c) read the same layouts.
#ifndef TANDEM_KQUANTS_H
#define TANDEM_KQUANTS_H

#include <stdint.h>

#define TK_KQ_SUPER 256
#define TK_Q2_K_BYTES 84
#define TK_Q3_K_BYTES 110
#define TK_Q4_K_BYTES 144
#define TK_Q5_K_BYTES 176
#define TK_Q6_K_BYTES 210
#define TK_IQ4_NL_BYTES 18

/// IQ4_NL's 16 values (ggml's kvalues_iq4nl): value = d * tk__iq4nl_values[code].
extern const int8_t tk__iq4nl_values[16];

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

/// The signed 6-bit scale (-32..31) of 16-value sub-block j (0..15) of a Q3_K super-block from its
/// 12 packed bytes s: low 4 bits from s[j % 8] (low nibble for j < 8, else high), high 2 bits
/// from s[8 + j % 4] at bit 2 * (j / 4); stored biased by 32.
static inline int tk__q3_k_scale(const uint8_t *s, int j) {
    const int low = (s[j % 8] >> (4 * (j / 8))) & 15;
    const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | high << 4) - 32;
}

/// One super-block of each K-quant type into out (256 floats); one IQ4_NL block (32 floats).
void tk__dequantize_q2_k_block(const uint8_t *b, float *out);
void tk__dequantize_q3_k_block(const uint8_t *b, float *out);
void tk__dequantize_q4_k_block(const uint8_t *b, float *out);
void tk__dequantize_q5_k_block(const uint8_t *b, float *out);
void tk__dequantize_q6_k_block(const uint8_t *b, float *out);
void tk__dequantize_iq4_nl_block(const uint8_t *b, float *out);

#endif
