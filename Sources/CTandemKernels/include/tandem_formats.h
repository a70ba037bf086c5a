// Tandem low-precision number formats: FP8 (E4M3 "e4m3fn", E5M2), FP4 (E2M1), the E8M0 scale,
// and the block formats built on them (MXFP4 as ggml stores it, NVFP4 as NVIDIA ModelOpt stores
// it, FP8 with an FP32 scale). Plain portable C, bit-exact; see /work/shared/docs/FORMATS.md.
//
// Conventions shared by every encoder here:
//  * Rounding is round-to-nearest, ties-to-even on the f32 value (no double rounding).
//  * E4M3 ("fn": no infinities, NaN only S.1111.111) saturates: anything that rounds above 448,
//    and ±inf, encode as ±448 (0x7E / 0xFE). NaN encodes as 0x7F with the input's sign bit kept
//    (0xFF for a negative NaN), as ml_dtypes does.
//  * E5M2 is IEEE-like: tk_f32_to_e5m2 overflows to ±inf (0x7C/0xFC); tk_f32_to_e5m2_sat clamps
//    finite overflow and ±inf to ±57344 (0x7B/0xFB). NaN encodes as the quiet NaN 0x7E, sign kept.
//  * E2M1 has no inf/NaN: overflow and ±inf saturate to ±6 (0x7/0xF); NaN encodes as +0 (0x0).
//    The sign of zero is kept (-0.0 and tiny negatives give 0x8).
//  * E8M0 is an unsigned power of two 2^(e-127); 0xFF is NaN. tk_f32_to_e8m0 rounds to the nearest
//    power of two with ties (mantissa exactly 1.5) rounding up, clamps below 2^-127 to 2^-127, and
//    maps zero, negatives, inf, NaN and anything rounding above 2^127 to 0xFF (ml_dtypes'
//    float8_e8m0fnu behaviour).
#ifndef TANDEM_FORMATS_H
#define TANDEM_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- scalar conversions ----
float tk_e4m3_to_f32(uint8_t v);
uint8_t tk_f32_to_e4m3(float x);
float tk_e5m2_to_f32(uint8_t v);
uint8_t tk_f32_to_e5m2(float x);
uint8_t tk_f32_to_e5m2_sat(float x);
/// Decodes the low 4 bits of v.
float tk_e2m1_to_f32(uint8_t v);
/// Returns a code in 0..15.
uint8_t tk_f32_to_e2m1(float x);
float tk_e8m0_to_f32(uint8_t v);
uint8_t tk_f32_to_e8m0(float x);

// ---- row conversions (no scale) ----
void tk_e4m3_to_f32_row(const uint8_t *src, float *dst, int64_t n);
void tk_f32_to_e4m3_row(const float *src, uint8_t *dst, int64_t n);
void tk_e5m2_to_f32_row(const uint8_t *src, float *dst, int64_t n);
void tk_f32_to_e5m2_row(const float *src, uint8_t *dst, int64_t n);

/// Largest |x| over n floats (NaN ignored; 0 for n <= 0).
float tk_amax(const float *x, int64_t n);

// ---- FP8 E4M3 weights with an FP32 scale (ModelOpt quant_algo FP8) ----
// value = e4m3(code) * scale. The scale is per tensor (weight_scale) or, optionally, per row.
/// ModelOpt's choice: amax / 448 (0 when amax is 0).
float tk_fp8_e4m3_scale(float amax);
/// dst[i] = tk_f32_to_e4m3(src[i] / scale); all codes 0 when scale is 0 or not finite.
void tk_quantize_row_fp8_e4m3(const float *src, uint8_t *dst, int64_t n, float scale);
/// dst[i] = tk_e4m3_to_f32(src[i]) * scale.
void tk_dequantize_row_fp8_e4m3(const uint8_t *src, float *dst, int64_t n, float scale);

// ---- MXFP4, byte-compatible with ggml's block_mxfp4 (GGUF type 39) ----
// A block holds 32 values: byte 0 is the E8M0 scale e, bytes 1..16 the E2M1 codes with value j in
// the LOW nibble of byte 1+j and value j+16 in the HIGH nibble (j = 0..15), as ggml's Q4_0.
// value = e2m1(code) * 2^(e-127); e = 0xFF decodes as NaN (OCP MX; ggml itself reads 0xFF as 2^127).
// Quantisation follows ggml's quantize_row_mxfp4_ref: e = floor(log2(amax)) - 2 + 127 (the OCP
// rule: largest power of two not above amax, divided by 2^emax(E2M1) = 4), clamped here to
// 0..254 (ggml leaves the cast of an out-of-range float undefined), e = 0 for an all-zero block;
// each value takes the nearest of the 16 codes by |code*scale - x| in f32, the FIRST code winning
// ties (index order 0,0.5,..,6,-0,-0.5,..,-6: ties go toward zero, not to even; zero is +0).
#define TK_GGUF_TYPE_MXFP4 39
#define TK_MXFP4_BLOCK_VALUES 32
#define TK_MXFP4_BLOCK_BYTES 17
typedef struct {
    uint8_t e;
    uint8_t qs[16];
} tk_block_mxfp4;

/// Bytes for one row of `cols` values; 0 if cols is not a positive multiple of 32.
size_t tk_mxfp4_row_bytes(int64_t cols);
/// Returns 0, or -1 if cols is not a multiple of 32.
int tk_quantize_row_mxfp4(const float *src, void *dst, int64_t cols);
int tk_dequantize_row_mxfp4(const void *src, float *dst, int64_t cols);

// ---- NVFP4 as NVIDIA ModelOpt stores it (quant_algo NVFP4, group_size 16) ----
// Per matrix (rows, cols): `weight` uint8 (rows, cols/2) with column 2j in the LOW nibble of byte j
// and column 2j+1 in the HIGH nibble; `weight_scale` E4M3 (rows, cols/16), one per 16 columns;
// `weight_scale_2` one FP32 tensor scale. value = e2m1(code) * (e4m3(block) * tensor_scale), the
// product in brackets rounded to f32 first (ModelOpt's dequantize order).
// Quantisation as ModelOpt's NVFP4QTensor: tensor_scale = amax / (6 * 448); per block
// s = block_amax / (6 * tensor_scale) (s = 1 if that is 0), stored as e4m3(s) (saturating);
// each value = e2m1(x / (e4m3(s) * tensor_scale)) rounded to nearest even, saturating at 6, the
// sign bit set only for x < 0 (so -0.0 gives +0). If the divisor is 0 or not finite (tensor_scale
// 0, or a block scale that underflowed to 0) the block's codes are all 0.
#define TK_NVFP4_BLOCK_VALUES 16
/// ModelOpt's weight_scale_2: amax / (6 * 448) (0 when amax is 0).
float tk_nvfp4_tensor_scale(float amax);
/// packed (cols/2 bytes), block_scales (cols/16 bytes). Returns 0, or -1 if cols % 16 != 0.
int tk_quantize_row_nvfp4(const float *src, uint8_t *packed, uint8_t *block_scales,
                          float tensor_scale, int64_t cols);
int tk_dequantize_row_nvfp4(const uint8_t *packed, const uint8_t *block_scales, float tensor_scale,
                            float *dst, int64_t cols);

#ifdef __cplusplus
}
#endif
#endif
