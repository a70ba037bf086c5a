import CMPI
import Foundation

/// The process's MPI library: initialised once (`MPI_Init_thread`, serialized threading),
/// finalised once, and the lock that serialises every MPI call made through Tandem.
///
/// MPI is per process by definition, so this is the one process-wide object of the module.
/// `MPI_Init` without mpirun gives a singleton job of size 1, which unit tests use.
public final class MPIRuntime: @unchecked Sendable {
    /// The process's runtime.
    public static let shared = MPIRuntime()

    private enum State { case uninitialized, initialized(threadLevel: Int32), finalized }
    private let lock = NSRecursiveLock()
    private var state = State.uninitialized

    private init() {}

    /// Initialises MPI if this process has not yet; throws if it was already finalised.
    public func initialize() throws(TransportError) {
        lock.lock()
        defer { lock.unlock() }
        switch state {
        case .initialized: return
        case .finalized: throw Self.finalizedError
        case .uninitialized: break
        }
        var alreadyInitialized: Int32 = 0
        _ = MPI_Initialized(&alreadyInitialized)
        var provided: Int32 = tandem_mpi_thread_serialized()
        if alreadyInitialized == 0 {
            let code = MPI_Init_thread(nil, nil, tandem_mpi_thread_serialized(), &provided)
            guard code == tandem_mpi_success() else {
                throw TransportError(kind: .mpi, message: "MPI_Init_thread failed (code \(code))")
            }
        } else {
            _ = MPI_Query_thread(&provided)
        }
        _ = MPI_Comm_set_errhandler(tandem_mpi_comm_world(), tandem_mpi_errors_return())
        state = .initialized(threadLevel: provided)
        atexit { MPIRuntime.shared.finalizeAtExit() }
    }

    /// The thread support MPI provided (`MPI_THREAD_*`), once initialised. Tandem serialises its
    /// calls under one lock, so SERIALIZED suffices; FUNNELED works while one thread makes them.
    public var threadLevel: Int32? {
        lock.lock()
        defer { lock.unlock() }
        if case .initialized(let level) = state { return level }
        return nil
    }

    /// Whether MPI is initialised and not finalised.
    public var isActive: Bool {
        lock.lock()
        defer { lock.unlock() }
        if case .initialized = state { return true }
        return false
    }

    /// Finalises MPI. Every communicator must be shut down first; afterwards no MPI call can be
    /// made in this process (MPI cannot be initialised twice).
    public func finalize() throws(TransportError) {
        lock.lock()
        defer { lock.unlock() }
        guard case .initialized = state else { return }
        state = .finalized
        try check(MPI_Finalize(), "MPI_Finalize")
    }

    private func finalizeAtExit() {
        try? finalize()
    }

    /// Runs `body` (which calls MPI) under the lock, after checking MPI is usable.
    func serialized<R>(_ body: () throws(TransportError) -> R) throws(TransportError) -> R {
        lock.lock()
        defer { lock.unlock() }
        switch state {
        case .initialized: return try body()
        case .finalized: throw Self.finalizedError
        case .uninitialized: throw TransportError(kind: .mpi, message: "MPI is not initialised (call MPIRuntime.shared.initialize())")
        }
    }

    /// Maps an MPI return code to a `TransportError` carrying the library's message.
    func check(_ code: Int32, _ call: String) throws(TransportError) {
        guard code != tandem_mpi_success() else { return }
        throw TransportError(kind: .mpi, message: "\(call): \(Self.errorString(code)) (code \(code))")
    }

    static func errorString(_ code: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(tandem_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &buffer, &length) == tandem_mpi_success() else { return "unknown MPI error" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static let finalizedError = TransportError(
        kind: .finalized, message: "MPI was finalized in this process and cannot be used again")

    /// The MPI library's version text (`MPI_Get_library_version`; callable before MPI_Init).
    public static func libraryVersion() -> String {
        var buffer = [CChar](repeating: 0, count: Int(tandem_mpi_max_library_version_string()) + 1)
        var length: Int32 = 0
        guard MPI_Get_library_version(&buffer, &length) == tandem_mpi_success() else { return "unknown" }
        let text = String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: "\0")))
    }

    /// Whether this process was started by mpirun (Open MPI or PMIx sets these variables).
    public static var isLaunchedByMPIRun: Bool {
        let environment = ProcessInfo.processInfo.environment
        return environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMI_SIZE"] != nil
            || environment["PMIX_RANK"] != nil
    }
}
