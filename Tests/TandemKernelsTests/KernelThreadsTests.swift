import CTandemKernels
import Foundation
import Testing
import TandemCore
@testable import TandemKernels

/// The process-wide kernel thread count is global state: these tests run one at a time and put
/// the count back.
@Suite("Kernel threads: row-parallel multiply", .serialized)
struct KernelThreadsTests {
    /// Test matrices (split because the tests set `minimumSplitBytes` to 0).
    static func bigMatrices() throws -> [WeightMatrix] {
        var rng = TestRNG(seed: 31)
        let f32 = randomF32Matrix(rows: 300, cols: 512, rng: &rng)
        return [f32] + (try [DType.fp8_e4m3, .nvfp4, .mxfp4, .f16].map { try f32.converted(to: $0) })
    }

    @Test func multiThreadedEqualsSingleThreadedBitForBit() throws {
        let saved = KernelThreads.count
        defer { try? KernelThreads.setCount(saved); KernelThreads.resetMinimumSplitBytes() }
        KernelThreads.minimumSplitBytes = 0
        var rng = TestRNG(seed: 32)
        let x = (0..<512).map { _ in rng.normal() }
        for m in try Self.bigMatrices() {
            try KernelThreads.setCount(1)
            var y1 = [Float](repeating: 0, count: m.rows)
            m.multiply(x, into: &y1)
            for n in [2, 3, 7] {
                try KernelThreads.setCount(n)
                #expect(KernelThreads.count == n)
                var yn = [Float](repeating: .nan, count: m.rows)
                m.multiply(x, into: &yn)
                #expect(yn == y1, "\(m.dtype) on \(n) threads")
                var part = [Float](repeating: .nan, count: m.rows)
                m.multiply(x, into: &part, rows: 50..<290)
                #expect(Array(part[50..<290]) == Array(y1[50..<290]) && part[49].isNaN && part[290].isNaN)
            }
        }
    }

    @Test func q4_1MatrixSplitsToo() throws {
        let saved = KernelThreads.count
        defer { try? KernelThreads.setCount(saved); KernelThreads.resetMinimumSplitBytes() }
        KernelThreads.minimumSplitBytes = 0
        var rng = TestRNG(seed: 33)
        let m = randomQ4_1(rows: 257, cols: 1024, rng: &rng)
        let x = (0..<1024).map { _ in rng.normal() }
        try KernelThreads.setCount(1)
        var y1 = [Float](repeating: 0, count: 257)
        m.multiply(x, into: &y1)
        try KernelThreads.setCount(2)
        var y2 = [Float](repeating: 0, count: 257)
        m.multiply(x, into: &y2)
        #expect(y1 == y2)
    }

