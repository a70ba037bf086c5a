// Worker pool for row-parallel kernels: see tandem_pool.h. Plain pthreads; workers sleep on a
// condition variable between jobs and the caller sleeps until they finish (no spinning).
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE // pthread_setname_np
#endif
#include "tandem_pool.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

struct tk_pool {
    pthread_mutex_t mu;
    pthread_cond_t wake; // workers: a new generation (job) or stop
    pthread_cond_t done; // caller: pending reached 0
    pthread_t *workers;
    int size;            // threads in all, caller included
    int stop;
    uint64_t generation;
    tk_task_fn fn;
    void *ctx;
    int64_t ntasks;
    int pending;         // workers still running the current job
    atomic_int busy;     // a caller owns the pool
};

typedef struct {
    tk_pool *pool;
    int index; // 1...size-1
} worker_arg;

static void run_share(tk_pool *p, int participant, tk_task_fn fn, void *ctx, int64_t ntasks) {
    for (int64_t t = participant; t < ntasks; t += p->size) fn(ctx, t, ntasks);
}

static void *worker_main(void *arg) {
    worker_arg a = *(worker_arg *)arg;
    free(arg);
    tk_pool *p = a.pool;
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "tk-worker"); // visible in top -H and /proc/<pid>/task
#elif defined(__APPLE__)
    pthread_setname_np("tk-worker");
#endif
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) break;
        seen = p->generation;
        tk_task_fn fn = p->fn;
        void *ctx = p->ctx;
        int64_t ntasks = p->ntasks;
        if (a.index >= ntasks) continue; // not part of this job (pending does not count it)
        pthread_mutex_unlock(&p->mu);
        run_share(p, a.index, fn, ctx, ntasks);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

tk_pool *tk_pool_create(int threads) {
    if (threads < 1) threads = 1;
    if (threads > TK_POOL_MAX_THREADS) threads = TK_POOL_MAX_THREADS;
    tk_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->busy, 0);
    p->size = 1;
    if (threads > 1) {
        p->workers = calloc((size_t)threads - 1, sizeof(pthread_t));
        if (!p->workers) { tk_pool_destroy(p); return NULL; }
        for (int i = 1; i < threads; i++) {
            worker_arg *a = malloc(sizeof *a);
            if (!a) { tk_pool_destroy(p); return NULL; }
            a->pool = p;
            a->index = i;
            // size only grows once the worker exists, so destroy joins exactly those.
            if (pthread_create(&p->workers[i - 1], NULL, worker_main, a) != 0) {
                free(a);
                tk_pool_destroy(p);
                return NULL;
            }
            pthread_mutex_lock(&p->mu);
            p->size = i + 1;
            pthread_mutex_unlock(&p->mu);
        }
    }
    return p;
}

