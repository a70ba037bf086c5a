import Foundation
import TandemCore
import TandemGatewayConfig
import Yams

/// One automatic check of a council answer.
public struct CouncilCheck: Sendable, Codable, Equatable {
    public var name: String
    public var passed: Bool
    /// Why it failed (or what it counted), for the report.
    public var detail: String

    public init(_ name: String, _ passed: Bool, _ detail: String = "") {
        self.name = name
        self.passed = passed
        self.detail = detail
    }
}

/// Checks of a council answer that need no judge: it came and was finished; the Docker Compose
/// file parses as YAML and has the services asked for; the incident JSON parses with the keys
/// and values asked for; the list-shaped answers have enough items.
public enum CouncilChecks {
    public static func check(task: String, record: RequestRecord) -> [CouncilCheck] {
        guard record.ok else { return [CouncilCheck("answered", false, record.error ?? "error")] }
        let answer = record.answer ?? ""
        var out = [CouncilCheck("answered", !answer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "empty answer")]
        out.append(CouncilCheck("finished", record.finishReason == "stop", "finish_reason \(record.finishReason ?? "none")"))
        switch task {
        case "docker-compose": out.append(compose(answer))
        case "incident-json": out.append(incidents(answer))
        case "task-decomposition": out.append(listItems(answer, atLeast: 3))
        case "priority-summary": out.append(listItems(answer, atLeast: 5))
        case "business-strategy": out.append(listItems(answer, atLeast: 3))
        case "ambiguity-handling":
            let questions = answer.filter { $0 == "?" }.count
            out.append(CouncilCheck("questions", questions >= 3, "\(questions) question marks, 3 wanted"))
        case "rag-design":
            let numbers = answer.split { !$0.isNumber && $0 != "." && $0 != "," }.filter { $0.contains { $0.isNumber } }.count
            out.append(CouncilCheck("concrete numbers", numbers >= 5, "\(numbers) numbers, 5 wanted"))
        default: break
        }
        return out
    }

