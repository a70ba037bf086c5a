import Testing
import TandemAPI
@testable import TandemGateway

/// The circuit breaker's way back: after the cooldown a probe, never a client's request, decides.
@Suite struct ReplicaProbeTests {
    let t0 = ContinuousClock.now

    @Test func afterTheCooldownShouldTakeRequestsOnlyOnceAProbePasses() {
        var h = ReplicaHealth()
        #expect(h.state(at: t0) == .closed && h.takesRequests(at: t0))
        h.recordFailure(at: t0, threshold: 1, cooldown: .seconds(5))
        #expect(h.state(at: t0 + .seconds(1)) == .open)
        var claimed = h.beginProbe(at: t0 + .seconds(1), timeout: .seconds(2))
        #expect(!claimed)  // nothing to probe during the cooldown
        // Cooldown over: still no requests until a probe passes; one prober at a time.
        #expect(h.state(at: t0 + .seconds(5)) == .probeDue && !h.takesRequests(at: t0 + .seconds(5)))
        claimed = h.beginProbe(at: t0 + .seconds(5), timeout: .seconds(2))
        #expect(claimed)
        #expect(h.state(at: t0 + .seconds(6)) == .probing)
        claimed = h.beginProbe(at: t0 + .seconds(6), timeout: .seconds(2))
        #expect(!claimed)
        // A failed probe: out for another cooldown.
        h.recordProbe(passed: false, at: t0 + .seconds(6), cooldown: .seconds(5))
        #expect(h.state(at: t0 + .seconds(10)) == .open)
        #expect(h.state(at: t0 + .seconds(11)) == .probeDue)
        // A prober that vanished: the probe is due again after its timeout.
        claimed = h.beginProbe(at: t0 + .seconds(11), timeout: .seconds(2))
        #expect(claimed)
        #expect(h.state(at: t0 + .seconds(13)) == .probeDue)
        // A passing probe: back in rotation with a clean slate.
        claimed = h.beginProbe(at: t0 + .seconds(13), timeout: .seconds(2))
        #expect(claimed)
        h.recordProbe(passed: true, at: t0 + .seconds(13), cooldown: .seconds(5))
        #expect(h.state(at: t0 + .seconds(13)) == .closed && h.consecutiveFailures == 0)
    }

    @Test func timeoutsAndUnreachableReplicasCountButRefusalsDoNot() {
        #expect(ReplicaHealth.countsAsFailure(BackendError(.timeout, "no head")))
        #expect(ReplicaHealth.countsAsFailure(BackendError(.upstreamUnavailable, "refused")))
        #expect(!ReplicaHealth.countsAsFailure(BackendError(.overCapacity, "full")))
        #expect(!ReplicaHealth.countsAsFailure(BackendError(.invalidRequest, "bad")))
        #expect(!ReplicaHealth.countsAsFailure(BackendError(.contextTooLong, "long")))
    }

    @Test func usageCountsShouldBeNonNegativeAndBounded() throws {
        #expect(throws: BackendError.self) {
            var d = UpstreamChunkDecoder()
            _ = try d.decode(#"{"choices": [], "usage": {"prompt_tokens": -5, "completion_tokens": 1}}"#)
        }
        #expect(throws: BackendError.self) {
            var d = UpstreamChunkDecoder()
            _ = try d.decode(#"{"choices": [], "usage": {"prompt_tokens": 4611686018427387904, "completion_tokens": 4611686018427387904}}"#)
        }
        #expect(throws: BackendError.self) {
            var d = UpstreamChunkDecoder()
            _ = try d.decode(#"{"choices": [], "usage": {"prompt_tokens": "many"}}"#)
        }
        var ok = UpstreamChunkDecoder()
        _ = try ok.decode(#"{"choices": [{"delta": {"content": "x"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 1, "prompt_tokens_details": null}}"#)
        #expect(try ok.finish() == [.usage(Usage(promptTokens: 3, completionTokens: 1))])
    }
}
