// kernel_check: every AArch64 GEMV path (tk_gemv_path NEON, DOTPROD) against the portable path
// and against float64 references, on random inputs and edge values, for every format tk_gemv
// takes; the prefill GEMM (tk_gemm_with_path) on those paths for the same formats; and the step
// attention over an f32 and an FP8 K/V cache with each path as the thread's path. Built by e2e/test_arm_kernels.py with aarch64-linux-gnu-gcc together with the
// CTandemKernels C sources and run under qemu-aarch64-static (-cpu max: every path; -cpu
// cortex-a57: no dot product, so the NEON path is chosen and DOTPROD must be refused). It lives
// outside the Swift package: its job is to run the real Arm code on this x86 box.
//
// The references use this file's own decoders, written from the format definitions
// (shared/docs/FORMATS.md, ggml's block layouts), not the library's:
//   ref64   dequantise-then-dot in float64.
//   refint  (integer-route paths) x quantised per 32-value block as tandem_gemv.h documents
//           (d = amax/L, q = round-to-nearest-even(x * (L/amax)) in f32; L = 127, or 32767 for
//           Q8_0), then each block's integer dot exactly (int64) times its scales, in float64.
// Tolerances (u = 2^-24, the f32 unit roundoff; every bound is a rigorous f32 error bound):
//   float route:   |y - ref64|  <= (cols/4 + 16) u M,  M = sum |w_i x_i| (Q4_1: the d*q and m
//                  terms counted apart): the longest f32 chain in either kernel is cols/4 adds.
//   integer route: |y - refint| <= (blocks + 8) u Mi,  Mi = sum |scale * d * w_i * q_i|: a
//                  kernel splits each block's exact integer dot into lanes, rounds each lane's
//                  scaled term at most 4 times, then sums the lanes over the blocks.
//   path vs portable: |y - y_portable| <= R + both bounds above, R = sum over blocks of
//                  (d/2) sum |w_i| (what rounding x can move the exact result by; 0 on the float route).
// Every path also writes only its row range (a NaN sentinel after the last row stays NaN), and
// the routes each path claims (tk_gemv_activation_bits) are checked against the table below.
// Exit status 0 when everything passes, 1 otherwise; one "kernel PATH/FORMAT: ok|FAIL" line each.
#include "tandem_attention.h"
#include "tandem_formats.h"
#include "tandem_gemm.h"
#include "tandem_gemv.h"
#include "tandem_kernels.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double u32 = 0x1p-24;

// ---- random numbers (splitmix64) ----
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform(void) { return (double)(rnd() >> 11) * 0x1p-53; }
static double normal(void) {
    double a = uniform() + 1e-300, b = uniform();
    return sqrt(-2.0 * log(a)) * cos(6.283185307179586 * b);
}

// ---- decoders from the format definitions ----
static double dec_f16(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return s ? -v : v;
}
static double dec_e4m3(uint8_t c) {
    int s = c >> 7, e = (c >> 3) & 15, m = c & 7;
    if ((c & 0x7F) == 0x7F) return NAN;
    double v = e == 0 ? ldexp(m, -9) : ldexp(8 + m, e - 10);
    return s ? -v : v;
}
static double dec_e8m0(uint8_t e) { return e == 0xFF ? NAN : ldexp(1.0, e - 127); }
/// E2M1 times 2 (an integer).
static int e2m1_x2(int code) {
    static const int mag[8] = {0, 1, 2, 3, 4, 6, 8, 12};
    return code & 8 ? -mag[code & 7] : mag[code & 7];
}

/// The 6-bit scale and min of sub-block j of a Q4_K/Q5_K super-block (ggml's get_scale_min_k4).
static void kq_scale_min(const uint8_t *s, int j, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63, *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/// One K-quant super-block (256 values) from ggml's block layouts: value i into dn[i]; for Q4_K and
/// Q5_K also its scaled code (d sc q) apart from its minimum (dn - that), so the float-route bound
/// can count the two terms apart (they cancel).
static void dec_kquant(tk_type t, const uint8_t *b, double *dn, double *scaled) {
    if (t == TK_Q6_K) {
        const uint8_t *ql = b, *qh = b + 128;
        const double d = dec_f16((uint16_t)(b[208] | b[209] << 8));
        for (int i = 0; i < 256; i++) {
            const int h = i / 128, r = i % 128;
            const int low = (ql[64 * h + r % 64] >> (r < 64 ? 0 : 4)) & 15;
            const int high = (qh[32 * h + r % 32] >> (2 * (r / 32))) & 3;
            dn[i] = scaled[i] = d * (int8_t)b[192 + i / 16] * ((low | high << 4) - 32);
        }
        return;
    }
    const int five = t == TK_Q5_K;
    const double d = dec_f16((uint16_t)(b[0] | b[1] << 8)), dmin = dec_f16((uint16_t)(b[2] | b[3] << 8));
    const uint8_t *qh = b + 16, *qs = b + (five ? 48 : 16);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        kq_scale_min(b + 4, j, &sc, &m);
        for (int l = 0; l < 32; l++) {
            int q = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 15;
            if (five) q |= ((qh[l] >> j) & 1) << 4;
            scaled[32 * j + l] = d * sc * q;
            dn[32 * j + l] = scaled[32 * j + l] - dmin * m;
        }
    }
}

