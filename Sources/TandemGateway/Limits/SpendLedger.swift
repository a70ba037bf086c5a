import Foundation
import TandemCore

/// What each tenant has spent in the current UTC day and month (dollars at the models' prices),
/// for `budget_per_day` / `budget_per_month`. Pure value; the gateway charges it as requests end
/// and fills it at start from its usage records, so a restart does not reset a budget.
struct SpendLedger: Sendable, Equatable {
    struct Period: Sendable, Equatable {
        var day: String
        var daySpend: Double
        var month: String
        var monthSpend: Double
    }

    private(set) var tenants: [String: Period] = [:]

    /// "2026-12-07" and "2026-12" of `date` in UTC.
    static func periods(_ date: Date) -> (day: String, month: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        let month = String(format: "%04d-%02d", c.year ?? 0, c.month ?? 0)
        return (month + String(format: "-%02d", c.day ?? 0), month)
    }

    /// Seconds from `date` to the next UTC midnight (`daily`) or first of the month.
    static func secondsUntilReset(daily: Bool, from date: Date) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let start = daily ? calendar.startOfDay(for: date)
            : calendar.date(from: calendar.dateComponents([.year, .month], from: date)) ?? date
        let next = calendar.date(byAdding: daily ? .day : .month, value: 1, to: start) ?? date
        return max(1, Int(next.timeIntervalSince(date).rounded(.up)))
    }

    mutating func charge(_ tenant: String, _ dollars: Double, at date: Date) {
        guard dollars > 0, dollars.isFinite else { return }
        let (day, month) = Self.periods(date)
        var p = tenants[tenant] ?? Period(day: day, daySpend: 0, month: month, monthSpend: 0)
        if p.day != day { p.day = day; p.daySpend = 0 }
        if p.month != month { p.month = month; p.monthSpend = 0 }
        p.daySpend += dollars
        p.monthSpend += dollars
        tenants[tenant] = p
    }

    /// Dollars spent in `date`'s day and month.
    func spent(_ tenant: String, at date: Date) -> (day: Double, month: Double) {
        guard let p = tenants[tenant] else { return (0, 0) }
        let (day, month) = Self.periods(date)
        return (p.day == day ? p.daySpend : 0, p.month == month ? p.monthSpend : 0)
    }

    /// The ledger the usage records `text` (JSON lines with `time`, `tenant`, `cost`) give for
    /// `now`'s day and month; lines that are not records are skipped.
    static func restore(fromUsageLog text: Substring, now: Date) -> SpendLedger {
        var ledger = SpendLedger()
        let (_, month) = periods(now)
        let parser = ISO8601DateFormatter()
        for line in text.split(separator: "\n") where line.contains(month) {
            guard let record = try? JSONValue.parse(String(line)), let tenant = record["tenant"]?.stringValue,
                  let time = record["time"]?.stringValue, let date = parser.date(from: time),
                  let cost = record["cost"]?.doubleValue else { continue }
            if periods(date).month == month { ledger.charge(tenant, cost, at: date) }
        }
        // Charges replayed in file order leave the day of the last one; a day other than today counts 0.
        return ledger
    }
}
