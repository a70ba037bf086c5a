import ArgumentParser
import Foundation
import TandemAPI
import TandemGateway
import TandemTopology
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) private var stopSignal: Int32 = 0
nonisolated(unsafe) private var reloadSignal: Int32 = 0

/// `tandem up FILE`: starts every model deployment and the gateway of a topology, waits until
/// the gateway is ready, applies an edited FILE on SIGHUP, and stops them all on Ctrl-C / SIGTERM.
struct UpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start a topology's model deployments and gateway; apply an edited file on SIGHUP; stop them all on Ctrl-C/SIGTERM.",
        discussion: """
            Each deployment runs in its own process group (mpirun for TP>1, one process for TP=1); \
            logs and the generated gateway.json go to the run directory. Deployments whose ranks \
            are on other hosts are started by mpirun over ssh with a generated hostfile \
            (the tandem binary and the model must be at the same paths there). \
            SIGHUP reads the file again and applies what `tandem topology diff` lists: removed and \
            changed deployments are stopped (SIGTERM: in-flight requests finish or end with an error \
            within --drain-timeout), changed and added ones started, the gateway's config regenerated \
            and reloaded; the others keep serving untouched. A file with errors, or a change of the \
            gateway's address, the log level or tracing, is refused and the cluster left as it was. \
            --apply FILE --run-dir DIR does the same from another shell with FILE.
            """)

    @Argument(help: "Topology file (YAML).") var file: String
    @Flag(name: .customLong("apply"), help: "Apply FILE to the `tandem up` already running with --run-dir (checked here first; that process reloads it as on SIGHUP), print the outcome and exit.") var apply = false
    @Flag(name: .customLong("dry-run"), help: "Print the commands, hostfiles and gateway config, start nothing.") var dryRun = false
    @Option(name: .customLong("run-dir"), help: "Where logs, hostfiles and gateway.json go (default: a new temporary folder).") var runDir: String?
    @Option(name: .customLong("ready-timeout"), help: "Seconds to wait for the gateway's /ready.") var readyTimeout = 300
    @Option(name: .customLong("node"), help: "The node this machine is (default: nodes whose host is loopback or this host name).") var node: [String] = []
    @Option(name: .customLong("rsh-agent"), help: "mpirun's plm_rsh_agent for remote ranks (e.g. cluster/netns-rsh.sh).") var rshAgent: String?
    @Option(name: .customLong("tandem-bin"), help: "The tandem binary the deployments run (default: this one).") var tandemBin: String?
    @Option(name: .customLong("restart"), help: "After the API was ready, a deployment or the gateway that exits is started again (on-failure) or stops everything (never).") var restart: RestartMode = .onFailure
    @Option(name: .customLong("max-restarts"), help: "Restarts of one process within --restart-window seconds before `up` gives up on it: a deployment stays down while the others keep serving; the gateway (or the last deployment) stops everything.") var maxRestarts = 5
    @Option(name: .customLong("restart-window"), help: "Seconds over which --max-restarts counts.") var restartWindow = 600.0
    @Option(name: .customLong("drain-timeout"), help: "On a SIGHUP that stops or restarts a deployment: seconds its in-flight requests get before it is killed.") var drainTimeout = 30.0

    enum RestartMode: String, ExpressibleByArgument, CaseIterable {
        case onFailure = "on-failure", never
    }

    func run() throws {
        if apply { return try applyToRunning() }
        var r = try TopologyCommand.load(file)
        let t = r.topology
        let dir = runDir ?? (NSTemporaryDirectory() + "tandem-up-\(getpid())")
        let bin = tandemBin ?? ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        let local = node.isEmpty ? LaunchPlanner.localNodes(t) : Set(node)
        let options = LaunchOptions(tandemBin: bin, runDir: dir, localNodes: local, rshAgent: rshAgent)
        var plan = LaunchPlanner.make(r, options: options)
        if dryRun {
            printPlan(plan, local: local)
            return
        }
        guard local.contains(plan.gatewayNode) else {
            throw ValidationError("the gateway runs on node '\(plan.gatewayNode)', which is not this machine (local nodes: \(local.sorted().joined(separator: ", ")) ); run `tandem up` there, or pass --node \(plan.gatewayNode)")
        }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try plan.gatewayConfig.write(toFile: plan.gatewayConfigPath, atomically: true, encoding: .utf8)
        // Fresh secrets per run (mode 0600): each coordinator's internal key and the gateway's salt key.
        for path in plan.secretFiles { try InternalKey.create(at: path) }
        for d in plan.deployments { if let h = d.hostfile { try h.contents.write(toFile: h.path, atomically: true, encoding: .utf8) } }
        // For `tandem up --apply FILE --run-dir DIR` from another shell.
        try "\(getpid())\n".write(toFile: "\(dir)/up.pid", atomically: true, encoding: .utf8)

        signal(SIGINT) { stopSignal = $0 }
        signal(SIGTERM) { stopSignal = $0 }
        signal(SIGHUP) { _ in reloadSignal = 1 }
        signal(SIGPIPE, SIG_IGN)
        let sup = Supervisor()
        var failed: String?
        do {
            for d in plan.deployments {
                let log = "\(dir)/\(d.model).log"
                try sup.spawn(name: Self.childName(d), argv: d.argv, log: log)
                say("started model '\(d.model)' TP=\(d.tensorParallel) on \(d.nodes.joined(separator: ", ")) → \(d.url) (log \(log))")
            }
            let gwLog = "\(dir)/gateway.log"
            try sup.spawn(name: "gateway", argv: plan.gatewayArgv, log: gwLog)
            say("started gateway → \(plan.gatewayURL) (config \(plan.gatewayConfigPath), log \(gwLog))")
        } catch {
            failed = "\(error)"
        }
        let gw = URLComponents(string: plan.gatewayURL)!
        let probeHost = TopologyValidatorHelpers.probeHost(gw.host ?? "127.0.0.1")
        let deadline = Date().addingTimeInterval(Double(readyTimeout))
        var ready = false
        // Before the API is ready an exit is a configuration or start-up error: loud and final.
        // Afterwards a crashed deployment (or gateway) is started again, with backoff, while the
        // others keep serving; the gateway answers 503 for its models meanwhile. A deployment that
        // keeps crashing is given up on alone (it stays down, its model answers 503); the others
        // keep serving (`ExitHandling`).
        let handling = ExitHandling(policy: RestartPolicy(maxRestarts: maxRestarts, window: restartWindow),
                                    restartOnFailure: restart == .onFailure)
        var restartTimes: [String: [Date]] = [:]
        var pending: [(name: String, at: Date)] = []
        var isolated: Set<String> = []
        while failed == nil && stopSignal == 0 {
            if reloadSignal != 0 {
                reloadSignal = 0
                if let stopped = reload(&r, &plan, options: options, sup: sup) {
                    for name in stopped {
                        restartTimes[name] = nil
                        pending.removeAll { $0.name == name }
                        isolated.remove(name)
                    }
                }
            }
            for c in sup.reap() {
                let why = "\(c.name) exited (\(Supervisor.describe(status: c.exitStatus ?? 0))); last lines of \(c.log):\n\(Supervisor.tail(c.log))"
                switch handling.decide(isGateway: c.name == "gateway", ready: ready, restartsAt: restartTimes[c.name] ?? [], now: Date(),
                                       deployments: plan.deployments.count, isolated: isolated.count) {
                case .stopAll(let reason):
                    failed = ready && restart == .onFailure ? "\(why)\n\(c.name): \(reason); stopping everything" : why
                case .isolate(let n):
                    isolated.insert(c.name)
                    Supervisor.stopGroup(c.pid, grace: 10)
                    warn("\(why)\nGIVING UP on \(c.name): it was restarted \(n) times in the last \(Int(restartWindow)) s (--max-restarts \(maxRestarts)); it stays down and the gateway answers 503 for its model; fix it and run `tandem up` again")
                    say("isolated \(c.name): down for good; \(plan.deployments.count - isolated.count) of \(plan.deployments.count) deployment(s) still serving")
                case .restart(let delay):
                    warn("\(why)\nrestarting \(c.name) in \(Int(delay)) s")
                    pending.append((c.name, Date().addingTimeInterval(delay)))
                }
                if failed != nil { break }
            }
            if failed != nil { break }
            for p in pending where p.at <= Date() {
                pending.removeAll { $0.name == p.name }
                do {
                    try sup.respawn(p.name)
                    restartTimes[p.name, default: []].append(Date())
                    say("restarted \(p.name) (restart \(restartTimes[p.name]!.count))")
                } catch {
                    // A start that failed is a crash like any other: backoff, then again or give up.
                    let history = restartTimes[p.name] ?? []
                    restartTimes[p.name, default: []].append(Date())
                    switch handling.decide(isGateway: p.name == "gateway", ready: ready, restartsAt: history, now: Date(),
                                           deployments: plan.deployments.count, isolated: isolated.count) {
                    case .restart(let delay):
                        warn("cannot restart \(p.name): \(error); trying again in \(Int(delay)) s")
                        pending.append((p.name, Date().addingTimeInterval(delay)))
                    case .isolate(let n):
                        isolated.insert(p.name)
                        warn("cannot restart \(p.name): \(error)\nGIVING UP on \(p.name) after \(n) restarts; it stays down and the gateway answers 503 for its model")
                    case .stopAll(let reason):
                        failed = "cannot restart \(p.name): \(error)\n\(p.name): \(reason); stopping everything"
                    }
                }
            }
            if !ready {
                if httpStatus(host: probeHost, port: gw.port ?? 8080, path: "/ready") == 200 {
                    ready = true
                    printReady(plan, t: t, dir: dir)
                } else if Date() > deadline {
                    failed = "the gateway was not ready within \(readyTimeout) s (see the logs in \(dir))"
                    break
                }
            }
            usleep(200_000)
        }
        if stopSignal != 0 { say("signal \(stopSignal): stopping") }
        if let failed { warn(failed) }
        sup.stopAll()
        let left = sup.children.filter { Supervisor.groupAlive($0.pid) }
        if left.isEmpty { say("stopped: every process has exited") } else { warn("still running: \(left.map { "\($0.name) (pgid \($0.pid))" }.joined(separator: ", "))") }
        if failed != nil { throw ExitCode(1) }
    }

    static func childName(_ d: DeploymentLaunch) -> String { "model '\(d.model)' (TP=\(d.tensorParallel))" }

    /// SIGHUP: the file read and checked again and applied (see the discussion above). Returns the
    /// supervisor names of the deployments it stopped, nil when it changed nothing.
    func reload(_ r: inout ResolvedTopology, _ plan: inout LaunchPlan, options: LaunchOptions, sup: Supervisor) -> [String]? {
        // A file handed over by `tandem up --apply` (its absolute path, so its relative paths
        // resolve as they do for the caller) comes first; else the file `up` was started with.
        let handedOver = "\(options.runDir)/apply.path", result = "\(options.runDir)/apply.result"
        let applied = (try? String(contentsOfFile: handedOver, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        try? FileManager.default.removeItem(atPath: handedOver)
        let source = applied ?? file
        func outcome(_ text: String) {
            if applied != nil { try? (text + "\n").write(toFile: result, atomically: true, encoding: .utf8) }
        }
        say("SIGHUP: reading \(source) again")
        let next: ResolvedTopology
        do { next = try TopologyCommand.load(source) } catch {
            warn("reload refused: \(source) has errors (above); the running cluster is unchanged")
            outcome("refused: the file has errors")
            return nil
        }
        let changes = TopologyReport.changes(r.topology, next.topology)
        if changes.isEmpty {
            say("reload: no changes")
            outcome("no changes")
            return nil
        }
        if changes.gateway == .restart || changes.logLevel || changes.tracing {
            warn("reload refused: \(changes.actions.joined(separator: "; ")) cannot be applied to a running cluster; it is unchanged (stop `tandem up` and start it again)")
            outcome("refused: \(changes.actions.joined(separator: "; ")) cannot be applied to a running cluster")
            return nil
        }
        let nextPlan = LaunchPlanner.make(next, options: options)
        let old = Dictionary(plan.deployments.map { ($0.model, $0) }, uniquingKeysWith: { a, _ in a })
        let new = Dictionary(nextPlan.deployments.map { ($0.model, $0) }, uniquingKeysWith: { a, _ in a })
        var stopped: [String] = []
        for m in changes.stop + changes.restart {
            guard let d = old[m] else { continue }
            say("stopping model '\(m)' (in-flight requests get up to \(Int(drainTimeout)) s)")
            sup.stop(Self.childName(d), grace: drainTimeout)
            stopped.append(Self.childName(d))
        }
        for m in changes.restart + changes.start {
            guard let d = new[m] else { continue }
            do {
                if !FileManager.default.fileExists(atPath: d.internalKeyFile) { try InternalKey.create(at: d.internalKeyFile) }
                if let h = d.hostfile { try h.contents.write(toFile: h.path, atomically: true, encoding: .utf8) }
                let log = "\(options.runDir)/\(d.model).log"
                try sup.spawn(name: Self.childName(d), argv: d.argv, log: log)
                say("started model '\(d.model)' TP=\(d.tensorParallel) on \(d.nodes.joined(separator: ", ")) → \(d.url) (log \(log))")
            } catch {
                warn("cannot start model '\(m)': \(error); its model answers 503 until the file is fixed and SIGHUP sent again")
            }
        }
        do {
            try nextPlan.gatewayConfig.write(toFile: nextPlan.gatewayConfigPath, atomically: true, encoding: .utf8)
            if let gw = sup.running.first(where: { $0.name == "gateway" }) { kill(gw.pid, SIGHUP) }
        } catch {
            warn("cannot write \(nextPlan.gatewayConfigPath): \(error); the gateway keeps its old routes")
        }
        r = next
        plan = nextPlan
        say("reloaded \(source): \(changes.actions.joined(separator: "; "))")
        outcome("reloaded: \(changes.actions.joined(separator: "; "))")
        return stopped
    }

    /// `--apply`: FILE checked here, its absolute path handed to the running `up` of --run-dir
    /// (apply.path), SIGHUP, then its outcome (apply.result) printed; exit 1 when refused or when
    /// nothing answers.
    func applyToRunning() throws {
        guard let dir = runDir else { throw ValidationError("--apply needs the --run-dir of the running `tandem up`") }
        _ = try TopologyCommand.load(file)  // errors are printed here and nothing is sent
        guard let text = try? String(contentsOfFile: "\(dir)/up.pid", encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), kill(pid, 0) == 0 else {
            throw ValidationError("no running `tandem up` in \(dir) (no live pid in \(dir)/up.pid)")
        }
        let result = "\(dir)/apply.result"
        try? FileManager.default.removeItem(atPath: result)
        let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
        try (absolute + "\n").write(toFile: "\(dir)/apply.path", atomically: true, encoding: .utf8)
        kill(pid, SIGHUP)
        let deadline = Date().addingTimeInterval(drainTimeout + 120)
        while Date() < deadline {
            if let outcome = try? String(contentsOfFile: result, encoding: .utf8) {
                print("tandem up --apply: \(outcome.trimmingCharacters(in: .whitespacesAndNewlines))")
                if !outcome.hasPrefix("reloaded") && !outcome.hasPrefix("no changes") { throw ExitCode(1) }
                return
            }
            usleep(200_000)
        }
        warn("no answer from `tandem up` (pid \(pid)) within \(Int(drainTimeout + 120)) s; see its output")
        throw ExitCode(1)
    }

    func printPlan(_ plan: LaunchPlan, local: Set<String>) {
        print("# run directory: \(plan.gatewayConfigPath.replacingOccurrences(of: "/gateway.json", with: ""))")
        print("# local nodes: \(local.sorted().joined(separator: ", "))")
        for d in plan.deployments {
            print("\n# model '\(d.model)': TP=\(d.tensorParallel) on \(d.nodes.joined(separator: ", ")), coordinator \(d.url)")
            if let h = d.hostfile {
                print("# hostfile \(h.path) (mpirun starts the remote ranks over ssh; tandem and the model must exist at the same paths there):")
                for line in h.contents.split(separator: "\n") { print("#   \(line)") }
            }
            print(shellQuote(d.argv))
        }
        print("\n# gateway on \(plan.gatewayNode) → \(plan.gatewayURL); config \(plan.gatewayConfigPath):")
        for line in plan.gatewayConfig.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty { print("#   \(line)") }
        print(shellQuote(plan.gatewayArgv))
    }

    func printReady(_ plan: LaunchPlan, t: Topology, dir: String) {
        let model = t.models.first?.name ?? "MODEL"
        print("""
            ready: the OpenAI-compatible API is at \(plan.gatewayURL)/v1 (logs in \(dir))
              curl -s \(plan.gatewayURL)/v1/chat/completions -H 'Authorization: Bearer YOUR_KEY' \\
                -H 'Content-Type: application/json' \\
                -d '{"model": "\(model)", "messages": [{"role": "user", "content": "Name three colors."}], "max_tokens": 40}'
            Ctrl-C stops everything.
            """)
        fflush(nil)
    }

    func say(_ s: String) { print("tandem up: \(s)"); fflush(nil) }
    func warn(_ s: String) { FileHandle.standardError.write(Data("tandem up: \(s)\n".utf8)) }
}

enum TopologyValidatorHelpers {
    /// A wildcard listen address is probed on loopback.
    static func probeHost(_ h: String) -> String {
        let bare = h.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return ["0.0.0.0", "::", "*"].contains(bare) ? "127.0.0.1" : bare
    }
}
