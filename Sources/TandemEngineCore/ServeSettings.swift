import TandemCore

/// What an operator sets for one deployment's engine, declared once: `serve` reads it from its
/// command line (`--kv-mib 64`), a topology from a model's `placement:` (`kv_mib: 64`), and
/// `tandem up` turns it back into `serve` arguments (`arguments()`). Each setting
/// is one property here and one entry in `settings` (name, help, allowed values); the command
/// line, the topology parser, the launch plan, `topology diff` and the help text all read that
/// table, so a new setting touches this file (and its documentation) only.
public struct ServeSettings: Sendable, Equatable {
    /// K/V cache memory per rank, MiB.
    public var kvMiB = 256
    public var kvDType: KVCacheDType = .f32
    public var blockSize = 16
    public var maxRunning = 32
    public var maxWaiting = 256
    public var maxBatchedTokens = 512
    public var prefixCache = true
    public var eviction: EvictionPolicy = .prefixAware
    public var stepTimeoutSeconds = 30
    /// Every projection through the blocked GEMM, one token or many, so a request's numbers (and
    /// so its seeded samples) do not depend on what shares its step; single-stream decode is
    /// slower (the fused one-token kernels are not used).
    public var batchInvariant = false
    /// Linear layers as stored (`native`) or re-quantised at load.
    public var weights: WeightFormat = .native
    /// Speculative decoding: who drafts (`off`, `prompt-lookup`), draft tokens per step, and the
    /// largest decode batch that still drafts.
    public var speculation = SpeculationConfiguration()
    /// How a mixture-of-experts model's experts are split over the ranks (dense models: unused).
    public var expertParallelism: ExpertParallelism = .tensor

    public init() {}

    public var kvBudgetBytes: Int { kvMiB << 20 }
    public var stepTimeout: Duration { .seconds(stepTimeoutSeconds) }

    /// The scheduler these settings configure, for a model of `maxModelLength` positions.
    public func scheduler(maxModelLength: Int) -> SchedulerConfiguration {
        SchedulerConfiguration(maxBatchedTokens: maxBatchedTokens, maxRunningSequences: maxRunning,
                               maxWaitingRequests: maxWaiting, maxModelLength: maxModelLength,
                               enablePrefixCaching: prefixCache)
    }

    /// One setting: its names, help, allowed values, and how it is read and printed.
    public struct Setting: Sendable {
        /// The command-line name (`--name`).
        public let name: String
        /// The topology key (`name` with `_` for `-`, unless a file format already fixed another).
        public let key: String
        /// Where a topology writes it: in the model's `placement:` (false), or on the model itself
        /// (true: `weights`, which says what the model is rather than how it is placed).
        public let modelLevel: Bool
        public let help: String
        /// The allowed values in words ("1...65536", "on, off").
        public let values: String
        /// Sets the value from text; returns what is wrong with the text, or nil.
        let read: @Sendable (inout ServeSettings, String) -> String?
        let show: @Sendable (ServeSettings) -> String

        /// The value of this setting in `s`, as the command line spells it.
        public func value(in s: ServeSettings) -> String { show(s) }
    }

    /// Every setting, in the order help and launch plans list them.
    public static let settings: [Setting] = [
        choice("weights", \.weights, WeightFormat.allCases.map { ($0.rawValue, $0) },
               "Linear-layer weights: native (as stored), f32, fp8, nvfp4 or mxfp4, re-quantised at load.", modelLevel: true),
        int("kv-mib", \.kvMiB, 1...(1 << 30), "K/V cache memory per rank, MiB."),
        choice("kv-dtype", \.kvDType, KVCacheDType.allCases.map { ($0.rawValue, $0) },
               "How the K/V cache stores K and V: f32, or fp8 (E4M3 with a scale per token and KV head: about 3.8x the tokens in the same kv-mib)."),
        int("block-size", \.blockSize, 1...4096, "Tokens per K/V block."),
        choice("parallel", \.expertParallelism, ExpertParallelism.allCases.map { ($0.rawValue, $0) },
               "How a mixture of experts is split over the ranks: tensor (a column slice of every expert on each rank) or expert (whole experts, each rank its share); attention is tensor-parallel either way. Dense models ignore it."),
        int("max-running", \.maxRunning, 1...65536, "Most sequences decoded together."),
        int("max-batched-tokens", \.maxBatchedTokens, 1...(1 << 24), "Token budget of one step (decode tokens plus prefill chunks)."),
        int("max-waiting", \.maxWaiting, 0...(1 << 24), "Most requests queued for admission; more are refused as over capacity."),
        choice("prefix-cache", \.prefixCache, [("on", true), ("off", false)], "Reuse the K/V of shared prompt prefixes.",
               aliases: ["true": true, "false": false, "yes": true, "no": false]),
        choice("eviction", \.eviction, [("prefix-aware", .prefixAware), ("lru", .lru)],
               "Which cached K/V block is reused first when the pool is full: prefix-aware (leaves first) or lru."),
        int("step-timeout", \.stepTimeoutSeconds, 1...86400, "Seconds a step may take before the deployment is declared stalled.",
            key: "step_timeout_s"),
        choice("batch-invariant", \.batchInvariant, [("off", false), ("on", true)],
               "Results independent of the batch (the same seed gives the same text alone or beside other requests); single-stream decode is slower.",
               aliases: ["true": true, "false": false, "yes": true, "no": false]),
        choice("speculative", \.speculation.method, SpeculationConfiguration.Method.allCases.map { ($0.rawValue, $0) },
               "Speculative decoding: off, or prompt-lookup (drafts continuations of n-grams already in the prompt and output; the model verifies them in one pass, so greedy and seeded output is unchanged)."),
        int("spec-tokens", \.speculation.maxDraftTokens, 1...32, "Most draft tokens per sequence and step (with --speculative)."),
        int("spec-max-batch", \.speculation.maxBatch, 0...65536,
            "Never draft in steps where more than this many sequences decode (0: no limit)."),
        choice("spec-cost-model", \.speculation.costModel, [("on", true), ("off", false)],
               "Measure at start-up what a drafted step costs against a plain one, per batch size, and draft only where the acceptance seen so far pays for it (a large batch is no longer bound by reading the weights).",
               aliases: ["true": true, "false": false, "yes": true, "no": false]),
    ]

