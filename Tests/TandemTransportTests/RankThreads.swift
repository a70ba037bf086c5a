import Foundation

/// Runs `body(rank)` on `count` dedicated threads (collectives block, so each rank needs its own
/// thread, never a shared pool) and returns every rank's result, rethrowing the first error.
func runRanks<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
    let results = ResultBox<T>(count: count)
    let done = DispatchGroup()
    for rank in 0..<count {
        done.enter()
        let thread = Thread {
            results.set(rank, Result { try body(rank) })
            done.leave()
        }
        thread.stackSize = 1 << 22
        thread.start()
    }
    done.wait()
    return try results.values.map { try $0!.get() }
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [Result<T, Error>?]
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Result<T, Error>) {
        lock.lock()
        storage[index] = value
        lock.unlock()
    }
    var values: [Result<T, Error>?] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }
}
