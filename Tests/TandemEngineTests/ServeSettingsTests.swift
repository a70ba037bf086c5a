import Testing
import TandemCore
import TandemEngineCore

/// One declaration per serve setting: the command line, the launch plan's arguments and the
/// help all come from `ServeSettings.settings`.
@Suite("serve settings")
struct ServeSettingsTests {
    @Test func commandLineSetsEachSetting() throws {
        let s = try ServeSettings.parse(arguments: ["--kv-mib", "64", "--kv-dtype=fp8", "--block-size", "32", "--max-running", "8",
                                                    "--max-batched-tokens", "1_024", "--max-waiting", "0", "--prefix-cache", "off",
                                                    "--eviction", "lru", "--step-timeout", "60", "--weights", "nvfp4",
                                                    "--speculative", "prompt-lookup", "--spec-tokens", "6", "--spec-max-batch", "2",
                                                    "--spec-cost-model", "off"])
        #expect(s.weights == .nvfp4)
        #expect(s.speculation == SpeculationConfiguration(method: .promptLookup, maxDraftTokens: 6, maxBatch: 2, costModel: false))
        #expect(s.kvMiB == 64 && s.kvBudgetBytes == 64 << 20 && s.kvDType == .fp8 && s.blockSize == 32 && s.maxRunning == 8)
        #expect(s.maxBatchedTokens == 1024 && s.maxWaiting == 0 && !s.prefixCache && s.eviction == .lru && s.stepTimeoutSeconds == 60)
        let sc = s.scheduler(maxModelLength: 2048)
        #expect(sc.maxBatchedTokens == 1024 && sc.maxRunningSequences == 8 && sc.maxWaitingRequests == 0 && !sc.enablePrefixCaching)
        #expect(sc.maxModelLength == 2048)
    }

    @Test("arguments() and parse(arguments:) are inverse for every setting")
    func argumentsRoundTrip() throws {
        var s = ServeSettings()
        s.kvMiB = 7; s.kvDType = .fp8; s.maxWaiting = 3; s.prefixCache = false; s.eviction = .lru; s.stepTimeoutSeconds = 9
        s.weights = .fp8; s.speculation = SpeculationConfiguration(method: .promptLookup, maxDraftTokens: 3, maxBatch: 5, costModel: false)
        let argv = s.arguments()
        #expect(argv.count == 2 * ServeSettings.settings.count)
        #expect(try ServeSettings.parse(arguments: argv) == s)
        #expect(try ServeSettings.parse(arguments: ServeSettings().arguments()) == ServeSettings())
    }

    @Test func badArgumentsNameTheSettingAndWhatIsAllowed() {
        func message(_ argv: [String]) -> String {
            do { _ = try ServeSettings.parse(arguments: argv); return "" } catch { return "\(error)" }
        }
        #expect(message(["--kv-mib", "0"]).contains("--kv-mib: 0 is out of range; allowed: 1...1073741824"))
        #expect(message(["--kv-mib", "lots"]).contains("expected an integer"))
        #expect(message(["--eviction", "fifo"]).contains("'fifo' is not allowed; allowed: prefix-aware, lru"))
        #expect(message(["--prefix-cache", "maybe"]).contains("expected true or false, on, off"))
        #expect(message(["--kv-mbi", "64"]).contains("unknown option '--kv-mbi'"))
        #expect(message(["--block-size"]).contains("--block-size needs a value"))
        #expect(message(["64"]).contains("unexpected argument '64'"))
    }

    @Test func topologyKeysAreTheNamesWithUnderscores() {
        #expect(ServeSettings.setting(key: "kv_mib")?.name == "kv-mib")
        #expect(ServeSettings.setting(key: "max_batched_tokens")?.name == "max-batched-tokens")
        // A key the topology format fixed before the settings were one type keeps its name.
        #expect(ServeSettings.setting(key: "step_timeout_s")?.name == "step-timeout")
        // The one setting a topology writes on the model itself rather than in its placement.
        #expect(ServeSettings.settings.filter(\.modelLevel).map(\.key) == ["weights"])
        #expect(Set(ServeSettings.settings.map(\.name)).count == ServeSettings.settings.count)
        for s in ServeSettings.settings { #expect(ServeSettings.helpText.contains("--\(s.name) <")) }
    }
}