/// Q2_K (84 bytes) in ggml's dequantize_row_q2_K order: per half of 128 values, per 2-bit plane,
/// two runs of 16 values each with its scale byte (low nibble scale, high nibble min).
static void dec_q2_k(const uint8_t *b, double *dn, double *scaled) {
    const double d = dec_f16((uint16_t)(b[80] | b[81] << 8)), dmin = dec_f16((uint16_t)(b[82] | b[83] << 8));
    const uint8_t *q = b + 16;
    int is = 0, i = 0;
    for (int n = 0; n < 256; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2)
            for (int run = 0; run < 2; run++) {
                const uint8_t sc = b[is++];
                for (int l = 0; l < 16; l++, i++) {
                    scaled[i] = d * (sc & 15) * ((q[16 * run + l] >> shift) & 3);
                    dn[i] = scaled[i] - dmin * (sc >> 4);
                }
            }
}

/// Q3_K (110 bytes) in ggml's dequantize_row_q3_K order, its scales unpacked with ggml's masks.
static void dec_q3_k(const uint8_t *b, double *dn) {
    const uint8_t *hm = b, *q = b + 32;
    const double d = dec_f16((uint16_t)(b[108] | b[109] << 8));
    uint32_t aux[4];
    memcpy(aux, b + 96, 12);
    const uint32_t tmp = aux[2], k1 = 0x03030303, k2 = 0x0f0f0f0f;
    aux[2] = ((aux[0] >> 4) & k2) | (((tmp >> 4) & k1) << 4);
    aux[3] = ((aux[1] >> 4) & k2) | (((tmp >> 6) & k1) << 4);
    aux[0] = (aux[0] & k2) | (((tmp >> 0) & k1) << 4);
    aux[1] = (aux[1] & k2) | (((tmp >> 2) & k1) << 4);
    const int8_t *scales = (const int8_t *)aux;
    int is = 0, i = 0;
    uint8_t m = 1;
    for (int n = 0; n < 256; n += 128, q += 32)
        for (int shift = 0; shift < 8; shift += 2, m <<= 1)
            for (int run = 0; run < 2; run++) {
                const double dl = d * (scales[is++] - 32);
                for (int l = 0; l < 16; l++, i++)
                    dn[i] = dl * (((q[16 * run + l] >> shift) & 3) - ((hm[16 * run + l] & m) ? 0 : 4));
            }
}