    /// The body of the first fenced code block (any language tag) that contains `marker`, else of
    /// the first one; nil without any.
    static func fencedBlock(_ text: String, containing marker: String = "") -> String? {
        var blocks: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "```") {
            let afterTag = rest[open.upperBound...].drop { $0 != "\n" }.dropFirst()
            guard let close = afterTag.range(of: "```") else {
                blocks.append(String(afterTag))
                break
            }
            blocks.append(String(afterTag[..<close.lowerBound]))
            rest = afterTag[close.upperBound...]
        }
        return blocks.first { $0.contains(marker) } ?? blocks.first
    }

    /// The compose file (fenced, or the answer from its `services:` line) parses as YAML, and its
    /// `services` include a build of ./api, PostgreSQL with a volume and a health check, Redis,
    /// and nginx publishing port 80.
    public static func compose(_ answer: String) -> CouncilCheck {
        var text = fencedBlock(answer, containing: "services:") ?? answer
        if fencedBlock(answer) == nil, let r = answer.range(of: "services:") { text = String(answer[r.lowerBound...]) }
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { return CouncilCheck("compose YAML", false, "does not parse as YAML: \(String(describing: error).prefix(120))") }
        guard let doc = root as? [String: Any], let services = doc["services"] as? [String: Any], !services.isEmpty else {
            return CouncilCheck("compose YAML", false, "no services mapping")
        }
        func describe(_ v: Any) -> String { String(describing: v).lowercased() }
        var missing: [String] = []
        let all = services.map { ($0.key.lowercased(), describe($0.value)) }
        if !all.contains(where: { $0.1.contains("./api") }) { missing.append("a build of ./api") }
        if !all.contains(where: { ($0.0.contains("postgres") || $0.0 == "db" || $0.1.contains("postgres")) && $0.1.contains("healthcheck") && $0.1.contains("volume") }) {
            missing.append("postgres with a volume and a health check")
        }
        if !all.contains(where: { $0.0.contains("redis") || $0.1.contains("redis") }) { missing.append("redis") }
        if !all.contains(where: { ($0.0.contains("nginx") || $0.1.contains("nginx")) && $0.1.contains("80") }) { missing.append("nginx on port 80") }
        return CouncilCheck("compose YAML", missing.isEmpty,
                            missing.isEmpty ? "\(services.count) services" : "\(services.count) services; missing " + missing.joined(separator: ", "))
    }

    /// A JSON array (alone, fenced, or the answer's first `[` to its last `]`) of three incidents,
    /// each with a string service, a severity of low/medium/high and integer minutes.
    public static func incidents(_ answer: String) -> CouncilCheck {
        var text = fencedBlock(answer, containing: "[") ?? answer
        if fencedBlock(answer) == nil, let a = answer.firstIndex(of: "["), let b = answer.lastIndex(of: "]"), a < b {
            text = String(answer[a...b])
        }
        guard let value = try? JSONValue.parse(Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)) else {
            return CouncilCheck("incident JSON", false, "does not parse as JSON")
        }
        guard case .array(let items) = value else { return CouncilCheck("incident JSON", false, "not an array") }
        for (i, item) in items.enumerated() {
            guard item["service"]?.stringValue != nil, let sev = item["severity"]?.stringValue, ["low", "medium", "high"].contains(sev),
                  item["minutes"]?.intValue != nil else {
                return CouncilCheck("incident JSON", false, "item \(i) lacks service, severity (low/medium/high) or integer minutes")
            }
        }
        return CouncilCheck("incident JSON", items.count == 3, "\(items.count) incidents, 3 in the log")
    }

    /// Lines that begin a numbered or bulleted list item.
    public static func listItems(_ answer: String, atLeast n: Int) -> CouncilCheck {
        let items = answer.split(separator: "\n").filter { line in
            let t = line.drop { $0 == " " || $0 == "\t" }
            if let f = t.first, "-*•".contains(f), t.dropFirst().first == " " { return true }
            let digits = t.prefix { $0.isNumber }
            return !digits.isEmpty && [".", ")"].contains(t.dropFirst(digits.count).first.map(String.init) ?? "")
        }.count
        return CouncilCheck("list items", items >= n, "\(items) list items, \(n) wanted")
    }
}

/// Two (or more) models' council answers side by side: per task the latency, tokens (reasoning
/// among them) and checks of each model, and per model the totals.
public struct CouncilReport: Sendable, Codable {
    public struct Entry: Sendable, Codable {
        public var task: String
        public var record: RequestRecord
        public var maxTokens: Int
        public var checks: [CouncilCheck]
    }

    public var labels: [String]
    /// entries[m][t]: model m's answer to task t.
    public var entries: [[Entry]]
    /// Model m's prices (nil: not priced); with any, the report has a cost column.
    public var prices: [TokenPrices?]

    public init(labels: [String], entries: [[Entry]], prices: [TokenPrices?] = []) {
        self.labels = labels
        self.entries = entries
        self.prices = prices.isEmpty ? Array(repeating: nil, count: labels.count) : prices
    }

    /// Dollars model m's answer cost (nil when m is not priced).
    public func cost(_ m: Int, _ e: Entry) -> Double? {
        prices[m].map { $0.cost(promptTokens: e.record.promptTokens, cachedTokens: e.record.cachedTokens, completionTokens: e.record.outputTokens) }
    }

    static func dollars(_ d: Double?) -> String { d.map { String(format: "$%.6f", $0) } ?? "-" }

