import Foundation
import Testing
import TandemCore
@testable import TandemTopology

/// A model's `defaults:` in the topology reaches `tandem serve` as `--sampling-defaults`.
@Suite struct SamplingDefaultsTopologyTests {
    @Test func defaultsReachServeAsOneJSONOption() throws {
        let f = try Fixture()
        let yaml = edit("      kv_mib: 64\n", "      kv_mib: 64\n    defaults: {temperature: 0.2, top_p: 0.9, top_k: 40, min_p: 0.05, repetition_penalty: 1.1}\n")
        guard case .success(let r) = f.check(yaml) else { Issue.record("\(f.check(yaml))"); return }
        #expect(r.topology.models[0].samplingDefaults == SamplingDefaults(temperature: 0.2, topP: 0.9, topK: 40, minP: 0.05, repetitionPenalty: 1.1))
        let plan = LaunchPlanner.make(r, options: LaunchOptions(tandemBin: "t", runDir: "/r", localNodes: ["spark"]))
        let argv = plan.deployments[0].argv
        let json = try #require(argv.firstIndex(of: "--sampling-defaults").map { argv[$0 + 1] })
        #expect(json == #"{"temperature": 0.2, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1}"#)
        #expect(!plan.deployments[1].argv.contains("--sampling-defaults"))
    }

    @Test func outOfRangeOrUnknownDefaultsAreReportedAtTheirPlace() throws {
        let f = try Fixture()
        let messages = f.errors(edit("      kv_mib: 64\n", "      kv_mib: 64\n    defaults: {temperature: 3, min_p: 2, top_k: -5, frobnicate: 1}\n"))
            .map(\.message).joined(separator: "\n")
        #expect(messages.contains("defaults.temperature"))
        #expect(messages.contains("defaults.min_p"))
        #expect(messages.contains("defaults.top_k"))
        #expect(messages.contains("frobnicate"))
    }
}