/// IQ4_NL (18 bytes per 32): ggml's kvalues_iq4nl times d.
static void dec_iq4_nl(const uint8_t *b, double *dn) {
    static const int kv[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    const double d = dec_f16((uint16_t)(b[0] | b[1] << 8));
    for (int j = 0; j < 16; j++) dn[j] = d * kv[b[2 + j] & 15], dn[j + 16] = d * kv[b[2 + j] >> 4];
}

// ---- a test matrix ----
typedef struct {
    tk_type type;
    int64_t rows, cols;
    uint8_t *data, *bscales;
    float *rscales, scale;
    double *dense; // rows x cols: the dequantised weights
    int32_t *wint; // rows x cols: integer weights of the integer route (Q4_0: q-8; FP4: 2 x E2M1; Q8_0: q)
    double *ws;    // rows x cols: the scale each integer weight is multiplied by
} matrix;

/// A random f16 in +-[2^(lo-15), 2^(hi-15)) (exponent field lo..hi-1), or a subnormal one.
static uint16_t rand_f16(int lo, int hi, int subnormal) {
    uint16_t s = (uint16_t)((rnd() & 1) << 15), m = (uint16_t)(rnd() & 1023);
    if (subnormal) return (uint16_t)(s | (m ? m : 1));
    return (uint16_t)(s | (uint16_t)(lo + (int)(rnd() % (uint64_t)(hi - lo))) << 10 | m);
}

/// `edge` 0: random codes and scales; 1: extreme codes (largest magnitudes, every FP8 code,
/// subnormal scales) mixed with random ones.
static matrix make_matrix(tk_type type, int64_t rows, int64_t cols, int edge) {
    matrix m = {.type = type, .rows = rows, .cols = cols, .scale = 1.0f};
    size_t rb = tk_row_bytes(type, cols);
    m.data = calloc(rows * rb + 16, 1);
    m.dense = calloc(rows * cols, sizeof(double));
    m.wint = calloc(rows * cols, sizeof(int32_t));
    m.ws = calloc(rows * cols, sizeof(double));
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = m.data + r * rb;
        double *dn = m.dense + r * cols, *ws = m.ws + r * cols;
        int32_t *wi = m.wint + r * cols;
        switch (type) {
        case TK_FP8_E4M3:
            if (!m.rscales) m.rscales = malloc(rows * sizeof(float)), m.scale = 0.02f;
            m.rscales[r] = (float)(0.25 + 3.75 * uniform());
            for (int64_t c = 0; c < cols; c++) {
                uint8_t code = edge ? (uint8_t)((r * cols + c) % 256) : (uint8_t)rnd();
                if ((code & 0x7F) == 0x7F) code ^= 1; // no NaN codes
                row[c] = code;
                dn[c] = dec_e4m3(code) * ((double)m.scale * (double)m.rscales[r]);
            }
            break;
        case TK_NVFP4:
            if (!m.bscales) m.bscales = calloc(rows * (cols / 16), 1), m.scale = edge ? 3.0e-3f : 0.37f;
            for (int64_t b = 0; b < cols / 16; b++) {
                uint8_t sc = (uint8_t)(edge && b % 3 == 0 ? (b % 2 ? 0x7E : 0x01) : 0x20 + rnd() % 0x40);
                m.bscales[r * (cols / 16) + b] = sc;
                for (int j = 0; j < 16; j++) {
                    int64_t c = b * 16 + j;
                    int code = edge && j % 4 == 0 ? (j % 8 ? 15 : 7) : (int)(rnd() & 15);
                    row[c / 2] |= (uint8_t)(c % 2 ? code << 4 : code);
                    wi[c] = e2m1_x2(code);
                    ws[c] = dec_e4m3(sc) * 0.5 * (double)m.scale;
                    dn[c] = wi[c] * ws[c];
                }
            }
            break;
        case TK_MXFP4:
            for (int64_t b = 0; b < cols / 32; b++) {
                uint8_t *p = row + b * 17;
                p[0] = (uint8_t)(edge && b % 3 == 0 ? (b % 2 ? 127 + 40 : 127 - 40) : 117 + rnd() % 16);
                for (int j = 0; j < 32; j++) {
                    int code = edge && j % 4 == 0 ? (j % 8 ? 15 : 7) : (int)(rnd() & 15);
                    p[1 + j % 16] |= (uint8_t)(j < 16 ? code : code << 4);
                    wi[b * 32 + j] = e2m1_x2(code);
                    ws[b * 32 + j] = dec_e8m0(p[0]) * 0.5;
                    dn[b * 32 + j] = wi[b * 32 + j] * ws[b * 32 + j];
                }
            }
            break;
        case TK_Q2_K:
        case TK_Q3_K:
        case TK_Q4_K:
        case TK_Q5_K:
        case TK_Q6_K: {
            // Random codes, scales and minimums; super-block scales d (and dmin) random f16 (edge:
            // some subnormal).
            const int64_t bytes = (int64_t)rb / (cols / 256);
            for (int64_t b = 0; b < cols / 256; b++) {
                uint8_t *p = row + b * bytes;
                for (int64_t i = 0; i < bytes; i++) p[i] = (uint8_t)rnd();
                uint16_t d = rand_f16(2, 8, edge && b % 3 == 1), dmin = rand_f16(2, 8, 0);
                const int at = type == TK_Q6_K ? 208 : type == TK_Q3_K ? 108 : type == TK_Q2_K ? 80 : 0;
                p[at] = (uint8_t)d, p[at + 1] = (uint8_t)(d >> 8);
                if (type != TK_Q6_K && type != TK_Q3_K) p[at + 2] = (uint8_t)dmin, p[at + 3] = (uint8_t)(dmin >> 8);
                if (type == TK_Q2_K) dec_q2_k(p, dn + b * 256, ws + b * 256);
                else if (type == TK_Q3_K) dec_q3_k(p, dn + b * 256), memcpy(ws + b * 256, dn + b * 256, 256 * sizeof(double));
                else dec_kquant(type, p, dn + b * 256, ws + b * 256);
                for (int i = 0; i < 256; i++) wi[b * 256 + i] = 1; // ws holds the scaled code
            }
            break;
        }
        case TK_IQ4_NL:
            for (int64_t b = 0; b < cols / 32; b++) {
                uint8_t *p = row + b * 18;
                for (int j = 2; j < 18; j++) p[j] = (uint8_t)(edge && j % 3 == 0 ? (j % 2 ? 0x00 : 0xFF) : rnd());
                uint16_t d = rand_f16(3, 11, edge && b % 5 == 1);
                p[0] = (uint8_t)d, p[1] = (uint8_t)(d >> 8);
                dec_iq4_nl(p, dn + b * 32);
                for (int j = 0; j < 32; j++) wi[b * 32 + j] = 1, ws[b * 32 + j] = dn[b * 32 + j];
            }
            break;
        case TK_Q8_0:
        case TK_Q4_0:
        case TK_Q4_1: {
            int bytes = type == TK_Q8_0 ? 34 : type == TK_Q4_0 ? 18 : 20;
            for (int64_t b = 0; b < cols / 32; b++) {
                uint8_t *p = row + b * bytes;
                uint16_t d = rand_f16(3, 11, edge && b % 5 == 1), mn = rand_f16(3, 11, 0);
                p[0] = (uint8_t)d, p[1] = (uint8_t)(d >> 8);
                if (type == TK_Q4_1) p[2] = (uint8_t)mn, p[3] = (uint8_t)(mn >> 8);
                for (int j = 0; j < 32; j++) {
                    int64_t c = b * 32 + j;
                    int extreme = edge && j % 3 == 0;
                    if (type == TK_Q8_0) {
                        int8_t q = extreme ? (j % 2 ? 127 : -128) : (int8_t)rnd();
                        p[2 + j] = (uint8_t)q;
                        wi[c] = q;
                        ws[c] = dec_f16(d);
                        dn[c] = q * ws[c];
                    } else {
                        int q = extreme ? (type == TK_Q4_0 ? 0 : 15) : (int)(rnd() & 15);
                        p[(type == TK_Q4_0 ? 2 : 4) + j % 16] |= (uint8_t)(j < 16 ? q : q << 4);
                        wi[c] = type == TK_Q4_0 ? q - 8 : q;
                        ws[c] = dec_f16(d);
                        dn[c] = type == TK_Q4_0 ? (q - 8) * dec_f16(d) : q * dec_f16(d) + dec_f16(mn);
                    }
                }
            }
            break;
        }
        default: break;
        }
    }
    return m;
}

