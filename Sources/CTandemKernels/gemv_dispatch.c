// Quantised GEMV: argument checks, run-time path selection, the portable C kernels and the
// row-parallel entry points (tk_gemv_mt, tk_matvec_mt) that split rows over the process-wide pool.
// The x86-64 kernels live in gemv_avx2.c, gemv_avx512.c and gemv_int8.c, the AArch64 ones in
// gemv_neon.c; all share the signature tk__gemv_kernel (tk_internal.h) and trust the checks made here.
#include "tandem_gemv.h"
#include "tandem_formats.h"
#include "tandem_kernels.h"
#include "tandem_pool.h"
#include "tk_internal.h"
#include <stdatomic.h>
#include <string.h>
#include <stdio.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#if defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>
#endif

// ---- portable kernels ----

static const float e2m1_f32[16] = {
    0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f,
    -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f,
};

static void fp8_portable(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *q = (const uint8_t *)w->data + (size_t)r * (size_t)n;
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        int64_t c = 0;
        for (; c + 4 <= n; c += 4) {
            a0 += tk_e4m3_f32_table[q[c]] * x[c];
            a1 += tk_e4m3_f32_table[q[c + 1]] * x[c + 1];
            a2 += tk_e4m3_f32_table[q[c + 2]] * x[c + 2];
            a3 += tk_e4m3_f32_table[q[c + 3]] * x[c + 3];
        }
        for (; c < n; c++) a0 += tk_e4m3_f32_table[q[c]] * x[c];
        float s = w->scale * (w->row_scales ? w->row_scales[r] : 1.0f);
        y[r] = ((a0 + a1) + (a2 + a3)) * s;
    }
}

static void nvfp4_portable(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t n = w->cols, nb = n / 16;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *q = (const uint8_t *)w->data + (size_t)r * (size_t)(n / 2);
        const uint8_t *sc = w->block_scales + (size_t)r * (size_t)nb;
        float acc = 0;
        for (int64_t b = 0; b < nb; b++, q += 8) {
            const float *xb = x + b * 16;
            float s0 = 0, s1 = 0;
            for (int j = 0; j < 8; j++) {
                s0 += e2m1_f32[q[j] & 0x0F] * xb[2 * j];
                s1 += e2m1_f32[q[j] >> 4] * xb[2 * j + 1];
            }
            acc += tk_e4m3_f32_table[sc[b]] * (s0 + s1);
        }
        y[r] = acc * w->scale;
    }
}

static void mxfp4_portable(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t nb = w->cols / 32;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 17;
        float acc = 0;
        for (int64_t b = 0; b < nb; b++, p += 17) {
            const float *xb = x + b * 32;
            float s0 = 0, s1 = 0;
            for (int j = 0; j < 16; j++) {
                s0 += e2m1_f32[p[1 + j] & 0x0F] * xb[j];
                s1 += e2m1_f32[p[1 + j] >> 4] * xb[j + 16];
            }
            acc += tk_e8m0_f32_table[p[0]] * (s0 + s1);
        }
        y[r] = acc;
    }
}

static void q8_0_portable(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t nb = w->cols / 32;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 34;
        float acc = 0;
        for (int64_t b = 0; b < nb; b++, p += 34) {
            const int8_t *q = (const int8_t *)(p + 2);
            const float *xb = x + b * 32;
            float s0 = 0, s1 = 0;
            for (int j = 0; j < 16; j++) {
                s0 += (float)q[j] * xb[j];
                s1 += (float)q[j + 16] * xb[j + 16];
            }
            acc += tk_f16_to_f32(le16(p)) * (s0 + s1);
        }
        y[r] = acc;
    }
}

static void q4_0_portable(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t nb = w->cols / 32;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 18;
        float acc = 0;
        for (int64_t b = 0; b < nb; b++, p += 18) {
            const uint8_t *q = p + 2;
            const float *xb = x + b * 32;
            float s0 = 0, s1 = 0;
            for (int j = 0; j < 16; j++) {
                s0 += (float)((int)(q[j] & 0x0F) - 8) * xb[j];
                s1 += (float)((int)(q[j] >> 4) - 8) * xb[j + 16];
            }
            acc += tk_f16_to_f32(le16(p)) * (s0 + s1);
        }
        y[r] = acc;
    }
}