    @Test func concurrentCallersGetTheSameAnswers() async throws {
        let saved = KernelThreads.count
        defer { try? KernelThreads.setCount(saved); KernelThreads.resetMinimumSplitBytes() }
        KernelThreads.minimumSplitBytes = 0
        try KernelThreads.setCount(2)
        let m = try Self.bigMatrices()[2]
        var rng = TestRNG(seed: 34)
        let x = (0..<512).map { _ in rng.normal() }
        var expected = [Float](repeating: 0, count: m.rows)
        m.multiply(x, into: &expected)
        // Several threads at once: one owns the pool, the others compute on their own thread.
        let results = await withTaskGroup(of: [Float].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var y = [Float](repeating: 0, count: m.rows)
                    for _ in 0..<20 { m.multiply(x, into: &y) }
                    return y
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 4)
        for y in results { #expect(y == expected) }
    }

    @Test func aThreadsPathOverrideReachesTheWorkersAndNoOneElse() throws {
        let saved = KernelThreads.count
        defer { try? KernelThreads.setCount(saved); KernelThreads.resetMinimumSplitBytes() }
        KernelThreads.minimumSplitBytes = 0
        try KernelThreads.setCount(2)
        let m = try Self.bigMatrices()[2] // NVFP4: the SIMD paths round activations, portable does not
        var rng = TestRNG(seed: 35)
        let x = (0..<512).map { _ in rng.normal() }
        var exact = [Float](repeating: 0, count: m.rows), fast = exact
        #expect(m.multiply(x, into: &exact, path: TK_PATH_PORTABLE))
        #expect(m.multiply(x, into: &fast, path: TK_PATH_AUTO))
        var y = [Float](repeating: 0, count: m.rows)
        try GEMVPath.portable.whileSelectedOnThisThread {
            #expect(GEMVPath.effective == .portable)
            m.multiply(x, into: &y)  // split over 2 threads: the worker must use portable too
        }
        #expect(y == exact)
        #expect(GEMVPath.effective == GEMVPath.current)
        m.multiply(x, into: &y)
        #expect(y == fast)
        if let unsupported = GEMVPath.allCases.first(where: { !$0.isSupported }) {
            #expect(throws: KernelError.self) { try unsupported.whileSelectedOnThisThread {} }
        }
    }

    @Test func smallMatricesStayOnTheCallingThreadByDefault() throws {
        #if os(Linux)
        let saved = (KernelThreads.count, KernelThreads.spinMicroseconds)
        defer { try? KernelThreads.setCount(saved.0); KernelThreads.spinMicroseconds = saved.1 }
        try KernelThreads.setCount(2)
        guard ProcessInfo.processInfo.environment["TANDEM_MT_MIN_BYTES"] == nil else { return }
        // Automatic threshold: 64 KiB while workers poll between jobs, 4 MiB when they always sleep.
        KernelThreads.spinMicroseconds = 100
        #expect(KernelThreads.minimumSplitBytes == 64 << 10)
        KernelThreads.spinMicroseconds = 0
        #expect(KernelThreads.minimumSplitBytes == 4 << 20)
        var rng = TestRNG(seed: 37)
        let m = randomQ4_1(rows: 1024, cols: 1024, rng: &rng)  // 640 KB: below the sleeping pool's threshold
        let x = (0..<1024).map { _ in rng.normal() }
        var y = [Float](repeating: 0, count: 1024)
        let splits = tk_threads_splits_on_this_thread()
        try GEMVPath.portable.whileSelectedOnThisThread { for _ in 0..<30 { m.multiply(x, into: &y) } }
        #expect(tk_threads_splits_on_this_thread() == splits)
        KernelThreads.spinMicroseconds = 100
        // Other suites run at the same time and may hold the shared pool (a busy pool runs the call
        // on this thread) or briefly change its thread count: multiply until one call splits (bounded).
        let giveUp = ContinuousClock.now + .seconds(20)
        try GEMVPath.portable.whileSelectedOnThisThread {
            repeat {
                for _ in 0..<30 { m.multiply(x, into: &y) }
            } while tk_threads_splits_on_this_thread() == splits && ContinuousClock.now < giveUp
        }
        #expect(tk_threads_splits_on_this_thread() > splits, "640 KB is above the polling pool's threshold")
        // A fixed threshold wins over the automatic one until reset.
        KernelThreads.minimumSplitBytes = 1234
        #expect(KernelThreads.minimumSplitBytes == 1234)
        KernelThreads.resetMinimumSplitBytes()
        #expect(KernelThreads.minimumSplitBytes == 64 << 10)
        #endif
    }

    @Test func jobsBackToBackAndAfterSleepingAllFinish() {
        // Many short jobs, some right after the previous one (workers still polling), some after a
        // pause longer than the window (workers asleep): every task of every job runs exactly once
        // and no job waits forever (a lost wake-up would hang here).
        let saved = KernelThreads.spinMicroseconds
        defer { KernelThreads.spinMicroseconds = saved }
        for spin in [0, 20, 100] {
            KernelThreads.spinMicroseconds = spin
            let pool = KernelThreadPool(threads: 3)
            let hits = UnsafeMutablePointer<Int>.allocate(capacity: 3)
            defer { hits.deallocate() }
            var total = 0
            for job in 0..<1500 {
                hits.initialize(repeating: 0, count: 3)
                pool.run(tasks: 3) { t in hits[t] += 1 }
                total += hits[0] + hits[1] + hits[2]
                if job % 250 == 249 { usleep(UInt32(2 * spin + 200)) }
            }
            #expect(total == 4500, "spin \(spin) µs")
        }
    }

    @Test func rejectsBadCounts() {
        #expect(throws: KernelError.self) { try KernelThreads.setCount(0) }
        #expect(throws: KernelError.self) { try KernelThreads.setCount(KernelThreads.maximum + 1) }
        #expect(KernelThreads.parse("4") == 4)
        #expect(KernelThreads.parse("0") == nil && KernelThreads.parse("x") == nil)
    }

    @Test func privatePoolRunsEveryTaskOnce() {
        for threads in [1, 2, 5] {
            let pool = KernelThreadPool(threads: threads)
            #expect(pool.size == threads)
            for tasks in [1, 2, 3, 16, 33] {
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: tasks)
                let runner = UnsafeMutablePointer<pthread_t>.allocate(capacity: tasks)
                hits.initialize(repeating: 0, count: tasks)
                pool.run(tasks: tasks) { t in hits[t] += 1; runner[t] = pthread_self() }
                #expect((0..<tasks).allSatisfy { hits[$0] == 1 }, "\(threads) threads, \(tasks) tasks")
                // Participant p runs tasks p, p + size, ...: task 1 is always a worker's.
                if threads > 1 && tasks > 1 { #expect(pthread_equal(runner[0], runner[1]) == 0) }
                hits.deallocate()
                runner.deallocate()
            }
        }
    }

    @Test func aLargeMultiplyKeepsTheSharedWorkersBusy() throws {
        #if os(Linux)
        let saved = KernelThreads.count
        defer { try? KernelThreads.setCount(saved); KernelThreads.resetMinimumSplitBytes() }
        KernelThreads.minimumSplitBytes = 0
        try KernelThreads.setCount(2)
        // Portable Q4_1 (tens of ms per call): the worker takes half the rows of every call.
        var rng = TestRNG(seed: 36)
        let m = randomQ4_1(rows: 2048, cols: 4096, rng: &rng)
        let x = (0..<4096).map { _ in rng.normal() }
        var y = [Float](repeating: 0, count: 2048)
        let ticks = workerCPUTicks().ticks
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            try GEMVPath.portable.whileSelectedOnThisThread { for _ in 0..<20 { m.multiply(x, into: &y) } }
        }
        let workerTicks = workerCPUTicks().ticks - ticks
        #expect(workerTicks >= 5, "the shared pool's worker used \(workerTicks) ticks in \(elapsed)")
        #endif
    }