static void free_matrix(matrix *m) {
    free(m->data), free(m->bscales), free(m->rscales), free(m->dense), free(m->wint), free(m->ws);
}

/// x of n values, 32-value blocks of mixed magnitude; `edge` adds all-zero blocks, blocks with one
/// large value among tiny ones (which round to 0), blocks of exactly +-1 and negative zeros.
static float *make_x(int64_t n, int edge) {
    float *x = malloc((size_t)n * sizeof(float));
    for (int64_t b = 0; b * 32 < n; b++) {
        static const double mags[] = {1.0, 1e-3, 30.0, 0.1};
        double mag = mags[rnd() % 4];
        int kind = edge ? (int)(b % 5) : 4;
        for (int64_t i = b * 32; i < n && i < b * 32 + 32; i++) {
            switch (kind) {
            case 0: x[i] = (i % 2) ? 0.0f : -0.0f; break;
            case 1: x[i] = i % 32 == 7 ? 1e4f : (float)(1e-4 * normal()); break;
            case 2: x[i] = (i % 3) ? 1.0f : -1.0f; break;
            default: x[i] = (float)(mag * normal()); break;
            }
        }
    }
    return x;
}

/// refint's x: q and d per 32-value block, as tandem_gemv.h documents (tail block zero-padded).
static void quantize_ref(const float *x, int64_t n, float levels, int32_t *q, float *d) {
    for (int64_t b = 0; b * 32 < n; b++) {
        float amax = 0.0f;
        for (int64_t i = b * 32; i < n && i < b * 32 + 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        d[b] = amax / levels;
        float id = amax > 0.0f ? levels / amax : 0.0f;
        for (int64_t i = b * 32; i < n && i < b * 32 + 32; i++) {
            float v = nearbyintf(x[i] * id);
            q[i] = (int32_t)fminf(fmaxf(v, -levels), levels);
        }
    }
}

/// refint for row r of m against x quantised to (q, d): the exact integer dot of each weight-scale
/// group times its scales, in float64; *magint gets sum |scale * d * w_i * q_i| and *R the bound on
/// what rounding x moves the exact result by, sum over groups of (d/2) sum |w_i|.
static double refint_row(const matrix *m, int64_t r, const int32_t *q, const float *d, double *magint, double *R) {
    const int64_t n = m->cols;
    const int g = m->type == TK_NVFP4 ? 16 : 32; // weight-scale group
    const double *dn = m->dense + r * n, *ws = m->ws + r * n;
    const int32_t *wi = m->wint + r * n;
    double refint = 0;
    *magint = *R = 0;
    for (int64_t c0 = 0; c0 < n; c0 += g) {
        int64_t dot = 0, absdot = 0;
        for (int64_t c = c0; c < c0 + g; c++) {
            dot += (int64_t)wi[c] * q[c];
            absdot += llabs((int64_t)wi[c] * q[c]);
        }
        refint += ws[c0] * (double)d[c0 / 32] * (double)dot;
        *magint += fabs(ws[c0] * (double)d[c0 / 32]) * (double)absdot;
        double sw = 0;
        for (int64_t c = c0; c < c0 + g; c++) sw += fabs(dn[c]);
        *R += (double)d[c0 / 32] / 2 * sw;
    }
    return refint;
}

// ---- the check ----
typedef struct {
    tk_type type;
    const char *name;
    int bits; // activation bits on the Arm paths: 0 float route, 8 or 16 integer route
} format;

static const format formats[] = {
    {TK_FP8_E4M3, "fp8_e4m3", 0}, {TK_Q4_1, "q4_1", 0}, {TK_Q8_0, "q8_0", 16},
    {TK_Q4_0, "q4_0", 8},         {TK_MXFP4, "mxfp4", 8}, {TK_NVFP4, "nvfp4", 8},
    {TK_Q4_K, "q4_k", 0},         {TK_Q5_K, "q5_k", 0},   {TK_Q6_K, "q6_k", 0},
    {TK_Q2_K, "q2_k", 0},         {TK_Q3_K, "q3_k", 0},   {TK_IQ4_NL, "iq4_nl", 0},
};

static int run(tk_gemv_path path, const matrix *m, const float *x, float *y) {
    tk_weights w = {m->type, m->cols, m->data, m->bscales, m->rscales, m->scale};
    for (int64_t r = 0; r <= m->rows; r++) y[r] = NAN;
    int64_t mid = m->rows / 2;
    int rc = tk_gemv_with_path(path, &w, x, y, 0, mid);
    if (rc == 0) rc = tk_gemv_with_path(path, &w, x, y, mid, m->rows);
    return rc;
}

static int failures_shown = 0;

/// Checks one (path, format) on one matrix and x; returns the number of failed rows.
static int check_one(tk_gemv_path path, const format *f, const matrix *m, const float *x, int edge) {
    const int64_t rows = m->rows, n = m->cols, nb = (n + 31) / 32;
    float *yp = malloc((rows + 1) * sizeof(float)), *ya = malloc((rows + 1) * sizeof(float));
    int32_t *q = malloc((size_t)nb * 32 * sizeof(int32_t));
    float *d = malloc((size_t)nb * sizeof(float));
    int bad = 0;
    if (run(TK_PATH_PORTABLE, m, x, yp) != 0 || run(path, m, x, ya) != 0 || !isnan(ya[rows]) || !isnan(yp[rows])) {
        printf("  %s/%s %lldx%lld: call failed or wrote past its rows\n", tk_gemv_path_name(path), f->name,
               (long long)rows, (long long)n);
        bad = (int)rows + 1;
        goto out;
    }
    if (f->bits) quantize_ref(x, n, f->bits == 16 ? 32767.0f : 127.0f, q, d);
    for (int64_t r = 0; r < rows; r++) {
        const double *dn = m->dense + r * n, *ws = m->ws + r * n;
        const int32_t *wi = m->wint + r * n;
        double ref = 0, mag = 0;
        for (int64_t c = 0; c < n; c++) {
            ref += dn[c] * x[c];
            mag += fabs(dn[c] * x[c]);
        }
        if (m->type == TK_Q4_1 || m->type == TK_Q4_K || m->type == TK_Q5_K || m->type == TK_Q2_K) { // the d*q and m terms, counted apart
            mag = 0;
            for (int64_t c = 0; c < n; c++) mag += fabs(ws[c] * wi[c] * x[c]) + fabs((dn[c] - ws[c] * wi[c]) * x[c]);
        }
        double tol_float = (double)(n / 4 + 16) * u32 * mag + 1e-35;
        double err_port = fabs(yp[r] - ref);
        int ok = err_port <= tol_float;
        double expect = ref, tol = tol_float, bound = tol_float;
        if (f->bits) {
            double magint, R;
            expect = refint_row(m, r, q, d, &magint, &R);
            tol = (double)(n / 32 + 8) * u32 * magint + 1e-35;
            bound = R * (1 + 1e-6) + tol + tol_float;
        }
        double err = fabs(ya[r] - expect), err_pa = fabs((double)ya[r] - yp[r]);
        ok = ok && err <= tol && err_pa <= bound;
        if (!ok) {
            bad++;
            if (failures_shown++ < 12)
                printf("  FAIL %s/%s %lldx%lld%s row %lld: path %.9g (expected %.9g, |err| %.3g > %.3g?), portable %.9g "
                       "(ref64 %.9g, |err| %.3g > %.3g?), |path-portable| %.3g > %.3g?\n",
                       tk_gemv_path_name(path), f->name, (long long)rows, (long long)n, edge ? " edge" : "",
                       (long long)r, ya[r], expect, err, tol, yp[r], ref, err_port, tol_float, err_pa, bound);
        }
    }
out:
    free(yp), free(ya), free(q), free(d);
    return bad;
}

/// tk_gemm on `path` for n tokens (X: n × ldx, Y: n × ldy) against the portable path and ref64,
/// with the float-route bound at the GEMM's chain length (8 lanes of cols/8, then 3 adds and the
/// tail): |y - ref64| <= (cols/8 + 16) u M. On the integer route (gemm_int_neon.c: the formats
/// whose GEMV quantises x, at the GEMV's width) the path is held to refint and the GEMV's integer
/// bound instead, and to the portable result within R plus both bounds. And batch invariance: each
/// token's row equals, bit for bit, the same path's result for that token alone.
static uint64_t gemm_digest;

static int check_gemm(tk_gemv_path path, const format *f, const matrix *m, int64_t n) {
    const int64_t rows = m->rows, cols = m->cols, ldx = cols + 3, ldy = rows + 2;
    tk_weights w = {m->type, m->cols, m->data, m->bscales, m->rscales, m->scale};
    float *x = malloc((size_t)(n * ldx) * sizeof(float));
    float *ya = malloc((size_t)(n * ldy) * sizeof(float)), *yp = malloc((size_t)(n * ldy) * sizeof(float));
    float *y1 = malloc((size_t)ldy * sizeof(float));
    const int64_t nb = (cols + 31) / 32;
    int32_t *q = malloc((size_t)nb * 32 * sizeof(int32_t));
    float *d = malloc((size_t)nb * sizeof(float));
    for (int64_t t = 0; t < n; t++) {
        float *xt = x + t * ldx;
        if (t % 3 == 2) { // a token of make_x's edge blocks
            float *e = make_x(cols, 1);
            memcpy(xt, e, (size_t)cols * sizeof(float));
            free(e);
        } else {
            for (int64_t i = 0; i < cols; i++) xt[i] = (float)normal();
        }
        for (int64_t i = cols; i < ldx; i++) xt[i] = NAN; // past cols: never read
    }
    for (int64_t i = 0; i < n * ldy; i++) ya[i] = yp[i] = NAN;
    int bad = 0;
    const int bits = tk_gemm_activation_bits(path, f->type);
    if (bits != f->bits) {
        printf("  FAIL %s/gemm_%s: GEMM activation bits %d, the GEMV's %d\n", tk_gemv_path_name(path), f->name, bits,
               f->bits);
        bad = 1;
    }
    int64_t mid = rows / 2;
    if (tk_gemm_with_path(path, &w, x, ldx, ya, ldy, n, 0, mid) || tk_gemm_with_path(path, &w, x, ldx, ya, ldy, n, mid, rows) ||
        tk_gemm_with_path(TK_PATH_PORTABLE, &w, x, ldx, yp, ldy, n, 0, rows)) {
        printf("  %s/gemm_%s: call failed\n", tk_gemv_path_name(path), f->name);
        bad = 1;
        goto out;
    }
    for (int64_t t = 0; t < n; t++) {
        for (int64_t r = 0; r < ldy; r++) y1[r] = NAN;
        tk_gemm_with_path(path, &w, x + t * ldx, ldx, y1, ldy, 1, 0, rows);
        for (int64_t r = rows; r < ldy; r++)
            if (!isnan(ya[t * ldy + r])) bad++; // written past row_end
        if (bits) quantize_ref(x + t * ldx, cols, bits == 16 ? 32767.0f : 127.0f, q, d);
        for (int64_t r = 0; r < rows; r++) {
            double ref = 0, mag = 0;
            for (int64_t c = 0; c < cols; c++) {
                double p = m->dense[r * cols + c] * (double)x[t * ldx + c];
                ref += p;
                mag += fabs(p);
            }
            double tol_float = (double)(cols / 8 + 16) * u32 * mag + 1e-35, expect = ref, tol = tol_float;
            double bound = tol_float;
            float y = ya[t * ldy + r], yport = yp[t * ldy + r];
            if (bits) {
                double magint, R;
                expect = refint_row(m, r, q, d, &magint, &R);
                tol = (double)(cols / 32 + 8) * u32 * magint + 1e-35;
                bound = R * (1 + 1e-6) + tol + tol_float;
            }
            int ok = fabs(y - expect) <= tol && fabs(yport - ref) <= tol_float && fabs((double)y - yport) <= bound &&
                     memcmp(&y, &y1[r], sizeof y) == 0;
            if (!ok) {
                bad++;
                if (failures_shown++ < 12)
                    printf("  FAIL %s/gemm_%s %lldx%lld, %lld tokens: token %lld row %lld: path %.9g, alone %.9g, portable %.9g, "
                           "expected %.9g (tolerance %.3g), ref64 %.9g\n", tk_gemv_path_name(path), f->name, (long long)rows,
                           (long long)cols, (long long)n, (long long)t, (long long)r, y, y1[r], yport, expect, tol, ref);
            }
        }
    }
    // A digest of the outputs' bits: the test compares it between CPU models that run different
    // kernels for the same path (smmla with FEAT_I8MM, sdot without), which must agree bit for bit.
    for (int64_t t = 0; t < n; t++)
        for (int64_t r = 0; r < rows; r++) {
            uint32_t bits;
            memcpy(&bits, &ya[t * ldy + r], 4);
            gemm_digest = (gemm_digest ^ bits) * 0x100000001B3ull;
        }
out:
    free(x), free(ya), free(yp), free(y1), free(q), free(d);
    return bad;
}

/// Step attention with `path` as this thread's path, over an f32 K/V cache (tk_attention_step_mt)
/// or an FP8 one (`fp8`: tk_attention_step_fp8_mt, K/V quantised per vector by
/// tk_quantize_vectors_fp8_e4m3 and read back here through dec_e4m3 x scale), against the portable
/// path and a float64 reference (scores, window, soft-cap, softmax, values in double). Bound: each
/// score's f32 dot is off by at most e_t = (hd/8 + 10) u scale sum |q k|; the softmax turns that
/// into a relative error of at most 2 max e_t (+ (len + 16) u for its own f32 steps), so
/// |out_d - ref_d| <= (4 max e_t + 2 (len + 16) u) sum_t p_t |v_td| + 1e-30.
static int check_attention(tk_gemv_path path, int64_t hd, int64_t window, float softcap, int fp8) {
    const int64_t tokens = 3, heads = 4, q_per_kv = 2, kv_heads = heads / q_per_kv, bs = 16, blocks = 24;
    const int64_t stride = kv_heads * hd + (fp8 ? 0 : 1), q_stride = heads * hd;
    const int64_t positions[3] = {0, 37, 190};
    float *k = malloc((size_t)(blocks * bs * stride) * sizeof(float)), *v = malloc((size_t)(blocks * bs * stride) * sizeof(float));
    float *q = malloc((size_t)(tokens * q_stride) * sizeof(float));
    float *oa = malloc((size_t)(tokens * q_stride) * sizeof(float)), *op = malloc((size_t)(tokens * q_stride) * sizeof(float));
    for (int64_t i = 0; i < blocks * bs * stride; i++) k[i] = (float)normal(), v[i] = (float)normal();
    for (int64_t i = 0; i < tokens * q_stride; i++) q[i] = (float)(2.0 * normal());
    int32_t tables[3 * 12];
    int64_t offsets[3] = {0, 12, 24};
    for (int i = 0; i < 36; i++) tables[i] = (int32_t)((i * 7 + 3) % blocks); // blocks out of order
    const int64_t vectors = blocks * bs * kv_heads;
    uint8_t *kc = malloc((size_t)(vectors * hd)), *vc = malloc((size_t)(vectors * hd));
    float *ks = malloc((size_t)vectors * sizeof(float)), *vs = malloc((size_t)vectors * sizeof(float));
    if (fp8) { // the cache as the FP8 kernels read it, and k, v replaced by what it holds
        tk_quantize_vectors_fp8_e4m3(k, kc, ks, vectors, hd);
        tk_quantize_vectors_fp8_e4m3(v, vc, vs, vectors, hd);
        for (int64_t i = 0; i < vectors * hd; i++) {
            k[i] = (float)(dec_e4m3(kc[i]) * ks[i / hd]);
            v[i] = (float)(dec_e4m3(vc[i]) * vs[i / hd]);
        }
    }
    tk_attention_step st = {oa, q, k, v, tables, offsets, positions, tokens, heads, q_per_kv, hd, q_stride, bs, stride,
                            window, softcap};
    tk_attention_step_fp8 st8 = {oa, q, kc, vc, ks, vs, tables, offsets, positions, tokens, heads, q_per_kv, hd, q_stride,
                                 bs, stride, kv_heads, window, softcap};
    int bad = 0;
    tk_gemv_set_thread_path(path);
    int rc = fp8 ? tk_attention_step_fp8_mt(&st8) : tk_attention_step_mt(&st);
    st.out = st8.out = op;
    tk_gemv_set_thread_path(TK_PATH_PORTABLE);
    rc |= fp8 ? tk_attention_step_fp8_mt(&st8) : tk_attention_step_mt(&st);
    tk_gemv_set_thread_path(TK_PATH_AUTO);
    if (rc) {
        printf("  %s/attention%s: call failed\n", tk_gemv_path_name(path), fp8 ? "_fp8" : "");
        bad = 1;
    }
    const double scale = 1.0 / sqrt((double)hd);
    for (int64_t t = 0; t < tokens && !bad; t++)
        for (int64_t h = 0; h < heads; h++) {
            int64_t len = positions[t] + 1, first = window > 0 && len > window ? len - window : 0;
            const float *qh = q + t * q_stride + h * hd;
            double sc[200], p[200], emax = 0, mx = -INFINITY, sum = 0;
            for (int64_t i = 0; i < len; i++) {
                const float *kt = k + ((int64_t)tables[offsets[t] + i / bs] * bs + i % bs) * stride + (h / q_per_kv) * hd;
                double dot = 0, mag = 0;
                for (int64_t d = 0; d < hd; d++) dot += (double)qh[d] * kt[d], mag += fabs((double)qh[d] * kt[d]);
                sc[i] = dot * scale;
                if (softcap > 0) sc[i] = softcap * tanh(sc[i] / softcap);
                if (i < first) sc[i] = -INFINITY;
                emax = fmax(emax, (double)(hd / 8 + 10) * u32 * scale * mag);
                mx = fmax(mx, sc[i]);
            }
            for (int64_t i = 0; i < len; i++) sum += (p[i] = exp(sc[i] - mx));
            for (int64_t d = 0; d < hd; d++) {
                double ref = 0, mag = 0;
                for (int64_t i = 0; i < len; i++) {
                    const float *vt = v + ((int64_t)tables[offsets[t] + i / bs] * bs + i % bs) * stride + (h / q_per_kv) * hd;
                    ref += p[i] / sum * vt[d];
                    mag += p[i] / sum * fabs(vt[d]);
                }
                double tol = (4 * emax + 2 * (double)(len + 16) * u32) * mag + 1e-30;
                float ya = oa[t * q_stride + h * hd + d], yp = op[t * q_stride + h * hd + d];
                if (!(fabs(ya - ref) <= tol && fabs(yp - ref) <= tol)) {
                    bad++;
                    if (failures_shown++ < 12)
                        printf("  FAIL %s/attention%s hd %lld window %lld softcap %g: token %lld head %lld dim %lld: path %.9g, "
                               "portable %.9g, ref64 %.9g (tolerance %.3g)\n", tk_gemv_path_name(path), fp8 ? "_fp8" : "", (long long)hd,
                               (long long)window, softcap, (long long)t, (long long)h, (long long)d, ya, yp, ref, tol);
                }
            }
        }
    free(k), free(v), free(q), free(oa), free(op), free(kc), free(vc), free(ks), free(vs);
    return bad;
}

static int shapes(tk_type t, int64_t out[][2]) {
    static const int64_t fp8[][2] = {{5, 1}, {3, 15}, {4, 16}, {7, 33}, {3, 100}, {9, 256}, {2, 4113}, {1, 8208}};
    static const int64_t nv[][2] = {{5, 16}, {3, 48}, {7, 80}, {4, 272}, {3, 64}, {2, 4112}, {2, 8192}, {1, 8240}};
    static const int64_t blk[][2] = {{5, 32}, {3, 96}, {6, 160}, {4, 64}, {2, 4128}, {2, 8192}, {1, 8224}, {1, 16384}};
    static const int64_t kq[][2] = {{5, 256}, {3, 512}, {4, 768}, {2, 2304}, {2, 4096}, {1, 8192}, {3, 256}, {1, 16384}};
    const int64_t(*s)[2] = t == TK_FP8_E4M3 ? fp8 : t == TK_NVFP4 ? nv : t == TK_Q2_K || t == TK_Q3_K || t == TK_Q4_K || t == TK_Q5_K || t == TK_Q6_K ? kq : blk;
    memcpy(out, s, sizeof(blk));
    return 8;
}

int main(int argc, char **argv) {
    if (argc > 1) rng_state ^= strtoull(argv[1], NULL, 10);
    char features[256];
    tk_cpu_features(features, sizeof features);
    printf("features: %s\n", features);
    printf("best path: %s\n", tk_gemv_path_name(tk_gemv_best_path()));
    const tk_gemv_path arm[] = {TK_PATH_NEON, TK_PATH_DOTPROD};
    int failed = 0, passed = 0;
    for (int pi = 0; pi < 2; pi++) {
        tk_gemv_path path = arm[pi];
        int supported = tk_gemv_path_supported(path);
        printf("path %s: %s\n", tk_gemv_path_name(path), supported ? "supported" : "not supported");
        if (!supported) {
            // Refused, not silently run some other way.
            matrix m = make_matrix(TK_Q4_0, 2, 64, 0);
            float *x = make_x(64, 0), y[3];
            int refused = run(path, &m, x, y) == TK_ERR_INVALID && tk_gemv_set_thread_path(path) == -1;
            printf("kernel %s/refused: %s\n", tk_gemv_path_name(path), refused ? "ok" : "FAIL");
            refused ? passed++ : failed++;
            free(x), free_matrix(&m);
            continue;
        }
        for (size_t fi = 0; fi < sizeof formats / sizeof formats[0]; fi++) {
            const format *f = &formats[fi];
            int bad = tk_gemv_activation_bits(path, f->type) != f->bits;
            if (bad) printf("  FAIL %s/%s: activation bits %d, expected %d\n", tk_gemv_path_name(path), f->name,
                            tk_gemv_activation_bits(path, f->type), f->bits);
            int64_t sh[8][2];
            int ns = shapes(f->type, sh);
            for (int si = 0; si < ns; si++)
                for (int edge = 0; edge < 2; edge++) {
                    matrix m = make_matrix(f->type, sh[si][0], sh[si][1], edge);
                    float *x = make_x(sh[si][1], edge);
                    bad += check_one(path, f, &m, x, edge);
                    free(x), free_matrix(&m);
                }
            printf("kernel %s/%s: %s\n", tk_gemv_path_name(path), f->name, bad ? "FAIL" : "ok");
            bad ? failed++ : passed++;
            // The prefill GEMM (gemm.c's driver; float route: gemm_neon.c's tiles, panels of 12
            // rows cut at 3; integer route: gemm_int_neon.c, panels of 16 rows in groups of 8):
            // tokens in tiles of 4 and tails, columns with and without a tail of 8, NVFP4 with a
            // lone 16-column block.
            static const int64_t gshapes[][3] = {{13, 32, 5}, {7, 64, 9}, {3, 96, 3}, {14, 160, 4},
                                                 {5, 256, 2}, {2, 4096, 1}, {37, 96, 7}};
            bad = 0;
            gemm_digest = 0xCBF29CE484222325ull;
            for (int si = 0; si < 7; si++) {
                int64_t cols = gshapes[si][1];
                if (f->type == TK_FP8_E4M3) cols += 3; // FP8 takes any width: a tail past the 8-column steps
                else if (f->bits == 0 && f->type != TK_Q4_1) cols = 256 * (si % 3 + 1); // K-quants: whole super-blocks
                else if (f->type == TK_NVFP4 && si % 2) cols -= 16;
                matrix m = make_matrix(f->type, gshapes[si][0], cols, si % 2);
                bad += check_gemm(path, f, &m, gshapes[si][2]);
                free_matrix(&m);
            }
            printf("kernel %s/gemm_%s: %s\n", tk_gemv_path_name(path), f->name, bad ? "FAIL" : "ok");
            printf("digest %s/gemm_%s: %016llx\n", tk_gemv_path_name(path), f->name, (unsigned long long)gemm_digest);
            bad ? failed++ : passed++;
        }
        // Step attention: head dims through the 8-column key loop, the 32-dimension value passes,
        // the 4-dimension steps and a scalar tail; with a sliding window and a soft-cap.
        static const int64_t hds[] = {8, 20, 64, 72, 128, 7};
        for (int fp8 = 0; fp8 < 2; fp8++) {
            int bad = 0;
            for (int i = 0; i < 6; i++) bad += check_attention(path, hds[i], i % 3 == 1 ? 32 : 0, i % 2 ? 30.0f : 0.0f, fp8);
            printf("kernel %s/attention%s: %s\n", tk_gemv_path_name(path), fp8 ? "_fp8" : "", bad ? "FAIL" : "ok");
            bad ? failed++ : passed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
