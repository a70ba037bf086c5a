// Worker pool for row-parallel kernels: see tandem_pool.h. Plain pthreads. Between jobs a worker
// polls for the next one for a bounded time (the spin window, default TK_POOL_SPIN_US_DEFAULT) and
// then sleeps on a condition variable; the caller likewise polls for the workers to finish for up
// to the window and then sleeps. Decode issues a job every few tens of microseconds, so workers
// catch the next one while polling instead of paying a futex wake-up each time; an idle pool
// sleeps after one window, and a window of 0 is the pure sleeping pool (no polling at all).
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE // pthread_setname_np
#endif
#include "tandem_pool.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TK_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define TK_RELAX() __asm__ __volatile__("yield")
#else
#define TK_RELAX() ((void)0)
#endif

struct tk_pool {
    pthread_mutex_t mu;
    pthread_cond_t wake;          // workers: a new generation (job) or stop
    pthread_cond_t done;          // caller: pending reached 0
    pthread_t *workers;
    int size;                     // threads in all, caller included
    _Atomic int stop;
    _Atomic uint64_t generation;  // bumped (release) after fn/ctx/ntasks are written
    tk_task_fn fn;
    void *ctx;
    int64_t ntasks;
    _Atomic int pending;          // workers that have not finished the current job
    _Atomic int parked;           // workers asleep (or about to sleep) on `wake`
    _Atomic int caller_waiting;   // the caller is asleep (or about to sleep) on `done`
    _Atomic int busy;             // a caller owns the pool
};

typedef struct {
    tk_pool *pool;
    int index; // 1...size-1
} worker_arg;

// ---- the spin window ----
static _Atomic int64_t spin_ns = (int64_t)TK_POOL_SPIN_US_DEFAULT * 1000;
static pthread_once_t spin_once = PTHREAD_ONCE_INIT;

static void spin_init(void) {
    const char *env = getenv("TANDEM_POOL_SPIN_US");
    if (!env || !*env) return;
    char *end = NULL;
    long long v = strtoll(env, &end, 10);
    if (*end == '\0' && v >= 0 && v <= 1000000) atomic_store(&spin_ns, (int64_t)v * 1000);
}

int64_t tk_pool_spin_us(void) {
    pthread_once(&spin_once, spin_init);
    return atomic_load(&spin_ns) / 1000;
}

int tk_pool_set_spin_us(int64_t us) {
    pthread_once(&spin_once, spin_init);
    if (us < 0 || us > 1000000) return -1;
    atomic_store(&spin_ns, us * 1000);
    return 0;
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/// Polls until cond(p, arg) holds or the spin window has passed; returns whether it holds.
static int spin_until(tk_pool *p, int (*cond)(tk_pool *, uint64_t), uint64_t arg) {
    int64_t window = atomic_load_explicit(&spin_ns, memory_order_relaxed);
    if (window <= 0) return cond(p, arg);
    int64_t deadline = 0;
    for (unsigned i = 0;; i++) {
        if (cond(p, arg)) return 1;
        if ((i & 63) == 0) { // the clock every 64 polls (~a few µs)
            int64_t t = now_ns();
            if (deadline == 0) deadline = t + window;
            else if (t >= deadline) return cond(p, arg);
            // Past the first 64 polls, offer the core to any other runnable thread between rounds
            // (returns at once when there is none), so polling never holds a core that an
            // oversubscribed machine's other threads are waiting for.
            if (i > 0) sched_yield();
        }
        TK_RELAX();
    }
}

static int new_job_or_stop(tk_pool *p, uint64_t seen) {
    return atomic_load_explicit(&p->generation, memory_order_acquire) != seen ||
           atomic_load_explicit(&p->stop, memory_order_relaxed);
}

static int all_done(tk_pool *p, uint64_t unused) {
    (void)unused;
    return atomic_load_explicit(&p->pending, memory_order_acquire) == 0;
}

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
    for (;;) {
        if (!spin_until(p, new_job_or_stop, seen)) {
            // Sleep. parked is raised (seq_cst) before generation is read again under the mutex;
            // the caller bumps generation (seq_cst) before reading parked, so one of the two sees
            // the other and the wake-up cannot be lost.
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->parked, 1);
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->parked, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        // Every worker takes part in every job (pending counts them all), so the caller cannot
        // publish the next job while one is still reading this job's fields.
        if (a.index < p->ntasks) run_share(p, a.index, p->fn, p->ctx, p->ntasks);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

tk_pool *tk_pool_create(int threads) {
    if (threads < 1) threads = 1;
    if (threads > TK_POOL_MAX_THREADS) threads = TK_POOL_MAX_THREADS;
    pthread_once(&spin_once, spin_init);
    tk_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->stop, 0);
    atomic_init(&p->generation, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->parked, 0);
    atomic_init(&p->caller_waiting, 0);
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
            // size only grows once the worker exists, so destroy joins exactly those; no job runs
            // before create returns, so workers read size only after it is final.
            if (pthread_create(&p->workers[i - 1], NULL, worker_main, a) != 0) {
                free(a);
                tk_pool_destroy(p);
                return NULL;
            }
            p->size = i + 1;
        }
    }
    return p;
}

void tk_pool_destroy(tk_pool *p) {
    if (!p) return;
    int expected = 0;
    // Wait for a running job by taking ownership (jobs are short; yield between tries).
    while (!atomic_compare_exchange_weak(&p->busy, &expected, 1)) {
        expected = 0;
        sched_yield();
    }
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
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
    int helpers = ntasks > 1 ? p->size - 1 : 0;
    if (helpers > 0) {
        p->fn = fn;
        p->ctx = ctx;
        p->ntasks = ntasks;
        atomic_store(&p->pending, helpers);
        atomic_fetch_add(&p->generation, 1); // seq_cst: publishes the fields above
        if (atomic_load(&p->parked) > 0) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->wake);
            pthread_mutex_unlock(&p->mu);
        }
    }
    run_share(p, 0, fn, ctx, ntasks);
    if (helpers > 0 && !spin_until(p, all_done, 0)) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_waiting, 1);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->caller_waiting, 0);
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
static _Atomic int64_t min_bytes = -1; // -1: automatic (TK_MT_MIN_BYTES_SPIN or _SLEEP by the spin window)

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
        // Ranks x threads over the cores (mpirun's local size, e.g. two TP ranks of 2 threads on
        // 2 cores): polling workers would take the core another rank needs, so never poll unless
        // TANDEM_POOL_SPIN_US says otherwise.
        const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        long ranks = local && *local ? strtol(local, NULL, 10) : 1;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        const char *spin = getenv("TANDEM_POOL_SPIN_US");
        if ((!spin || !*spin) && ranks >= 1 && cores >= 1 && ranks * n > cores) tk_pool_set_spin_us(0);
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
    int64_t v = atomic_load(&min_bytes);
    if (v >= 0) return v;
    return tk_pool_spin_us() > 0 ? TK_MT_MIN_BYTES_SPIN : TK_MT_MIN_BYTES_SLEEP;
}

int tk_threads_set_min_bytes(int64_t bytes) {
    pthread_once(&shared_once, shared_init);
    if (bytes < -1) return -1;
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
