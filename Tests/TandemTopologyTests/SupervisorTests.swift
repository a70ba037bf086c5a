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
