// Internal to CTandemKernels: what the two step-attention kernels (attention_f32.c over f32 K/V,
// attention_fp8.c over FP8 K/V) share around their per-head bodies: path choice, the longest
// context of a step, and how a step's (token, head) items are spread over the kernel threads.
#ifndef TANDEM_STEP_COMMON_H
#define TANDEM_STEP_COMMON_H

#include "tandem_gemv.h"
#include "tandem_pool.h"
#include <stdint.h>

/// Whether a path runs the AVX2 bodies (the AVX-512 path reuses them for these kernels).
static inline int tk__uses_avx2(tk_gemv_path path) {
#if defined(__x86_64__)
    return path == TK_PATH_AVX2 || path == TK_PATH_AVX512;
#else
    (void)path;
    return 0;
#endif
}

/// positions[t] + 1 at the most over the step's tokens (at least 1), or -1 if a position is negative.
static inline int64_t tk__step_max_len(const int64_t *positions, int64_t tokens) {
    int64_t max_len = 1;
    for (int64_t t = 0; t < tokens; t++) {
        if (positions[t] < 0) return -1;
        if (positions[t] + 1 > max_len) max_len = positions[t] + 1;
    }
    return max_len;
}

/// Runs task over `items` independent items, on the kernel threads when the step has enough work
/// (`work`: items x context length; one decode token's heads over a short context is too little to
/// hand out), else on this thread. The task deals items round-robin by its (task, ntasks).
static inline void tk__run_step(tk_task_fn task, void *job, int64_t items, int64_t work) {
    int threads = tk_threads_get();
    if (threads > 1 && work >= 4096) {
        int64_t tasks = items < threads ? items : threads;
        if (tk_threads_run(task, job, tasks) == 0) return;
    }
    task(job, 0, 1);
}

#endif