/// The K-quants and IQ4_NL: tk_matvec's route (each (super-)block dequantised exactly, then dotted
/// in f32).
static void kquant_portable(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    (void)tk_matvec(w->format, w->data, x, y, rb, re, w->cols);
}

static void q4_1_portable(const tk_weights *w, const float *x, float *y, int64_t rb, int64_t re) {
    const int64_t nb = w->cols / 32;
    for (int64_t r = rb; r < re; r++) {
        const uint8_t *p = (const uint8_t *)w->data + (size_t)r * (size_t)nb * 20;
        float acc = 0;
        for (int64_t b = 0; b < nb; b++, p += 20) {
            const uint8_t *q = p + 4;
            const float *xb = x + b * 32;
            float s0 = 0, s1 = 0, xs = 0;
            for (int j = 0; j < 16; j++) {
                s0 += (float)(q[j] & 0x0F) * xb[j];
                s1 += (float)(q[j] >> 4) * xb[j + 16];
                xs += xb[j] + xb[j + 16];
            }
            acc += tk_f16_to_f32(le16(p)) * (s0 + s1) + tk_f16_to_f32(le16(p + 2)) * xs;
        }
        y[r] = acc;
    }
}

// ---- path selection ----

#if defined(__aarch64__)
// AT_HWCAP / AT_HWCAP2 bits (Linux arch/arm64/include/uapi/asm/hwcap.h), for C libraries whose
// headers predate them.
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP_SVE
#define HWCAP_SVE (1UL << 22)
#endif
#ifndef HWCAP2_SVE2
#define HWCAP2_SVE2 (1UL << 1)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif
#ifndef HWCAP2_BF16
#define HWCAP2_BF16 (1UL << 14)
#endif

/// The Arm features the paths are chosen from (bit 0 asimd, 1 dotprod, 2 i8mm, 3 bf16, 4 sve, 5 sve2).
static unsigned arm_features(void) {
    unsigned f = 0;
#if defined(__linux__)
    unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    f |= (hw & HWCAP_ASIMD) ? 1u : 0u;
    f |= (hw & HWCAP_ASIMDDP) ? 2u : 0u;
    f |= (hw2 & HWCAP2_I8MM) ? 4u : 0u;
    f |= (hw2 & HWCAP2_BF16) ? 8u : 0u;
    f |= (hw & HWCAP_SVE) ? 16u : 0u;
    f |= (hw2 & HWCAP2_SVE2) ? 32u : 0u;
#elif defined(__APPLE__)
    static const char *names[] = {"hw.optional.AdvSIMD", "hw.optional.arm.FEAT_DotProd", "hw.optional.arm.FEAT_I8MM",
                                  "hw.optional.arm.FEAT_BF16"};
    for (unsigned i = 0; i < 4; i++) {
        int v = 0;
        size_t len = sizeof v;
        if (sysctlbyname(names[i], &v, &len, NULL, 0) == 0 && v) f |= 1u << i;
    }
#else
    f = 1; // Advanced SIMD is part of every AArch64 core
#endif
    return f;
}
#endif

#if defined(__aarch64__)
int tk__arm_has_i8mm(void) {
    static int known = -1; // benign race: every thread computes the same value
    if (known < 0) known = (arm_features() & 4u) != 0;
    return known;
}
#endif

