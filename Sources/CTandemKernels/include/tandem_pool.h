// Tandem worker threads for the kernels that split their work (decode GEMV: y = W x split by rows,
// tandem_gemv.h; the GEMM's panels; the step attention's heads). This file is the pool only.
//
// A pool of `threads - 1` workers; the calling thread runs task 0 itself. Between jobs a worker
// polls for the next one for at most the spin window (TANDEM_POOL_SPIN_US, default 100 µs) and
// then sleeps on a condition variable; the caller polls for the workers to finish for at most the
// window and then sleeps on a second one. Decode issues jobs microseconds apart, so polling saves
// the futex wake-up (tens of µs) each job would otherwise pay; an idle pool costs one window of
// polling and then nothing. Window 0 never polls: use it when ranks x threads exceed the cores, so
// two tensor-parallel ranks sharing two cores do not starve each other (the engine does so).
// One job runs at a time per pool; a second caller does not queue: tk_pool_run returns -1 at once
// and the caller does the work on its own thread (same results, since rows are independent).
//
// The process-wide pool (tk_threads_*) starts with TANDEM_THREADS threads (default 1: no workers).
#ifndef TANDEM_POOL_H
#define TANDEM_POOL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One task of a job: `task` in [0, ntasks). Tasks of a job may run concurrently.
typedef void (*tk_task_fn)(void *ctx, int64_t task, int64_t ntasks);

typedef struct tk_pool tk_pool;

/// A pool for `threads` threads in all (the caller counts as one, so threads - 1 workers);
/// threads is clamped to 1...TK_POOL_MAX_THREADS. NULL if the threads cannot be started.
#define TK_POOL_MAX_THREADS 256
tk_pool *tk_pool_create(int threads);
/// Stops and joins the workers (waits for a running job to finish first). NULL is ignored.
void tk_pool_destroy(tk_pool *pool);
/// Threads in all, the caller included.
int tk_pool_size(const tk_pool *pool);
/// Runs fn(ctx, t, ntasks) for every t in [0, ntasks): participant p (the caller is 0) runs tasks
/// p, p + size, p + 2*size, ... Returns 0 when every task has finished, or -1 without running any
/// if the pool is busy with another caller's job (or pool is NULL, or ntasks < 1).
int tk_pool_run(tk_pool *pool, tk_task_fn fn, void *ctx, int64_t ntasks);

/// The default spin window in microseconds (see above).
#define TK_POOL_SPIN_US_DEFAULT 100
/// The spin window of every pool in the process, in microseconds (first call reads TANDEM_POOL_SPIN_US).
int64_t tk_pool_spin_us(void);
/// Sets the spin window (0 ... 1,000,000 µs; 0 = never poll); returns 0, or -1 if out of range.
int tk_pool_set_spin_us(int64_t us);

// ---- the process-wide pool (tk_gemv_mt and tk_matvec_mt split rows over it, tk_gemm_mt panels,
// the step attention its (token, head) pairs) ----
/// Threads of the process-wide pool (first call reads TANDEM_THREADS; default 1).
int tk_threads_get(void);
/// Replaces the process-wide pool with one of `threads` threads (1 = none); waits for a running
/// job to finish. Returns 0, or -1 if threads is out of 1...TK_POOL_MAX_THREADS or cannot start.
int tk_threads_set(int threads);
/// tk_pool_run on the process-wide pool; -1 when it has one thread or is busy.
int tk_threads_run(tk_task_fn fn, void *ctx, int64_t ntasks);

/// Matrices below this many weight bytes stay on one thread. Automatic by default: with a spin
/// window, handing a job to polling workers costs about 1 µs on the 2-vCPU development VM
/// (`tandem bench-kernels` measures it), so anything above TK_MT_MIN_BYTES_SPIN is split; with
/// window 0 each job pays a futex wake-up and wait (17-65 µs measured there), while 4 MiB takes
/// about 0.5 ms to read, so only TK_MT_MIN_BYTES_SLEEP and up is split. The first call reads
/// TANDEM_MT_MIN_BYTES (a fixed threshold).
#define TK_MT_MIN_BYTES_SPIN (64 * 1024)
#define TK_MT_MIN_BYTES_SLEEP (4 * 1024 * 1024)
/// The current threshold in bytes.
int64_t tk_threads_min_bytes(void);
/// Sets a fixed threshold (0 splits every matrix with enough rows; -1 back to automatic);
/// returns 0, or -1 if below -1.
int tk_threads_set_min_bytes(int64_t bytes);

#ifdef __cplusplus
}
#endif
#endif