    public static func setting(named name: String) -> Setting? { settings.first { $0.name == name } }
    public static func setting(key: String) -> Setting? { settings.first { $0.key == key } }

    /// Sets `setting` from its text; returns what is wrong with the text (naming what is
    /// allowed), or nil when it was set.
    @discardableResult
    public mutating func set(_ setting: Setting, _ value: String) -> String? { setting.read(&self, value) }

    /// Reads `--name value` and `--name=value` pairs of the settings; throws naming the argument
    /// and the allowed values for an unknown name, a missing or a wrong value.
    public static func parse(arguments: [String], into base: ServeSettings = ServeSettings()) throws -> ServeSettings {
        var s = base
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            guard a.hasPrefix("--") else { throw ServeSettingsError("unexpected argument '\(a)'") }
            var name = String(a.dropFirst(2)), value: String?
            if let eq = name.firstIndex(of: "=") {
                value = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let setting = setting(named: name) else {
                throw ServeSettingsError("unknown option '--\(name)'; serve settings are \(settings.map { "--" + $0.name }.joined(separator: ", ")) (see --help)")
            }
            if value == nil {
                i += 1
                guard i < arguments.count else { throw ServeSettingsError("--\(name) needs a value: \(setting.values)") }
                value = arguments[i]
            }
            if let problem = s.set(setting, value!) { throw ServeSettingsError("--\(name): \(problem)") }
            i += 1
        }
        return s
    }

    /// `--name value` for every setting, in table order: a launch plan passes all of them, so a
    /// `serve` command line says everything its engine was given.
    public func arguments() -> [String] {
        Self.settings.flatMap { ["--" + $0.name, $0.show(self)] }
    }

    /// The settings as help text: one line each, `--name <values>  help (default: ...)`.
    public static var helpText: String {
        let d = ServeSettings()
        return settings.map { "  --\($0.name) <\($0.values)>\n        \($0.help) (default: \($0.show(d)); topology \($0.modelLevel ? "model" : "placement") key: \($0.key))" }
            .joined(separator: "\n")
    }

    static func snake(_ name: String) -> String { String(name.map { $0 == "-" ? "_" : $0 }) }

    static func int(_ name: String, _ path: WritableKeyPath<ServeSettings, Int> & Sendable, _ range: ClosedRange<Int>,
                    _ help: String, key: String? = nil) -> Setting {
        Setting(name: name, key: key ?? snake(name), modelLevel: false, help: help,
                values: "\(range.lowerBound)...\(range.upperBound)",
                read: { s, text in
                    guard let v = Int(String(text.filter { $0 != "_" })) else {
                        return "expected an integer in \(range.lowerBound)...\(range.upperBound), found '\(text)'"
                    }
                    guard range.contains(v) else { return "\(v) is out of range; allowed: \(range.lowerBound)...\(range.upperBound)" }
                    s[keyPath: path] = v
                    return nil
                },
                show: { "\($0[keyPath: path])" })
    }

    static func choice<T: Equatable & Sendable>(_ name: String, _ path: WritableKeyPath<ServeSettings, T> & Sendable,
                                                _ options: [(String, T)], _ help: String, aliases: [String: T] = [:],
                                                modelLevel: Bool = false) -> Setting {
        let allowed = options.map(\.0).joined(separator: ", ")
        // A switch reads YAML's booleans too; its message names both spellings.
        let isSwitch = !aliases.isEmpty
        return Setting(name: name, key: snake(name), modelLevel: modelLevel, help: help, values: allowed,
                read: { s, text in
                    guard let v = options.first(where: { $0.0 == text })?.1 ?? aliases[text.lowercased()] else {
                        if isSwitch { return "'\(text)': expected true or false, \(allowed)" }
                        return "'\(text)' is not allowed; allowed: \(allowed)"
                    }
                    s[keyPath: path] = v
                    return nil
                },
                show: { s in options.first { $0.1 == s[keyPath: path] }?.0 ?? "" })
    }
}

/// A serve setting that cannot be read, in words that name it and what is allowed.
public struct ServeSettingsError: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
