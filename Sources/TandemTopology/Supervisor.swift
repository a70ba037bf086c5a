import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Child processes, each in its own process group (so one signal reaches mpirun and its ranks),
/// output appended to a log file. Stopping sends SIGTERM to every group, waits, then SIGKILL.
public final class Supervisor: @unchecked Sendable {
    public struct Child {
        public var name: String
        public var pid: pid_t
        public var log: String
        public var exitStatus: Int32?
        public var argv: [String] = []
    }

    public private(set) var children: [Child] = []

    public init() {}

    /// Starts `argv` in a new process group, stdout+stderr to `log`, stdin from /dev/null.
    @discardableResult
    public func spawn(name: String, argv: [String], log: String) throws -> pid_t {
        let pid = try start(name: name, argv: argv, log: log)
        children.append(Child(name: name, pid: pid, log: log, argv: argv))
        return pid
    }

    private func start(name: String, argv: [String], log: String) throws -> pid_t {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attr, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let executable = argv[0].contains("/") ? argv[0] : (Supervisor.which(argv[0]) ?? argv[0])
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var pid: pid_t = 0
        var rc = posix_spawn(&pid, executable, &actions, &attr, &cargs, environ)
        // ETXTBSY for up to a second: the file is open for writing somewhere, often only for a
        // moment (a process forked elsewhere while it was being written still holds the descriptor
        // until it execs). Longer (a binary being rewritten) is an error the caller sees.
        var waits = 0
        while rc == ETXTBSY && waits < 20 {
            usleep(50_000)
            waits += 1
            rc = posix_spawn(&pid, executable, &actions, &attr, &cargs, environ)
        }
        guard rc == 0 else {
            throw SupervisorError(message: "cannot start \(name) (\(executable)): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// Starts an exited child again with its argv and log (appended), after making sure nothing is
    /// left of its old process group (an mpirun whose other ranks outlived it gets SIGTERM, then
    /// SIGKILL after `grace` seconds). The child keeps its place and name; its pid changes. When
    /// it cannot be started (for example the binary is being rewritten: ETXTBSY), it stays an
    /// exited child and can be respawned later.
    @discardableResult
    public func respawn(_ name: String, grace: Double = 10) throws -> pid_t {
        guard let i = children.firstIndex(where: { $0.name == name }), children[i].exitStatus != nil else {
            throw SupervisorError(message: "no exited child named \(name)")
        }
        let old = children[i]
        Supervisor.stopGroup(old.pid, grace: grace)
        let pid = try start(name: old.name, argv: old.argv, log: old.log)
        children[i] = Child(name: old.name, pid: pid, log: old.log, argv: old.argv)
        return pid
    }

    /// Stops a child for good (a deployment a new topology removes or replaces): SIGTERM to its
    /// group, `grace` seconds to drain and exit, then SIGKILL; reaped and forgotten, so `reap`
    /// never reports it. Nothing happens for a name that is not a child.
    public func stop(_ name: String, grace: Double) {
        guard let i = children.firstIndex(where: { $0.name == name }) else { return }
        let c = children.remove(at: i)
        var reaped = c.exitStatus != nil
        func reap() {
            var status: Int32 = 0
            if !reaped, waitpid(c.pid, &status, WNOHANG) == c.pid { reaped = true }
        }
        // The child itself is reaped while waiting: unreaped, it would keep its group "alive".
        kill(-c.pid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            reap()
            if reaped && !Supervisor.groupAlive(c.pid) { return }
            usleep(100_000)
        }
        kill(-c.pid, SIGKILL)
        if !reaped {
            var status: Int32 = 0
            _ = waitpid(c.pid, &status, 0)
        }
    }

    /// SIGTERM to group `pgid`, up to `grace` seconds for it to empty, then SIGKILL.
    public static func stopGroup(_ pgid: pid_t, grace: Double) {
        guard groupAlive(pgid) else { return }
        kill(-pgid, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while groupAlive(pgid) && Date() < deadline { usleep(100_000) }
        if groupAlive(pgid) { kill(-pgid, SIGKILL) }
    }

    /// Reaps children that have exited; returns those that exited since the last call.
    public func reap() -> [Child] {
        var exited: [Child] = []
        for i in children.indices where children[i].exitStatus == nil {
            var status: Int32 = 0
            if waitpid(children[i].pid, &status, WNOHANG) == children[i].pid {
                children[i].exitStatus = status
                exited.append(children[i])
            }
        }
        return exited
    }

    public var running: [Child] { children.filter { $0.exitStatus == nil } }

    /// SIGTERM to every group (newest first: the gateway before the deployments), up to `grace`
    /// seconds for them to exit, then SIGKILL to whatever is left in those groups.
    public func stopAll(grace: Double = 15) {
        for c in children.reversed() { kill(-c.pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline {
            _ = reap()
            if running.isEmpty && children.allSatisfy({ !Supervisor.groupAlive($0.pid) }) { return }
            usleep(100_000)
        }
        for c in children { kill(-c.pid, SIGKILL) }
        let hard = Date().addingTimeInterval(5)
        while !running.isEmpty && Date() < hard { _ = reap(); usleep(50_000) }
    }

    /// Whether any process is left in group `pgid`.
    public static func groupAlive(_ pgid: pid_t) -> Bool { kill(-pgid, 0) == 0 }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if access(p, X_OK) == 0 { return p }
        }
        return nil
    }

    /// The last `bytes` of a log file.
    public static func tail(_ path: String, bytes: Int = 3000) -> String {
        guard let d = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: d.suffix(bytes), as: UTF8.self)
    }

    public static func describe(status: Int32) -> String {
        let sig = status & 0x7f
        if sig == 0 { return "exit status \((status >> 8) & 0xff)" }
        return "signal \(sig)"
    }
}

/// When a child that exited after the topology was ready is started again: at most `maxRestarts`
/// within any `window` seconds, after a delay that doubles from `initialDelay` up to `maxDelay`
/// with each recent restart. A pure value: the caller keeps the restart times and the clock.
public struct RestartPolicy: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        case restart(afterSeconds: Double)
        case giveUp(recentRestarts: Int)
    }

    public var maxRestarts: Int
    public var window: Double
    public var initialDelay: Double
    public var maxDelay: Double

    public init(maxRestarts: Int = 5, window: Double = 600, initialDelay: Double = 1, maxDelay: Double = 30) {
        self.maxRestarts = maxRestarts
        self.window = window
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    /// The decision for a child that exits at `now`, given the times of its earlier restarts.
    public func decide(restartsAt history: [Date], now: Date) -> Decision {
        let recent = history.filter { now.timeIntervalSince($0) < window }.count
        if recent >= maxRestarts { return .giveUp(recentRestarts: recent) }
        return .restart(afterSeconds: min(maxDelay, initialDelay * pow(2, Double(recent))))
    }
}

/// What `tandem up` does when one of its children exits. A pure function of the facts: a
/// deployment that keeps crashing is given up on alone (the gateway answers 503 for its model)
/// while the others keep serving; only the gateway failing for good, every deployment failing
/// for good, or any exit before the API was ready stops everything.
public struct ExitHandling: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        /// Start it again after the delay.
        case restart(afterSeconds: Double)
        /// Give up on this deployment and keep the rest serving.
        case isolate(recentRestarts: Int)
        /// Stop every process; `up` exits with failure.
        case stopAll(reason: String)
    }