    @Test func idleWorkersSleep() throws {
        // Workers poll for at most the spin window (100 µs) after a job, then park on a condition
        // variable and use no CPU: the "tk-worker" threads' CPU time (from /proc) barely moves
        // while they wait for 300 ms. Only this pool's threads count: other suites run at the same
        // time and keep the shared pool's workers busy.
        #if os(Linux)
        let existing = Set(workerCPUTicks().tids)
        let pool = KernelThreadPool(threads: 4)
        pool.run(tasks: 4) { _ in }
        let mine = Set(workerCPUTicks().tids).subtracting(existing)
        let before = workerCPUTicks(only: mine)
        Thread.sleep(forTimeInterval: 0.3)
        let after = workerCPUTicks(only: mine)
        #expect(before.threads >= 3)
        #expect(after.ticks - before.ticks <= 2, "idle workers used \(after.ticks - before.ticks) ticks in 0.3 s")
        #endif
    }

    /// Sum of utime + stime (clock ticks) over this process's threads named tk-worker (those of
    /// `only`, when given), and their thread ids.
    private func workerCPUTicks(only: Set<String>? = nil) -> (threads: Int, ticks: Int, tids: [String]) {
        let dir = "/proc/self/task"
        var threads = 0, ticks = 0, tids: [String] = []
        for tid in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where only?.contains(tid) ?? true {
            guard let comm = try? String(contentsOfFile: "\(dir)/\(tid)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .whitespacesAndNewlines) == "tk-worker",
                  let stat = try? String(contentsOfFile: "\(dir)/\(tid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let u = Int(fields[11]), let s = Int(fields[12]) else { continue }
            threads += 1
            ticks += u + s
            tids.append(tid)
        }
        return (threads, ticks, tids)
    }
}

/// A random Q4_1 matrix (random nibbles, FP16 scales and minimums).
func randomQ4_1(rows: Int, cols: Int, rng: inout TestRNG) -> WeightMatrix {
    let blocks = rows * cols / 32
    let buffer = RawBuffer(count: blocks * 20)
    let p = buffer.pointer.assumingMemoryBound(to: UInt8.self)
    for b in 0..<blocks {
        let d = tk_f32_to_f16(rng.uniform(0.001, 0.05)), m = tk_f32_to_f16(rng.uniform(-0.2, 0.05))
        p[b * 20] = UInt8(d & 0xFF); p[b * 20 + 1] = UInt8(d >> 8)
        p[b * 20 + 2] = UInt8(m & 0xFF); p[b * 20 + 3] = UInt8(m >> 8)
        for j in 4..<20 { p[b * 20 + j] = UInt8(truncatingIfNeeded: rng.next()) }
    }
    return WeightMatrix(dtype: .q4_1, rows: rows, cols: cols, base: UnsafeRawPointer(buffer.pointer), owner: buffer)
}
