// STREAM-style bandwidth probes: see tandem_stream.h.
#include "tandem_stream.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2"))) static float read_avx2(const float *a, size_t n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(a + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(a + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(a + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(a + i + 24));
    }
    float out[8];
    _mm256_storeu_ps(out, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    float s = 0;
    for (int k = 0; k < 8; k++) s += out[k];
    for (; i < n; i++) s += a[i];
    return s;
}
#endif

float tk_stream_read(const float *a, size_t begin, size_t end) {
    const float *p = a + begin / 4;
    size_t n = (end - begin) / 4;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) return read_avx2(p, n);
#endif
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) { s0 += p[i]; s1 += p[i + 1]; s2 += p[i + 2]; s3 += p[i + 3]; }
    for (; i < n; i++) s0 += p[i];
    return (s0 + s1) + (s2 + s3);
}

void tk_stream_triad(float *a, const float *b, const float *c, float s, size_t begin, size_t end) {
    for (size_t i = begin / 4; i < end / 4; i++) a[i] = b[i] + s * c[i];
}
