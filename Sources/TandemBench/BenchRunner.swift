import Foundation
import TandemCore

/// Live counters of the level being measured (for the progress line).
public final class ProgressCounters: @unchecked Sendable {
    private let lock = NSLock()
    private var _done = 0, _failed = 0, _inFlight = 0, _chunks = 0, _outputTokens = 0

    public init() {}

    func started() { lock.withLock { _inFlight += 1 } }
    func chunk() { lock.withLock { _chunks += 1 } }
    func finished(_ r: RequestRecord) {
        lock.withLock {
            _inFlight -= 1
            _done += 1
            if !r.ok { _failed += 1 }
            _outputTokens += r.outputTokens
        }
    }

    public var snapshot: (done: Int, failed: Int, inFlight: Int, chunks: Int, outputTokens: Int) {
        lock.withLock { (_done, _failed, _inFlight, _chunks, _outputTokens) }
    }
}

/// One measured level: the load, how many requests at most, for how long at most.
public struct LevelPlan: Sendable {
    public var load: LoadShape
    public var requests: Int
    public var duration: Double
    public var seed: UInt64

    public init(load: LoadShape, requests: Int, duration: Double, seed: UInt64) {
        self.load = load
        self.requests = requests
        self.duration = duration
        self.seed = seed
    }
}

/// Drives a `BenchClient` with a load shape over a request pool. Every level stops by itself: no
/// request is sent after `requests` were sent or `duration` seconds passed, and every request is
/// bounded by the target's request timeout.
public struct BenchRunner: Sendable {
    public let client: BenchClient
    public let pool: [BenchRequest]

    public init(client: BenchClient, pool: [BenchRequest]) {
        precondition(!pool.isEmpty)
        self.client = client
        self.pool = pool
    }

    /// Runs a level; records come back sorted by index. `firstIndex` offsets the pool position so
    /// consecutive levels (and the warm-up) walk on through the pool.
    public func run(_ plan: LevelPlan, label: String, firstIndex: Int = 0, progress: ProgressCounters = ProgressCounters())
        async -> (records: [RequestRecord], wall: Double) {
        let t0 = ContinuousClock.now
        let deadline = t0 + .seconds(plan.duration)
        let pool = self.pool
        let client = self.client
        @Sendable func one(_ i: Int) async -> RequestRecord {
            progress.started()
            let r = await client.send(pool[(firstIndex + i) % pool.count], index: i, level: label, levelStart: t0,
                                      onChunk: { progress.chunk() })
            progress.finished(r)
            return r
        }
        var records: [RequestRecord] = []
        switch plan.load {
        case .concurrency(let n):
            let ticket = Ticket(limit: plan.requests, deadline: deadline)
            records = await withTaskGroup(of: [RequestRecord].self) { group in
                for _ in 0..<max(1, n) {
                    group.addTask {
                        var mine: [RequestRecord] = []
                        while let i = ticket.next() { mine.append(await one(i)) }
                        return mine
                    }
                }
                var all: [RequestRecord] = []
                for await part in group { all += part }
                return all
            }
        case .rate(let rate, let burstiness, let maxInFlight):
            let offsets = ArrivalSchedule.offsets(count: plan.requests, rate: rate, burstiness: burstiness, seed: plan.seed)
            records = await withTaskGroup(of: RequestRecord.self) { group in
                var all: [RequestRecord] = []
                var inFlight = 0
                for (i, offset) in offsets.enumerated() {
                    let due = t0 + .seconds(offset)
                    if due >= deadline { break }
                    try? await Task.sleep(until: due, clock: .continuous)
                    while maxInFlight > 0 && inFlight >= maxInFlight, let r = await group.next() {
                        all.append(r)
                        inFlight -= 1
                    }
                    if ContinuousClock.now >= deadline { break }
                    group.addTask { await one(i) }
                    inFlight += 1
                }
                for await r in group { all.append(r) }
                return all
            }
        }
        let wall = (ContinuousClock.now - t0).seconds
        return (records.sorted { $0.index < $1.index }, wall)
    }
}

/// Hands out request indices until the count or the deadline is reached.
final class Ticket: @unchecked Sendable {
    private let lock = NSLock()
    private var issued = 0
    let limit: Int
    let deadline: ContinuousClock.Instant

    init(limit: Int, deadline: ContinuousClock.Instant) {
        self.limit = limit
        self.deadline = deadline
    }

    func next() -> Int? {
        lock.withLock {
            guard issued < limit, ContinuousClock.now < deadline else { return nil }
            defer { issued += 1 }
            return issued
        }
    }
}
