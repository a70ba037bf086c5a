import Foundation
import Testing
import TandemCore
@testable import TandemGateway

/// Budgets' bookkeeping: spend per tenant in the current UTC day and month, and the same ledger
/// rebuilt from usage records.
@Suite struct SpendLedgerTests {
    static func at(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    @Test func daysAndMonthsRollOverInUTC() {
        var l = SpendLedger()
        l.charge("acme", 1.5, at: Self.at("2026-12-06T23:59:00Z"))
        l.charge("acme", 0.25, at: Self.at("2026-12-07T00:00:01Z"))
        #expect(l.spent("acme", at: Self.at("2026-12-07T10:00:00Z")) == (day: 0.25, month: 1.75))
        #expect(l.spent("acme", at: Self.at("2026-12-08T00:00:00Z")) == (day: 0, month: 1.75))
        #expect(l.spent("acme", at: Self.at("2027-01-01T00:00:00Z")) == (day: 0, month: 0))
        l.charge("acme", 2, at: Self.at("2027-01-01T00:00:00Z"))
        #expect(l.spent("acme", at: Self.at("2027-01-01T08:00:00Z")) == (day: 2, month: 2))
        #expect(l.spent("nobody", at: Self.at("2027-01-01T08:00:00Z")) == (day: 0, month: 0))
        l.charge("acme", -1, at: Self.at("2027-01-01T09:00:00Z"))
        #expect(l.spent("acme", at: Self.at("2027-01-01T09:00:00Z")).day == 2)
    }

    @Test func restoredFromUsageRecordsOfThisMonth() {
        let log = """
        {"time":"2026-11-30T12:00:00Z","tenant":"acme","cost":5}
        {"time":"2026-12-01T12:00:00Z","tenant":"acme","cost":1}
        {"time":"2026-12-07T09:00:00Z","tenant":"acme","cost":0.5}
        not a record 2026-12
        {"time":"2026-12-07T09:30:00Z","tenant":"globex","cost":0.125}
        """
        let l = SpendLedger.restore(fromUsageLog: Substring(log), now: Self.at("2026-12-07T10:00:00Z"))
        #expect(l.spent("acme", at: Self.at("2026-12-07T10:00:00Z")) == (day: 0.5, month: 1.5))
        #expect(l.spent("globex", at: Self.at("2026-12-07T10:00:00Z")) == (day: 0.125, month: 0.125))
    }

    @Test func secondsUntilTheNextPeriod() {
        #expect(SpendLedger.secondsUntilReset(daily: true, from: Self.at("2026-12-07T23:00:00Z")) == 3600)
        #expect(SpendLedger.secondsUntilReset(daily: false, from: Self.at("2026-12-31T23:00:00Z")) == 3600)
        #expect(SpendLedger.secondsUntilReset(daily: false, from: Self.at("2026-12-30T23:00:00Z")) == 25 * 3600)
    }
}
