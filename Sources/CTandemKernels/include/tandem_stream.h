// STREAM-style memory bandwidth probes (after McCalpin's STREAM benchmark), for the GEMV
// roofline: a quantised decode GEMV is bound by how fast it can read its weights, so its
// effective bandwidth is compared with what a plain read of the same amount of memory reaches in
// the same run. Each call covers bytes [begin, end) of its arrays, so callers can split the work
// over threads (tk_pool_run).
#ifndef TANDEM_STREAM_H
#define TANDEM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Read-only: sums floats a[begin/4 .. end/4) (8 lanes on AVX2, 4 portably). Returns the sum so
/// the compiler cannot drop the loads. begin and end are multiples of 64.
float tk_stream_read(const float *a, size_t begin, size_t end);
/// Triad: a[i] = b[i] + s * c[i] over the same float range (reads 2, writes 1).
void tk_stream_triad(float *a, const float *b, const float *c, float s, size_t begin, size_t end);

#ifdef __cplusplus
}
#endif
#endif