void tk_pool_destroy(tk_pool *p) {
    if (!p) return;
    int expected = 0;
    // Wait for a running job by taking ownership (jobs are short; sleep between tries).
    while (!atomic_compare_exchange_weak(&p->busy, &expected, 1)) {
        expected = 0;
        pthread_mutex_lock(&p->mu);
        pthread_mutex_unlock(&p->mu);
        sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    int workers = p->size - 1;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < workers; i++) pthread_join(p->workers[i], NULL);
    free(p->workers);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int tk_pool_size(const tk_pool *p) { return p ? p->size : 1; }

int tk_pool_run(tk_pool *p, tk_task_fn fn, void *ctx, int64_t ntasks) {
    if (!p || !fn || ntasks < 1) return -1;
    int expected = 0;
    if (!atomic_compare_exchange_strong(&p->busy, &expected, 1)) return -1;
    int helpers = ntasks - 1 < p->size - 1 ? (int)(ntasks - 1) : p->size - 1;
    if (helpers > 0) {
        pthread_mutex_lock(&p->mu);
        p->fn = fn;
        p->ctx = ctx;
        p->ntasks = ntasks;
        p->pending = helpers;
        p->generation++;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    run_share(p, 0, fn, ctx, ntasks);
    if (helpers > 0) {
        pthread_mutex_lock(&p->mu);
        while (p->pending > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    atomic_store(&p->busy, 0);
    return 0;
}

// ---- the process-wide pool ----
// shared_mu guards shared_pool: runners take it with trylock (a busy pool means "do it yourself"),
// tk_threads_set takes it blocking to swap pools.

static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static tk_pool *shared_pool;       // NULL: one thread
static atomic_int shared_threads = 1;
static _Atomic int64_t min_bytes = TK_MT_MIN_BYTES_DEFAULT;

static void shared_init(void) {
    const char *mb = getenv("TANDEM_MT_MIN_BYTES");
    if (mb && *mb) {
        char *end = NULL;
        long long v = strtoll(mb, &end, 10);
        if (*end == '\0' && v >= 0) atomic_store(&min_bytes, (int64_t)v);
    }
    const char *env = getenv("TANDEM_THREADS");
    if (!env || !*env) return;
    char *end = NULL;
    long n = strtol(env, &end, 10);
    if (*end != '\0' || n < 1 || n > TK_POOL_MAX_THREADS) return; // ignored: the CLI validates it
    if (n > 1) {
        shared_pool = tk_pool_create((int)n);
        if (shared_pool) atomic_store(&shared_threads, (int)n);
    }
}

int tk_threads_get(void) {
    pthread_once(&shared_once, shared_init);
    return atomic_load(&shared_threads);
}

int tk_threads_set(int threads) {
    pthread_once(&shared_once, shared_init);
    if (threads < 1 || threads > TK_POOL_MAX_THREADS) return -1;
    pthread_mutex_lock(&shared_mu);
    int rc = 0;
    if (threads != atomic_load(&shared_threads)) {
        tk_pool *fresh = NULL;
        if (threads > 1 && !(fresh = tk_pool_create(threads))) {
            rc = -1;
        } else {
            tk_pool_destroy(shared_pool);
            shared_pool = fresh;
            atomic_store(&shared_threads, threads);
        }
    }
    pthread_mutex_unlock(&shared_mu);
    return rc;
}

int64_t tk_threads_min_bytes(void) {
    pthread_once(&shared_once, shared_init);
    return atomic_load(&min_bytes);
}

int tk_threads_set_min_bytes(int64_t bytes) {
    pthread_once(&shared_once, shared_init);
    if (bytes < 0) return -1;
    atomic_store(&min_bytes, bytes);
    return 0;
}

int tk_threads_run(tk_task_fn fn, void *ctx, int64_t ntasks) {
    pthread_once(&shared_once, shared_init);
    if (atomic_load(&shared_threads) < 2) return -1;
    if (pthread_mutex_trylock(&shared_mu) != 0) return -1;
    int rc = tk_pool_run(shared_pool, fn, ctx, ntasks);
    pthread_mutex_unlock(&shared_mu);
    return rc;
}

// ---- row-parallel GEMV ----

typedef struct {
    const tk_gemv_weights *w; // NULL for tk_matvec jobs
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

static int run_rows(rows_job *j, size_t row_bytes) {
    int64_t tasks = task_count(j->row_end - j->row_begin, row_bytes);
    if (tasks > 1 && tk_threads_run(rows_task, j, tasks) == 0) return atomic_load(&j->failed) ? -1 : 0;
    return j->w ? tk_gemv(j->w, j->x, j->y, j->row_begin, j->row_end)
                : tk_matvec(j->type, j->data, j->x, j->y, j->row_begin, j->row_end, j->cols);
}

int tk_gemv_mt(const tk_gemv_weights *w, const float *x, float *y, int64_t row_begin, int64_t row_end) {
    if (!w || row_end < row_begin) return -1;
    size_t rb = tk_gemv_row_bytes(w->format, w->cols);
    if (rb == 0) return -1;
    rows_job j = {.w = w, .path = tk_gemv_effective_path(), .x = x, .y = y, .row_begin = row_begin, .row_end = row_end};
    atomic_init(&j.failed, 0);
    return run_rows(&j, rb);
}

int tk_matvec_mt(tk_type type, const void *w, const float *x, float *y,
                 int64_t row_begin, int64_t row_end, int64_t cols) {
    size_t rb = tk_row_bytes(type, cols);
    if (rb == 0 || row_end < row_begin) return -1;
    rows_job j = {.w = NULL, .type = type, .data = w, .cols = cols, .x = x, .y = y,
                  .row_begin = row_begin, .row_end = row_end};
    atomic_init(&j.failed, 0);
    return run_rows(&j, rb);
}
