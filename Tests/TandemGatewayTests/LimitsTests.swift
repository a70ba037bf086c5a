import Testing
@testable import TandemGateway

@Suite struct TokenBucketTests {
    let t0 = ContinuousClock.now

    @Test func takeShouldAllowBurstThenDenyWithTimeToRefill() {
        var b = TokenBucket(capacity: 3, refillPerSecond: 1, now: t0)
        for _ in 0..<3 { #expect(b.take(1, at: t0) == .taken) }
        #expect(b.take(1, at: t0) == .denied(retryAfter: .seconds(1)))
        #expect(b.take(1, at: t0 + .milliseconds(500)) == .denied(retryAfter: .milliseconds(500)))
        #expect(b.take(1, at: t0 + .seconds(1)) == .taken)
    }

    @Test func refillShouldNeverExceedCapacity() {
        var b = TokenBucket(capacity: 2, refillPerSecond: 10, now: t0)
        _ = b.take(2, at: t0)
        b.refill(at: t0 + .seconds(60))
        #expect(b.level == 2)
    }

    @Test func takeShouldCapAnAmountLargerThanCapacity() {
        var b = TokenBucket(capacity: 10, refillPerSecond: 1, now: t0)
        #expect(b.take(50, at: t0) == .taken)
        #expect(b.level == 0)
    }

    @Test func adjustShouldLetTheLevelGoNegativeAndDelayTheNextRequest() {
        var b = TokenBucket(perMinute: 60, now: t0)
        #expect(b.take(10, at: t0) == .taken)
        b.adjust(by: -100, at: t0)
        #expect(b.level == -50)
        #expect(b.take(1, at: t0) == .denied(retryAfter: .seconds(51)))
    }

    @Test func failedTakeShouldNotChangeTheLevel() {
        var b = TokenBucket(capacity: 1, refillPerSecond: 1, now: t0)
        _ = b.take(1, at: t0)
        _ = b.take(1, at: t0)
        #expect(b.level == 0)
    }
}

@Suite struct TenantLimiterTests {
    let t0 = ContinuousClock.now

    @Test func admitShouldEnforceMaxConcurrentUntilRelease() {
        var l = TenantLimiter(TenantConfiguration(maxConcurrent: 1), now: t0)
        #expect(l.admit(estimatedTokens: 10, at: t0) == .admitted)
        #expect(l.admit(estimatedTokens: 10, at: t0) == .limited(limit: "concurrency", retryAfter: .seconds(1)))
        l.release(estimatedTokens: 10, actualTokens: nil, at: t0)
        #expect(l.admit(estimatedTokens: 10, at: t0) == .admitted)
    }

    @Test func admitShouldEnforceRequestsPerMinute() {
        var l = TenantLimiter(TenantConfiguration(requestsPerMinute: 2), now: t0)
        #expect(l.admit(estimatedTokens: 1, at: t0) == .admitted)
        #expect(l.admit(estimatedTokens: 1, at: t0) == .admitted)
        #expect(l.admit(estimatedTokens: 1, at: t0) == .limited(limit: "requests", retryAfter: .seconds(30)))
        #expect(l.admit(estimatedTokens: 1, at: t0 + .seconds(30)) == .admitted)
    }

    @Test func releaseShouldCorrectTheTokenChargeWithActualUsage() {
        var l = TenantLimiter(TenantConfiguration(tokensPerMinute: 600), now: t0)
        #expect(l.admit(estimatedTokens: 500, at: t0) == .admitted)
        l.release(estimatedTokens: 500, actualTokens: 100, at: t0)
        #expect(l.tokens?.level == 500)
        #expect(l.admit(estimatedTokens: 500, at: t0) == .admitted)
        #expect(l.admit(estimatedTokens: 500, at: t0) == .limited(limit: "tokens", retryAfter: .seconds(50)))
    }

    @Test func refusalShouldLeaveNoTrace() {
        var l = TenantLimiter(TenantConfiguration(requestsPerMinute: 10, tokensPerMinute: 100), now: t0)
        #expect(l.admit(estimatedTokens: 100, at: t0) == .admitted)
        let before = l
        #expect(l.admit(estimatedTokens: 50, at: t0) != .admitted)
        #expect(l == before)
    }

    @Test func reconfiguredShouldKeepLevelsAndInFlight() {
        var l = TenantLimiter(TenantConfiguration(requestsPerMinute: 10, maxConcurrent: 5), now: t0)
        for _ in 0..<4 { _ = l.admit(estimatedTokens: 1, at: t0) }
        let r = l.reconfigured(TenantConfiguration(requestsPerMinute: 100, maxConcurrent: 5), now: t0)
        #expect(r.inFlight == 4)
        #expect(r.requests?.level == 6)
        #expect(r.requests?.capacity == 100)
    }
}
