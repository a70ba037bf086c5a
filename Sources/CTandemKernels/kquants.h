// Internal to CTandemKernels: the GGML K-quant super-blocks (256 values each; GGUF types 12, 13,
// 14). Layouts are described in kquants.c; tk_dequantize_row and tk_matvec call these.
#ifndef TANDEM_KQUANTS_H
#define TANDEM_KQUANTS_H

#include <stdint.h>

#define TK_KQ_SUPER 256
#define TK_Q4_K_BYTES 144
#define TK_Q5_K_BYTES 176
#define TK_Q6_K_BYTES 210

/// One super-block of each type into out (256 floats).
void tk__dequantize_q4_k_block(const uint8_t *b, float *out);
void tk__dequantize_q5_k_block(const uint8_t *b, float *out);
void tk__dequantize_q6_k_block(const uint8_t *b, float *out);

#endif