static int cpu_has(tk_gemv_path path) {
    switch (path) {
    case TK_PATH_AUTO:
    case TK_PATH_PORTABLE: return 1;
#if defined(__x86_64__)
    case TK_PATH_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
               __builtin_cpu_supports("f16c");
    case TK_PATH_AVX512:
        return cpu_has(TK_PATH_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni");
#else
    case TK_PATH_AVX2:
    case TK_PATH_AVX512: return 0;
#endif
#if defined(__aarch64__)
    case TK_PATH_NEON: return (arm_features() & 1u) != 0;
    case TK_PATH_DOTPROD: return (arm_features() & 3u) == 3u;
#else
    case TK_PATH_NEON:
    case TK_PATH_DOTPROD: return 0;
#endif
    }
    return 0;
}

/// Whether `path` names a path (TK_PATH_AUTO excluded).
static int is_path(tk_gemv_path path) { return path >= TK_PATH_PORTABLE && path <= TK_PATH_DOTPROD; }

int tk_cpu_features(char *buf, size_t size) {
    if (!buf || size == 0) return -1;
    buf[0] = 0;
    size_t used = 0;
    int all_fit = 1;
#define ADD_FEATURE(name, on)                                                                  \
    if (on) {                                                                                  \
        int k = snprintf(buf + used, size - used, "%s%s", used ? " " : "", name);              \
        if (k < 0 || (size_t)k >= size - used) { all_fit = 0; buf[used] = 0; } else used += (size_t)k; \
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    ADD_FEATURE("avx2", __builtin_cpu_supports("avx2"))
    ADD_FEATURE("fma", __builtin_cpu_supports("fma"))
    ADD_FEATURE("f16c", __builtin_cpu_supports("f16c"))
    ADD_FEATURE("avx512f", __builtin_cpu_supports("avx512f"))
    ADD_FEATURE("avx512bw", __builtin_cpu_supports("avx512bw"))
    ADD_FEATURE("avx512vl", __builtin_cpu_supports("avx512vl"))
    ADD_FEATURE("avx512vnni", __builtin_cpu_supports("avx512vnni"))
#elif defined(__aarch64__)
    unsigned f = arm_features();
    ADD_FEATURE("asimd", f & 1u)
    ADD_FEATURE("dotprod", f & 2u)
    ADD_FEATURE("i8mm", f & 4u)
    ADD_FEATURE("bf16", f & 8u)
    ADD_FEATURE("sve", f & 16u)
    ADD_FEATURE("sve2", f & 32u)
#endif
#undef ADD_FEATURE
    return all_fit ? 0 : -1;
}

tk_gemv_path tk_gemv_best_path(void) {
    if (cpu_has(TK_PATH_DOTPROD)) return TK_PATH_DOTPROD;
    if (cpu_has(TK_PATH_NEON)) return TK_PATH_NEON;
    if (cpu_has(TK_PATH_AVX512)) return TK_PATH_AVX512;
    if (cpu_has(TK_PATH_AVX2)) return TK_PATH_AVX2;
    return TK_PATH_PORTABLE;
}

int tk_gemv_path_supported(tk_gemv_path path) { return cpu_has(path); }

int tk_cpu_set_denormals_are_zero(int on) {
#if defined(__x86_64__)
    unsigned csr = _mm_getcsr();
    _mm_setcsr(on ? (csr | 0x0040u) : (csr & ~0x0040u));
    return (csr & 0x0040u) ? 1 : 0;
#else
    (void)on;
    return -1;
#endif
}

static _Atomic int current_path = 0; // 0: not chosen yet

tk_gemv_path tk_gemv_get_path(void) {
    int p = atomic_load_explicit(&current_path, memory_order_relaxed);
    if (p == 0) {
        p = (int)tk_gemv_best_path();
        int expected = 0;
        if (!atomic_compare_exchange_strong(&current_path, &expected, p)) p = expected;
    }
    return (tk_gemv_path)p;
}

static _Thread_local int thread_path = 0; // 0: follow the process-wide path

int tk_gemv_set_thread_path(tk_gemv_path path) {
    if (path == TK_PATH_AUTO) {
        thread_path = 0;
        return 0;
    }
    if (!is_path(path) || !cpu_has(path)) return -1;
    thread_path = (int)path;
    return 0;
}

tk_gemv_path tk_gemv_effective_path(void) {
    return thread_path ? (tk_gemv_path)thread_path : tk_gemv_get_path();
}

int tk_gemv_set_path(tk_gemv_path path) {
    if ((path != TK_PATH_AUTO && !is_path(path)) || !cpu_has(path)) return -1;
    atomic_store(&current_path, (int)(path == TK_PATH_AUTO ? tk_gemv_best_path() : path));
    return 0;
}

const char *tk_gemv_path_name(tk_gemv_path path) {
    switch (path) {
    case TK_PATH_AUTO: return "auto";
    case TK_PATH_PORTABLE: return "portable";
    case TK_PATH_AVX2: return "avx2";
    case TK_PATH_AVX512: return "avx512";
    case TK_PATH_NEON: return "neon";
    case TK_PATH_DOTPROD: return "dotprod";
    }
    return "unknown";
}

/// The kernel `path` runs for `type` (a SIMD path's own, else the portable one); NULL if tk_gemv has
/// none.
static tk__gemv_kernel kernel_for(tk_gemv_path path, tk_type type) {
#if defined(__x86_64__)
    if (path == TK_PATH_AVX512) {
        switch (type) {
        case TK_FP8_E4M3: return tk__gemv_fp8_avx512;
        case TK_NVFP4: return tk__gemv_nvfp4_int_vnni;
        case TK_MXFP4: return tk__gemv_mxfp4_int_vnni;
        case TK_Q8_0: return tk__gemv_q8_0_int16_avx2;
        case TK_Q4_0: return tk__gemv_q4_0_int_vnni;
        case TK_Q4_1: return tk__gemv_q4_1_avx2;
        case TK_Q4_K: return tk__gemv_q4_k_avx2;
        case TK_Q5_K: return tk__gemv_q5_k_avx2;
        case TK_Q6_K: return tk__gemv_q6_k_avx2;
        case TK_Q2_K: return tk__gemv_q2_k_avx2;
        case TK_Q3_K: return tk__gemv_q3_k_avx2;
        case TK_IQ4_NL: return tk__gemv_iq4_nl_avx2;
        default: break; // the portable kernel below
        }
    }
    if (path == TK_PATH_AVX2) {
        switch (type) {
        case TK_FP8_E4M3: return tk__gemv_fp8_avx2;
        case TK_NVFP4: return tk__gemv_nvfp4_int_avx2;
        case TK_MXFP4: return tk__gemv_mxfp4_int_avx2;
        case TK_Q8_0: return tk__gemv_q8_0_int16_avx2;
        case TK_Q4_0: return tk__gemv_q4_0_int_avx2;
        case TK_Q4_1: return tk__gemv_q4_1_avx2;
        case TK_Q4_K: return tk__gemv_q4_k_avx2;
        case TK_Q5_K: return tk__gemv_q5_k_avx2;
        case TK_Q6_K: return tk__gemv_q6_k_avx2;
        case TK_Q2_K: return tk__gemv_q2_k_avx2;
        case TK_Q3_K: return tk__gemv_q3_k_avx2;
        case TK_IQ4_NL: return tk__gemv_iq4_nl_avx2;
        default: break; // the portable kernel below
        }
    }
#endif
#if defined(__aarch64__)
    if (path == TK_PATH_NEON || path == TK_PATH_DOTPROD) {
        int dot = path == TK_PATH_DOTPROD;
        switch (type) {
        case TK_FP8_E4M3: return tk__gemv_fp8_neon;
        case TK_NVFP4: return dot ? tk__gemv_nvfp4_int_dot : tk__gemv_nvfp4_int_neon;
        case TK_MXFP4: return dot ? tk__gemv_mxfp4_int_dot : tk__gemv_mxfp4_int_neon;
        case TK_Q8_0: return tk__gemv_q8_0_int16_neon;
        case TK_Q4_0: return dot ? tk__gemv_q4_0_int_dot : tk__gemv_q4_0_int_neon;
        case TK_Q4_1: return tk__gemv_q4_1_neon;
        case TK_Q4_K: return tk__gemv_q4_k_neon;
        case TK_Q5_K: return tk__gemv_q5_k_neon;
        case TK_Q6_K: return tk__gemv_q6_k_neon;
        case TK_Q2_K: return tk__gemv_q2_k_neon;
        case TK_Q3_K: return tk__gemv_q3_k_neon;
        case TK_IQ4_NL: return tk__gemv_iq4_nl_neon;
        default: break; // the portable kernel below
        }
    }
#endif
    switch (type) {
    case TK_FP8_E4M3: return fp8_portable;
    case TK_NVFP4: return nvfp4_portable;
    case TK_MXFP4: return mxfp4_portable;
    case TK_Q8_0: return q8_0_portable;
    case TK_Q4_0: return q4_0_portable;
    case TK_Q4_1: return q4_1_portable;
    case TK_Q2_K:
    case TK_Q3_K:
    case TK_Q4_K:
    case TK_Q5_K:
    case TK_Q6_K:
    case TK_IQ4_NL: return kquant_portable;
    default: return NULL;
    }
}

int tk_gemv_supports(tk_type type) { return kernel_for(TK_PATH_PORTABLE, type) != NULL; }

int tk_gemv_activation_bits(tk_gemv_path path, tk_type type) {
    if (path == TK_PATH_AUTO) path = tk_gemv_effective_path();
    if (path != TK_PATH_AVX2 && path != TK_PATH_AVX512 && path != TK_PATH_NEON && path != TK_PATH_DOTPROD) return 0;
    if (type == TK_NVFP4 || type == TK_MXFP4 || type == TK_Q4_0) return 8;
    return type == TK_Q8_0 ? 16 : 0;
}

int tk_gemv_quantizes_activations(tk_gemv_path path, tk_type type) {
    return tk_gemv_activation_bits(path, type) != 0;
}

int tk_gemv_with_path(tk_gemv_path path, const tk_weights *w, const float *x, float *y,
                      int64_t row_begin, int64_t row_end) {
    if (!w || !x || !y || !w->data || row_begin < 0 || row_end < row_begin) return TK_ERR_INVALID;
    if (path == TK_PATH_AUTO) path = tk_gemv_effective_path();
    else if (!cpu_has(path)) return TK_ERR_INVALID;
    tk__gemv_kernel kernel = kernel_for(path, w->format);
    if (!kernel) return TK_ERR_UNSUPPORTED_TYPE;
    if (tk_row_bytes(w->format, w->cols) == 0) return TK_ERR_INVALID;
    if (w->format == TK_NVFP4 && !w->block_scales) return TK_ERR_INVALID;
    if (row_end > row_begin) kernel(w, x, y, row_begin, row_end);
    return TK_OK;
}

int tk_gemv(const tk_weights *w, const float *x, float *y, int64_t row_begin, int64_t row_end) {
    return tk_gemv_with_path(TK_PATH_AUTO, w, x, y, row_begin, row_end);
}

int tk_gemv_fp8_e4m3(const uint8_t *w, float scale, const float *row_scales, const float *x, float *y,
                     int64_t row_begin, int64_t row_end, int64_t cols) {
    tk_weights m = {TK_FP8_E4M3, cols, w, NULL, row_scales, scale};
    return tk_gemv(&m, x, y, row_begin, row_end);
}

int tk_gemv_nvfp4(const uint8_t *w, const uint8_t *block_scales, float tensor_scale, const float *x,
                  float *y, int64_t row_begin, int64_t row_end, int64_t cols) {
    tk_weights m = {TK_NVFP4, cols, w, block_scales, NULL, tensor_scale};
    return tk_gemv(&m, x, y, row_begin, row_end);
}

int tk_gemv_mxfp4(const void *w, const float *x, float *y, int64_t row_begin, int64_t row_end, int64_t cols) {
    tk_weights m = {TK_MXFP4, cols, w, NULL, NULL, 1.0f};
    return tk_gemv(&m, x, y, row_begin, row_end);
}

int tk_gemv_q8_0(const void *w, const float *x, float *y, int64_t row_begin, int64_t row_end, int64_t cols) {
    tk_weights m = {TK_Q8_0, cols, w, NULL, NULL, 1.0f};
    return tk_gemv(&m, x, y, row_begin, row_end);
}

int tk_gemv_q4_0(const void *w, const float *x, float *y, int64_t row_begin, int64_t row_end, int64_t cols) {
    tk_weights m = {TK_Q4_0, cols, w, NULL, NULL, 1.0f};
    return tk_gemv(&m, x, y, row_begin, row_end);
}

int tk_gemv_q4_1(const void *w, const float *x, float *y, int64_t row_begin, int64_t row_end, int64_t cols) {
    tk_weights m = {TK_Q4_1, cols, w, NULL, NULL, 1.0f};
    return tk_gemv(&m, x, y, row_begin, row_end);
}

// ---- row-parallel GEMV and matvec over the process-wide pool ----

typedef struct {
    const tk_weights *w;      // NULL for tk_matvec jobs
    tk_gemv_path path;        // the caller's effective path, so workers compute as it would
    tk_type type;
    const void *data;
    int64_t cols;
    const float *x;
    float *y;
    int64_t row_begin, row_end;
    atomic_int failed;
} rows_job;

static void rows_task(void *ctx, int64_t t, int64_t n) {
    rows_job *j = ctx;
    int64_t rows = j->row_end - j->row_begin;
    int64_t b = j->row_begin + rows * t / n, e = j->row_begin + rows * (t + 1) / n;
    int rc = j->w ? tk_gemv_with_path(j->path, j->w, j->x, j->y, b, e)
                  : tk_matvec(j->type, j->data, j->x, j->y, b, e, j->cols);
    if (rc != 0) atomic_store(&j->failed, 1);
}

/// Tasks for `rows` rows of `row_bytes` each: one per thread, or 1 when too small to pay.
static int64_t task_count(int64_t rows, size_t row_bytes) {
    int threads = tk_threads_get();
    if (threads < 2 || rows < 2 * threads) return 1;
    if ((double)rows * (double)row_bytes < (double)tk_threads_min_bytes()) return 1;
    return threads;
}

static _Thread_local int64_t splits_here; // row-parallel calls from this thread that went to the pool

int64_t tk_threads_splits_on_this_thread(void) { return splits_here; }

static int run_rows(rows_job *j, size_t row_bytes) {
    int64_t tasks = task_count(j->row_end - j->row_begin, row_bytes);
    if (tasks > 1 && tk_threads_run(rows_task, j, tasks) == 0) {
        splits_here++;
        return atomic_load(&j->failed) ? TK_ERR_INVALID : TK_OK;
    }
    return j->w ? tk_gemv(j->w, j->x, j->y, j->row_begin, j->row_end)
                : tk_matvec(j->type, j->data, j->x, j->y, j->row_begin, j->row_end, j->cols);
}

int tk_gemv_mt(const tk_weights *w, const float *x, float *y, int64_t row_begin, int64_t row_end) {
    if (!w || row_end < row_begin) return TK_ERR_INVALID;
    if (!tk_gemv_supports(w->format)) return TK_ERR_UNSUPPORTED_TYPE;
    size_t rb = tk_row_bytes(w->format, w->cols);
    if (rb == 0) return TK_ERR_INVALID;
    rows_job j = {.w = w, .path = tk_gemv_effective_path(), .x = x, .y = y, .row_begin = row_begin, .row_end = row_end};
    atomic_init(&j.failed, 0);
    return run_rows(&j, rb);
}

int tk_matvec_mt(tk_type type, const void *w, const float *x, float *y,
                 int64_t row_begin, int64_t row_end, int64_t cols) {
    if (!tk_matvec_supports(type)) return TK_ERR_UNSUPPORTED_TYPE;
    size_t rb = tk_row_bytes(type, cols);
    if (rb == 0 || row_end < row_begin) return TK_ERR_INVALID;
    rows_job j = {.w = NULL, .type = type, .data = w, .cols = cols, .x = x, .y = y,
                  .row_begin = row_begin, .row_end = row_end};
    atomic_init(&j.failed, 0);
    return run_rows(&j, rb);
}
