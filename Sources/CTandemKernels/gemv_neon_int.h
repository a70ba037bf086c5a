// The integer-route GEMV kernels for Q4_0, MXFP4 and NVFP4 on one AArch64 path. Included by
// gemv_neon.c once per path, with TK_NI_TARGET (the path's target attribute), TK_NI_DOT (its
// 32-byte dot: int32x4 whose lane k sums the products of bytes 4k..4k+3 of both pairs) and
// TK_NI_NAME(f) (f with the path's suffix) defined. x is quantised once per call
// (tk__quantize_x8_neon); each 32-value block is one TK_NI_DOT scaled by (weight scale x activation
// step) in f32.

/// One 32-value block of Q4_0 or MXFP4 (16 bytes of nibbles at q: value j in the low nibble of
/// byte j, value j+16 in the high one) against int8 x, added to acc scaled by `scale`.
TK_NI_TARGET static inline __attribute__((always_inline)) float32x4_t
TK_NI_NAME(block32)(float32x4_t acc, const uint8_t *q, int8x16_t table, const int8_t *xq, float scale) {
    uint8x16_t v = vld1q_u8(q);
    int8x16_t lo = vqtbl1q_s8(table, vandq_u8(v, vdupq_n_u8(0x0F)));
    int8x16_t hi = vqtbl1q_s8(table, vshrq_n_u8(v, 4));
    int32x4_t d = TK_NI_DOT(lo, vld1q_s8(xq), hi, vld1q_s8(xq + 16));
    return vfmaq_n_f32(acc, vcvtq_f32_s32(BREAK_S32(d)), scale);
}

/// Rows of Q4_0 (`mx` 0: 18-byte blocks, f16 scale) or MXFP4 (`mx` 1: 17-byte blocks, E8M0
/// scale, weights doubled through the table and the scale halved).
TK_NI_TARGET static inline __attribute__((always_inline)) void
TK_NI_NAME(rows32)(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re, int mx) {
    const int64_t n = w->cols, nb = n / 32, bytes = mx ? 17 : 18, head = mx ? 1 : 2;
    xscratch s;
    if (xscratch_init(&s, n, 1)) return;
    const int8_t *xq = s.q;
    tk__quantize_x8_neon(x, n, s.q, s.d, 0);
    const int8x16_t table = vld1q_s8(mx ? e2m1_x2 : q4_0_minus8);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)(nb * bytes);
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
        int64_t b = 0;
        for (; b + 2 <= nb; b += 2, p += 2 * bytes) {
            float s0 = mx ? tk_e8m0_f32_table[p[0]] * 0.5f : f16_at(p);
            float s1 = mx ? tk_e8m0_f32_table[p[bytes]] * 0.5f : f16_at(p + bytes);
            a0 = TK_NI_NAME(block32)(a0, p + head, table, xq + b * 32, s0 * s.d[b]);
            a1 = TK_NI_NAME(block32)(a1, p + bytes + head, table, xq + b * 32 + 32, s1 * s.d[b + 1]);
        }
        if (b < nb) {
            float s0 = mx ? tk_e8m0_f32_table[p[0]] * 0.5f : f16_at(p);
            a0 = TK_NI_NAME(block32)(a0, p + head, table, xq + b * 32, s0 * s.d[b]);
        }
        y[r] = vaddvq_f32(vaddq_f32(a0, a1));
    }
    free(s.heap);
}

TK_NI_TARGET void TK_NI_NAME(tk__gemv_q4_0_int)(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    TK_NI_NAME(rows32)(w, x, y, rb, re, 0);
}

TK_NI_TARGET void TK_NI_NAME(tk__gemv_mxfp4_int)(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    TK_NI_NAME(rows32)(w, x, y, rb, re, 1);
}

/// NVFP4: 16 bytes hold 32 columns (byte j: column 2j low, 2j+1 high), two 16-value blocks with
/// one E4M3 scale each. x is stored evens-then-odds per 32 (tk__quantize_x8_neon's `deinterleave`),
/// so the low nibbles meet the evens and the high the odds: lanes 0-1 of the dot are the first block,
/// lanes 2-3 the second, scaled by [s0, s0, s1, s1]. 64 columns a step (four scales widened at
/// once), then 32 at a time; a trailing lone 16-value block reads 8 bytes.
TK_NI_TARGET void TK_NI_NAME(tk__gemv_nvfp4_int)(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, nb16 = n / 16;
    xscratch s;
    if (xscratch_init(&s, n, 1)) return;
    const int8_t *xq = s.q;
    tk__quantize_x8_neon(x, n, s.q, s.d, 1);
    const int8x16_t table = vld1q_s8(e2m1_x2);
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *q = (const uint8_t *)w->data + (size_t)r * (size_t)(n / 2);
        const uint8_t *sc = w->block_scales + (size_t)r * (size_t)nb16;
        float32x4_t acc = vdupq_n_f32(0.0f), acc2 = acc;
        int64_t b = 0;
        for (; b + 4 <= nb16; b += 4, q += 32) { // 64 columns: four blocks, two x blocks
            uint8x16_t v0 = vld1q_u8(q), v1 = vld1q_u8(q + 16);
            int32x4_t d0 = TK_NI_DOT(vqtbl1q_s8(table, vandq_u8(v0, m4)), vld1q_s8(xq + b * 16),
                                     vqtbl1q_s8(table, vshrq_n_u8(v0, 4)), vld1q_s8(xq + b * 16 + 16));
            int32x4_t d1 = TK_NI_DOT(vqtbl1q_s8(table, vandq_u8(v1, m4)), vld1q_s8(xq + b * 16 + 32),
                                     vqtbl1q_s8(table, vshrq_n_u8(v1, 4)), vld1q_s8(xq + b * 16 + 48));
            float32x4_t sc4 = e4m3x4_scaled(sc + b); // [s0..s3] * 2^-8
            // x 2^8 back, x 1/2 for the doubled table: 128 * dx
            float32x4_t s01 = vmulq_n_f32(vzip1q_f32(sc4, sc4), s.d[b / 2] * 128.0f);
            float32x4_t s23 = vmulq_n_f32(vzip2q_f32(sc4, sc4), s.d[b / 2 + 1] * 128.0f);
            acc = vfmaq_f32(acc, vcvtq_f32_s32(BREAK_S32(d0)), s01);
            acc2 = vfmaq_f32(acc2, vcvtq_f32_s32(d1), s23);
        }
        for (; b < nb16; b += 2, q += 16) {
            int two = b + 2 <= nb16;
            uint8x16_t v = two ? vld1q_u8(q) : vcombine_u8(vld1_u8(q), vdup_n_u8(0));
            int8x16_t lo = vqtbl1q_s8(table, vandq_u8(v, m4)), hi = vqtbl1q_s8(table, vshrq_n_u8(v, 4));
            int32x4_t d = TK_NI_DOT(lo, vld1q_s8(xq + b * 16), hi, vld1q_s8(xq + b * 16 + 16));
            float dx = s.d[b / 2] * 0.5f; // doubled table
            float s0 = tk_e4m3_f32_table[sc[b]] * dx, s1 = two ? tk_e4m3_f32_table[sc[b + 1]] * dx : 0.0f;
            acc = vfmaq_f32(acc, vcvtq_f32_s32(BREAK_S32(d)), vcombine_f32(vdup_n_f32(s0), vdup_n_f32(s1)));
        }
        y[r] = vaddvq_f32(vaddq_f32(acc, acc2)) * w->scale;
    }
    free(s.heap);
}