    public var policy: RestartPolicy
    /// `--restart on-failure` (false: `never`).
    public var restartOnFailure: Bool

    public init(policy: RestartPolicy, restartOnFailure: Bool = true) {
        self.policy = policy
        self.restartOnFailure = restartOnFailure
    }

    /// - Parameters:
    ///   - isGateway: the child is the gateway (without it nothing serves).
    ///   - ready: the gateway's `/ready` has answered 200 since `up` started.
    ///   - restartsAt: this child's earlier restarts.
    ///   - deployments: how many deployments the topology has.
    ///   - isolated: how many deployments were already given up on.
    public func decide(isGateway: Bool, ready: Bool, restartsAt: [Date], now: Date,
                       deployments: Int, isolated: Int) -> Decision {
        guard ready else { return .stopAll(reason: "it exited before the API was ready") }
        guard restartOnFailure else { return .stopAll(reason: "--restart never") }
        switch policy.decide(restartsAt: restartsAt, now: now) {
        case .restart(let delay):
            return .restart(afterSeconds: delay)
        case .giveUp(let n):
            let why = "it was restarted \(n) times in the last \(Int(policy.window)) s (--max-restarts \(policy.maxRestarts))"
            if isGateway { return .stopAll(reason: "\(why); giving up on the gateway") }
            if isolated + 1 >= deployments { return .stopAll(reason: "\(why); no deployment is left serving") }
            return .isolate(recentRestarts: n)
        }
    }
}

public struct SupervisorError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// `GET path` on host:port over plain HTTP/1.0; the status code, or nil if nothing answered.
public func httpStatus(host: String, port: Int, path: String, timeoutSeconds: Int = 2) -> Int? {
    var hints = addrinfo()
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var res: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(host, "\(port)", &hints, &res) == 0, let ai = res else { return nil }
    defer { freeaddrinfo(res) }
    let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else { return nil }
    let request = "GET \(path) HTTP/1.0\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
    guard request.withCString({ send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }) > 0 else { return nil }
    var buf = [UInt8](repeating: 0, count: 64)
    let n = recv(fd, &buf, buf.count, 0)
    guard n > 12 else { return nil }
    let line = String(decoding: buf[0..<n], as: UTF8.self)
    let parts = line.split(separator: " ")
    guard parts.count >= 2 else { return nil }
    return Int(parts[1])
}
