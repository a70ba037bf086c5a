import Foundation
import Testing
@testable import TandemTopology

@Suite("tandem up: restart policy and respawn")
struct SupervisorTests {
    @Test func backoffDoublesAndGivesUpAfterMaxRestartsInTheWindow() {
        let p = RestartPolicy(maxRestarts: 3, window: 60, initialDelay: 1, maxDelay: 3)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        #expect(p.decide(restartsAt: [], now: t0) == .restart(afterSeconds: 1))
        #expect(p.decide(restartsAt: [t0], now: t0 + 5) == .restart(afterSeconds: 2))
        #expect(p.decide(restartsAt: [t0, t0 + 5], now: t0 + 10) == .restart(afterSeconds: 3)) // capped at maxDelay
        #expect(p.decide(restartsAt: [t0, t0 + 5, t0 + 10], now: t0 + 15) == .giveUp(recentRestarts: 3))
        // Restarts older than the window no longer count.
        #expect(p.decide(restartsAt: [t0, t0 + 5, t0 + 10], now: t0 + 62) == .restart(afterSeconds: 3))
        #expect(p.decide(restartsAt: [t0, t0 + 5, t0 + 10], now: t0 + 200) == .restart(afterSeconds: 1))
        #expect(RestartPolicy(maxRestarts: 0).decide(restartsAt: [], now: t0) == .giveUp(recentRestarts: 0))
    }

    @Test func aDeploymentThatKeepsCrashingIsIsolatedAndTheRestKeepServing() {
        let h = ExitHandling(policy: RestartPolicy(maxRestarts: 2, window: 60, initialDelay: 1, maxDelay: 30))
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        // Below the limit: restart with backoff.
        #expect(h.decide(isGateway: false, ready: true, restartsAt: [t0], now: t0 + 1, deployments: 2, isolated: 0)
                == .restart(afterSeconds: 2))
        // At the limit, one of two deployments: given up on alone.
        #expect(h.decide(isGateway: false, ready: true, restartsAt: [t0, t0 + 2], now: t0 + 5, deployments: 2, isolated: 0)
                == .isolate(recentRestarts: 2))
        // The last deployment still serving, or the gateway, at the limit: everything stops.
        guard case .stopAll(let last) = h.decide(isGateway: false, ready: true, restartsAt: [t0, t0 + 2], now: t0 + 5,
                                                 deployments: 2, isolated: 1) else { Issue.record("expected stopAll"); return }
        #expect(last.contains("no deployment is left serving"))
        guard case .stopAll(let gw) = h.decide(isGateway: true, ready: true, restartsAt: [t0, t0 + 2], now: t0 + 5,
                                               deployments: 3, isolated: 0) else { Issue.record("expected stopAll"); return }
        #expect(gw.contains("gateway"))
        // Before ready, or with --restart never: any exit stops everything.
        #expect(h.decide(isGateway: false, ready: false, restartsAt: [], now: t0, deployments: 2, isolated: 0)
                == .stopAll(reason: "it exited before the API was ready"))
        #expect(ExitHandling(policy: RestartPolicy(), restartOnFailure: false)
                .decide(isGateway: false, ready: true, restartsAt: [], now: t0, deployments: 2, isolated: 0)
                == .stopAll(reason: "--restart never"))
        // A single-deployment topology has nothing to keep serving: giving up stops everything.
        #expect(h.decide(isGateway: false, ready: true, restartsAt: [t0, t0 + 2], now: t0 + 5, deployments: 1, isolated: 0)
                != .isolate(recentRestarts: 2))
    }

    @Test func aRespawnThatCannotStartLeavesTheChildToRetry() throws {
        let dir = NSTemporaryDirectory() + "tandem-supervisor-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let script = dir + "/child.sh"
        try "#!/bin/sh\necho run\nexit 1\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let sup = Supervisor()
        try sup.spawn(name: "c", argv: [script], log: dir + "/c.log")
        let deadline = Date().addingTimeInterval(10)
        while sup.reap().isEmpty && Date() < deadline { usleep(20_000) }
        try FileManager.default.removeItem(atPath: script)
        #expect(throws: SupervisorError.self) { try sup.respawn("c", grace: 1) }
        // Still there, still exited: a later respawn works once the binary is back.
        #expect(sup.children.map(\.name) == ["c"] && sup.children[0].exitStatus != nil)
        try "#!/bin/sh\necho run\nexit 1\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        try sup.respawn("c", grace: 1)
        while sup.reap().isEmpty && Date() < deadline + 10 { usleep(20_000) }
        #expect(try String(contentsOfFile: dir + "/c.log", encoding: .utf8) == "run\nrun\n")
        sup.stopAll(grace: 2)
    }

    @Test func respawnStartsTheSameCommandAgainInItsPlace() throws {
        let dir = NSTemporaryDirectory() + "tandem-supervisor-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sup = Supervisor()
        try sup.spawn(name: "short", argv: ["/bin/sh", "-c", "echo run; exit 3"], log: dir + "/short.log")
        let sleeper = try sup.spawn(name: "long", argv: ["/bin/sh", "-c", "sleep 30"], log: dir + "/long.log")
        var exited: [Supervisor.Child] = []
        let deadline = Date().addingTimeInterval(10)
        while exited.isEmpty && Date() < deadline { exited = sup.reap(); usleep(20_000) }
        #expect(exited.map(\.name) == ["short"])
        #expect(Supervisor.describe(status: exited.first?.exitStatus ?? 0) == "exit status 3")
        #expect(throws: SupervisorError.self) { try sup.respawn("long") } // still running
        let pid = try sup.respawn("short")
        #expect(sup.children.map(\.name) == ["short", "long"] && sup.children[0].pid == pid && sup.children[1].pid == sleeper)
        while sup.reap().isEmpty && Date() < deadline + 10 { usleep(20_000) }
        // Both runs appended to the same log.
        #expect(try String(contentsOfFile: dir + "/short.log", encoding: .utf8) == "run\nrun\n")
        sup.stopAll(grace: 5)
        #expect(sup.running.isEmpty && !Supervisor.groupAlive(sleeper))
    }
}