    public func markdown() -> String {
        let priced = prices.contains { $0 != nil }
        var s = "| task | " + labels.map { "\($0): s | \($0): tokens (reasoning)" + (priced ? " | \($0): cost" : "") + " | \($0): checks" }
            .joined(separator: " | ") + " |\n"
        s += "| --- |" + String(repeating: " ---: | ---: |" + (priced ? " ---: |" : "") + " --- |", count: labels.count) + "\n"
        guard let tasks = entries.first?.map(\.task) else { return s }
        for (t, task) in tasks.enumerated() {
            s += "| \(task) |"
            for m in entries.indices {
                let e = entries[m][t]
                let passed = e.checks.filter(\.passed).count
                let failed = e.checks.filter { !$0.passed }.map { "\($0.name): \($0.detail)" }
                let reasoning = e.record.reasoningTokens.map { " (\($0))" } ?? ""
                s += " \(e.record.e2e.map { Report.num($0) } ?? "-") | \(e.record.outputTokens)\(reasoning) of \(e.maxTokens) |"
                if priced { s += " \(Self.dollars(cost(m, e))) |" }
                s += " \(passed)/\(e.checks.count)" + (failed.isEmpty ? "" : ": " + failed.joined(separator: "; ").replacingOccurrences(of: "|", with: "/")) + " |"
            }
            s += "\n"
        }
        s += "\n"
        for (m, label) in labels.enumerated() {
            let es = entries[m]
            let time = es.compactMap(\.record.e2e).reduce(0, +)
            let tokens = es.map(\.record.outputTokens).reduce(0, +)
            let checks = es.flatMap(\.checks)
            let served = Set(es.compactMap(\.record.model)).sorted()
            s += "- \(label): \(Report.num(time)) s, \(tokens) output tokens"
            if prices[m] != nil { s += ", " + Self.dollars(es.compactMap { cost(m, $0) }.reduce(0, +)) }
            s += ", \(checks.filter(\.passed).count) of \(checks.count) checks passed"
            s += served.isEmpty ? "\n" : " (answered by \(served.joined(separator: ", ")))\n"
        }
        return s
    }
}

/// A council run: every task to every target, one request at a time, the targets interleaved
/// task by task (so a burst of load on the box hits both); the report and a plot on disk.
public enum CouncilSession {
    public static func run(targets: [(label: String, target: BenchTarget)], maxTokensCap: Int?, prices: [TokenPrices?] = [],
                           outputDirectory: String) async throws -> CouncilReport {
        let tasks = try WorkloadGenerator.requests(.council(maxTokensCap: maxTokensCap), count: 1, seed: 0)
        let http = BenchClient.makeHTTPClient()
        var entries = Array(repeating: [CouncilReport.Entry](), count: targets.count)
        let start = ContinuousClock.now
        for (t, task) in tasks.enumerated() {
            for (m, target) in targets.enumerated() {
                let record = await BenchClient(http: http, target: target.target).send(task, index: t, level: target.label, levelStart: start)
                entries[m].append(.init(task: task.tag, record: record, maxTokens: task.maxTokens,
                                        checks: CouncilChecks.check(task: task.tag, record: record)))
            }
        }
        try await http.shutdown()
        let report = CouncilReport(labels: targets.map(\.label), entries: entries, prices: prices)
        let fm = FileManager.default
        try fm.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: outputDirectory + "/council.json"))
        var md = "# Council: " + report.labels.joined(separator: " vs ") + "\n\n"
        md += "Tasks (x axis of council_latency.svg): " + tasks.enumerated().map { "\($0.offset + 1) \($0.element.tag)" }.joined(separator: ", ") + "\n\n"
        md += report.markdown()
        try md.write(toFile: outputDirectory + "/council.md", atomically: true, encoding: .utf8)
        let chart = SVGLineChart(title: "Council: seconds per task", xLabel: "task", yLabel: "seconds (end to end)",
                                 series: report.labels.enumerated().map { m, label in
                                     .init(name: label, points: entries[m].enumerated().compactMap { i, e in e.record.e2e.map { (Double(i + 1), $0) } },
                                           markers: true)
                                 })
        try chart.render().write(toFile: outputDirectory + "/council_latency.svg", atomically: true, encoding: .utf8)
        return report
    }
}
