import TandemGatewayConfig
import Testing
@testable import TandemBench

@Suite struct CouncilCheckTests {
    static let compose = """
        Here it is:

        ```yaml
        services:
          api:
            build: ./api
            env_file: .env
            depends_on: [db, cache]
          db:
            image: postgres:16
            volumes:
              - pgdata:/var/lib/postgresql/data
            healthcheck:
              test: ["CMD-SHELL", "pg_isready -U postgres"]
              interval: 10s
          cache:
            image: redis:7
          proxy:
            image: nginx:1.27
            ports:
              - "80:80"
        volumes:
          pgdata: {}
        ```

        The api service runs the Python code.
        """

    @Test func aComposeFileWithTheServicesAskedForPasses() {
        let c = CouncilChecks.compose(Self.compose)
        #expect(c.passed, "\(c.detail)")
        #expect(c.detail == "4 services")
        // A .env block shown first: the block with the services is the one checked.
        #expect(CouncilChecks.compose("The .env file:\n```\nPOSTGRES_PASSWORD=x\n```\n\n" + Self.compose).passed)
    }

    @Test func aComposeFileThatDoesNotParseOrLacksAServiceFails() {
        let broken = Self.compose.replacingOccurrences(of: "      - \"80:80\"", with: "      - [\"80:80\"")
        let b = CouncilChecks.compose(broken)
        #expect(!b.passed && b.detail.contains("does not parse as YAML"), "\(b.detail)")
        let noRedis = Self.compose.replacingOccurrences(of: "  cache:\n    image: redis:7\n", with: "")
        let n = CouncilChecks.compose(noRedis)
        #expect(!n.passed && n.detail.contains("missing redis"), "\(n.detail)")
        let noHealth = Self.compose.replacingOccurrences(of: "healthcheck", with: "restart")
        #expect(CouncilChecks.compose(noHealth).detail.contains("postgres with a volume and a health check"))
        #expect(!CouncilChecks.compose("No file, sorry.").passed)
    }

    @Test func incidentJSONMustParseWithItsKeys() {
        let good = #"[{"service": "payments API", "severity": "high", "minutes": 25}, {"service": "search", "severity": "medium", "minutes": 90}, {"service": "wiki", "severity": "low", "minutes": 10}]"#
        #expect(CouncilChecks.incidents(good).passed)
        #expect(CouncilChecks.incidents("```json\n" + good + "\n```").passed)
        #expect(CouncilChecks.incidents("Sure: " + good + " Done.").passed)
        #expect(!CouncilChecks.incidents(good.replacingOccurrences(of: "\"high\"", with: "\"critical\"")).passed)
        #expect(!CouncilChecks.incidents(good.replacingOccurrences(of: "25", with: "25.5")).passed)
        #expect(CouncilChecks.incidents("[{\"service\": ").detail == "does not parse as JSON")
        #expect(!CouncilChecks.incidents(#"[{"service": "x", "severity": "low", "minutes": 1}]"#).passed, "one of three incidents")
    }

    @Test func listsAndTheCommonChecks() {
        #expect(CouncilChecks.listItems("1. a\n2) b\n - c\n* d\n-no\n12.x", atLeast: 5).passed)
        #expect(CouncilChecks.listItems("1. a\n2. b", atLeast: 3).detail == "2 list items, 3 wanted")
        var r = RequestRecord(index: 0, level: "m", tag: "docker-compose", start: 0, e2e: 1, outputTokens: 9, finishReason: "length")
        r.answer = Self.compose
        let checks = CouncilChecks.check(task: "docker-compose", record: r)
        #expect(checks.map(\.name) == ["answered", "finished", "compose YAML"])
        #expect(checks.map(\.passed) == [true, false, true])
        let failed = CouncilChecks.check(task: "rag-design", record: RequestRecord(index: 0, level: "m", tag: "x", start: 0, error: "timeout"))
        #expect(failed == [CouncilCheck("answered", false, "timeout")])
    }

    @Test func theReportPutsTheModelsSideBySide() {
        var a = RequestRecord(index: 0, level: "small", tag: "incident-json", start: 0, e2e: 1.5, outputTokens: 40, finishReason: "stop")
        a.answer = "not json"
        var b = a
        b.e2e = 4
        b.answer = #"[{"service": "a", "severity": "low", "minutes": 1}, {"service": "b", "severity": "low", "minutes": 2}, {"service": "c", "severity": "high", "minutes": 3}]"#
        let entry = { (r: RequestRecord) in CouncilReport.Entry(task: "incident-json", record: r, maxTokens: 64, checks: CouncilChecks.check(task: "incident-json", record: r)) }
        let md = CouncilReport(labels: ["small", "large"], entries: [[entry(a)], [entry(b)]]).markdown()
        #expect(md.contains("| incident-json | 1.5 | 40 of 64 | 2/3: incident JSON: does not parse as JSON | 4 | 40 of 64 | 3/3 |"), "\(md)")
        #expect(md.contains("- small: 1.5 s, 40 output tokens, 2 of 3 checks passed"))
        #expect(md.contains("- large: 4 s, 40 output tokens, 3 of 3 checks passed"))
        #expect(!md.contains("cost"))
        // Priced: 100 prompt tokens (20 cached) and 40 output tokens at $1 / $0.5 cached / $4 per million.
        var c = a
        c.promptTokens = 100
        c.cachedTokens = 20
        let priced = CouncilReport(labels: ["small", "large"], entries: [[entry(c)], [entry(b)]],
                                   prices: [TokenPrices(inputPerMillion: 1, cachedInputPerMillion: 0.5, outputPerMillion: 4), nil]).markdown()
        #expect(priced.contains("| small: cost |") && priced.contains("| 40 of 64 | $0.000250 | 2/3"), "\(priced)")
        #expect(priced.contains("- small: 1.5 s, 40 output tokens, $0.000250, 2 of 3") && priced.contains("| 40 of 64 | - | 3/3 |"), "\(priced)")
    }
}
