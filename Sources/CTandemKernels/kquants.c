// GGML K-quant super-blocks: 256 values in 8 sub-blocks of 32 (Q4_K, Q5_K) or 16 of 16 (Q2_K,
// Q3_K, Q6_K), and IQ4_NL blocks of 32. All multi-byte fields are little-endian. Values are
// computed in the order and precision of the gguf Python package's NumPy dequantisers
// (gguf/quants.py), so results agree bit for bit.
//
// Q2_K and Q3_K share the 2-bit layout of their low bits: 64 bytes qs, value i (0..255) in bits
//   2·((i % 128) / 32) of qs[32·(i / 128) + i % 32] (two halves of 128 values, four 2-bit planes
//   of 32 each).
// Q2_K (84 bytes): 16 scale bytes | 64 bytes qs | f16 d | f16 dmin. Sub-block j = i / 16 has
//   scale s[j] & 15 and min s[j] >> 4; value = (d·scale)·q − dmin·min, q in 0..3.
// Q3_K (110 bytes): 32 bytes hmask | 64 bytes qs | 12 bytes of 6-bit scales | f16 d. Bit 2 of
//   value i is bit i / 32 of hmask[i % 32], and it is stored inverted: q = low − (bit ? 0 : 4),
//   in −4..3. Scales as tk__q3_k_scale (kquants.h), one per 16 values; value = (d·scale)·q.
// IQ4_NL (18 bytes per 32): f16 d | 16 bytes of nibbles, value j (0..15) the low nibble of byte j,
//   value j + 16 its high nibble (Q4_0's order); value = d·tk__iq4nl_values[nibble].
// Q4_K (144 bytes): f16 d | f16 dmin | 12 bytes of 6-bit scales and mins | 128 bytes of nibbles.
//   Sub-block j (0..7) has scale sc[j] and min m[j] (6 bits each), packed as
//     j < 4:  sc = s[j] & 63,                           m = s[j + 4] & 63
//     j >= 4: sc = (s[j + 4] & 15) | (s[j - 4] >> 6) << 4, m = (s[j + 4] >> 4) | (s[j] >> 6) << 4
//   Nibble bytes come in 4 groups of 32: group g holds sub-block 2g in its low nibbles and
//   sub-block 2g+1 in its high nibbles. value = (d·sc)·q − dmin·m.
// Q5_K (176 bytes): f16 d | f16 dmin | 12 scale bytes (as Q4_K) | 32 bytes qh | 128 nibble bytes.
//   The low 4 bits as Q4_K; bit 4 of value l (0..31) of sub-block j is bit j of qh[l].
// Q6_K (210 bytes): 128 bytes ql | 64 bytes qh | 16 int8 scales | f16 d.
//   Two halves of 128 values, h = 0, 1, using ql[64h..64h+64) and qh[32h..32h+32).
//   Value r (0..127) of half h: low 4 bits from ql[64h + r % 64], low nibble when r < 64, else
//   high; high 2 bits are bits 2·(r / 32) and up of qh[32h + r % 32]. q = that 6-bit number − 32;
//   value i (0..255) = (d·scale[i / 16])·q.
#include "kquants.h"
#include "tandem_kernels.h"
#include "tk_internal.h"

static inline float f16_at(const uint8_t *p) { return tk_f16_to_f32(le16(p)); }

const int8_t tk__iq4nl_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/// The 2-bit low code of value i of a Q2_K or Q3_K super-block from its 64 bytes qs.
static inline int low2(const uint8_t *qs, int i) { return (qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3; }

void tk__dequantize_q2_k_block(const uint8_t *b, float *out) {
    const uint8_t *scales = b, *qs = b + 16;
    const float d = f16_at(b + 80), dmin = f16_at(b + 82);
    for (int i = 0; i < TK_KQ_SUPER; i++) {
        // (d·scale)·q and dmin·min are exact in f32, so the one rounding is the subtraction's.
        const float dl = d * (float)(scales[i / 16] & 15), ml = dmin * (float)(scales[i / 16] >> 4);
        const float v = dl * (float)low2(qs, i);
        out[i] = v - ml;
    }
}

void tk__dequantize_q3_k_block(const uint8_t *b, float *out) {
    const uint8_t *hmask = b, *qs = b + 32, *scales = b + 96;
    const float d = f16_at(b + 108);
    for (int i = 0; i < TK_KQ_SUPER; i++) {
        const float dl = d * (float)tk__q3_k_scale(scales, i / 16);
        const int q = low2(qs, i) - ((hmask[i % 32] >> (i / 32)) & 1 ? 0 : 4);
        out[i] = dl * (float)q;
    }
}

void tk__dequantize_iq4_nl_block(const uint8_t *b, float *out) {
    const float d = f16_at(b);
    for (int j = 0; j < 16; j++) {
        out[j] = d * (float)tk__iq4nl_values[b[2 + j] & 15];
        out[j + 16] = d * (float)tk__iq4nl_values[b[2 + j] >> 4];
    }
}

void tk__dequantize_q4_k_block(const uint8_t *b, float *out) {
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *scales = b + 4, *qs = b + 16;
    for (int j = 0; j < 8; j++) {
        int sc, m;
        tk__kq_scale_min(scales, j, &sc, &m);
        // (d·sc)·q and dmin·m are exact in f32 (11 + 6 + 4 significant bits), so the one
        // rounding is the subtraction's, fused or not.
        const float ds = d * (float)sc, dm = dmin * (float)m;
        const uint8_t *q = qs + 32 * (j / 2);
        const int shift = 4 * (j & 1);
        for (int l = 0; l < 32; l++) {
            const float v = ds * (float)((q[l] >> shift) & 15);
            out[32 * j + l] = v - dm;
        }
    }
}

void tk__dequantize_q5_k_block(const uint8_t *b, float *out) {
    const float d = f16_at(b), dmin = f16_at(b + 2);
    const uint8_t *scales = b + 4, *qh = b + 16, *qs = b + 48;
    for (int j = 0; j < 8; j++) {
        int sc, m;
        tk__kq_scale_min(scales, j, &sc, &m);
        const float ds = d * (float)sc, dm = dmin * (float)m;
        const uint8_t *q = qs + 32 * (j / 2);
        const int shift = 4 * (j & 1);
        for (int l = 0; l < 32; l++) {
            const int v5 = ((q[l] >> shift) & 15) | (((qh[l] >> j) & 1) << 4);
            const float v = ds * (float)v5;
            out[32 * j + l] = v - dm;
        }
    }
}

void tk__dequantize_q6_k_block(const uint8_t *b, float *out) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *scales = (const int8_t *)(b + 192);
    const float d = f16_at(b + 208);
    for (int h = 0; h < 2; h++) {
        for (int r = 0; r < 128; r++) {
            const int low = (ql[64 * h + r % 64] >> (r < 64 ? 0 : 4)) & 15;
            const int high = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
            const int i = 128 * h + r;
            const float ds = d * (float)scales[i / 16];
            out[i] = ds * (float)((low | (high << 4)) - 32);
        }
    }
}
