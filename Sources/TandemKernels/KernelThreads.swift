import CTandemKernels

/// The threads `WeightMatrix.multiply` splits rows over (the process-wide pool of tandem_pool.h).
///
/// Between jobs, workers poll for the next one for at most `spinMicroseconds` (default 100,
/// `TANDEM_POOL_SPIN_US`) and then sleep on a condition variable, so decode's back-to-back jobs
/// skip the futex wake-up while an idle pool costs nothing; with ranks × threads above the cores
/// (mpirun's local size) the window starts at 0 so two ranks sharing cores do not starve each
/// other. Matrices under `minimumSplitBytes` (`TANDEM_MT_MIN_BYTES`) stay on the calling thread,
/// and a caller that finds the pool busy (another thread's multiply) computes on its own thread.
/// Results are identical whatever the thread count. The count starts at `TANDEM_THREADS`
/// (default 1: no worker threads).
public enum KernelThreads {
    /// The largest count `setCount` accepts.
    public static let maximum = Int(TK_POOL_MAX_THREADS)

    /// Threads in the pool, the caller included.
    public static var count: Int { Int(tk_threads_get()) }

    /// Replaces the pool with one of `n` threads (1 stops the workers). Waits for a running job.
    public static func setCount(_ n: Int) throws(KernelError) {
        guard n >= 1, n <= maximum else { throw KernelError(.threads, "thread count \(n) is outside 1...\(maximum)") }
        guard tk_threads_set(Int32(n)) == 0 else { throw KernelError(.threads, "could not start \(n - 1) worker threads") }
    }

    /// Matrices with fewer weight bytes than this are not split.
    public static var minimumSplitBytes: Int {
        get { Int(tk_threads_min_bytes()) }
        set { _ = tk_threads_set_min_bytes(Int64(max(0, newValue))) }
    }

    /// Back to the automatic threshold (64 KiB with a spin window, 4 MiB without).
    public static func resetMinimumSplitBytes() {
        _ = tk_threads_set_min_bytes(-1)
    }

    /// How long idle workers (and a caller waiting for them) poll before sleeping, in µs; 0 never polls.
    public static var spinMicroseconds: Int {
        get { Int(tk_pool_spin_us()) }
        set { _ = tk_pool_set_spin_us(Int64(max(0, min(newValue, 1_000_000)))) }
    }

    /// Parses a thread count as `TANDEM_THREADS` or `--threads` give it.
    public static func parse(_ text: String) -> Int? {
        guard let n = Int(text), n >= 1, n <= maximum else { return nil }
        return n
    }
}


/// A private pool of worker threads for row-parallel work outside `WeightMatrix.multiply`
/// (benchmarks, tests). Stops its threads when released.
public final class KernelThreadPool: @unchecked Sendable {
    private let pool: OpaquePointer?
    /// Threads in all, the caller included.
    public let size: Int

    public init(threads: Int) {
        pool = tk_pool_create(Int32(max(1, min(threads, KernelThreads.maximum))))
        size = Int(tk_pool_size(pool))
    }

    deinit { tk_pool_destroy(pool) }

    /// Runs `body(t)` for t in 0..<tasks, spread over the pool (the caller runs its share);
    /// returns when all are done. If the pool is busy with another caller, runs them all here.
    public func run(tasks: Int, _ body: (Int) -> Void) {
        guard tasks > 0 else { return }
        withoutActuallyEscaping(body) { escapable in
            var box = TaskBox(body: escapable)
            let rc = withUnsafeMutablePointer(to: &box) { ptr in
                tk_pool_run(pool, { ctx, t, _ in
                    ctx!.assumingMemoryBound(to: TaskBox.self).pointee.body(Int(t))
                }, UnsafeMutableRawPointer(ptr), Int64(tasks))
            }
            if rc != 0 { for t in 0..<tasks { escapable(t) } }
        }
    }

    private struct TaskBox {
        let body: (Int) -> Void
    }
}
