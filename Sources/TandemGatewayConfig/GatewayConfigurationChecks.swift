/// One wrong value in a section of the gateway's configuration: the field as written in the file
/// (`max_body_bytes`) and what is wrong with it ("must be positive"). The gateway reports it as
/// `limits.max_body_bytes must be positive`; the topology reports it at the field's line.
public struct GatewayConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field) \(message)" }
}

/// A section of the gateway's configuration that checks its own values (ranges only; names that
/// refer to other sections are checked by the gateway, which sees the whole file).
public protocol GatewayConfigSection: Codable, Sendable {
    /// The keys the section accepts, as written in the file.
    static var fieldNames: [String] { get }
    /// Every out-of-range value.
    var problems: [GatewayConfigProblem] { get }
}

/// Durations become 64-bit nanosecond counts (HTTP client, timers); this is far below that overflow.
let maxDurationMs = 30 * 86_400_000

private func checkDuration(_ field: String, _ ms: Int, minimum: Int, into out: inout [GatewayConfigProblem]) {
    if ms < minimum { out.append(GatewayConfigProblem(field, minimum > 0 ? "must be positive" : "must be >= 0")) }
    else if ms > maxDurationMs { out.append(GatewayConfigProblem(field, "\(ms) is more than \(maxDurationMs) ms (30 days)")) }
}

private func checkPositive(_ field: String, _ value: Int?, into out: inout [GatewayConfigProblem]) {
    if let value, value <= 0 { out.append(GatewayConfigProblem(field, "must be positive")) }
}

extension TracingConfiguration: GatewayConfigSection {
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }
    public var problems: [GatewayConfigProblem] {
        var out: [GatewayConfigProblem] = []
        if !(otlpEndpoint.hasPrefix("http://") || otlpEndpoint.hasPrefix("https://")) {
            out.append(GatewayConfigProblem(CodingKeys.otlpEndpoint.rawValue, "'\(otlpEndpoint)' is not an http:// or https:// URL (an OTLP/HTTP receiver, e.g. http://127.0.0.1:4318)"))
        }
        if !(0...1).contains(sampleRatio) { out.append(GatewayConfigProblem(CodingKeys.sampleRatio.rawValue, "must be between 0 and 1")) }
        if serviceName.isEmpty { out.append(GatewayConfigProblem(CodingKeys.serviceName.rawValue, "must not be empty")) }
        return out
    }
}

extension ListenConfiguration: GatewayConfigSection {
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }
    public var problems: [GatewayConfigProblem] {
        (1...65535).contains(port) || port == 0 ? [] : [GatewayConfigProblem("port", "\(port) is not a TCP port")]
    }
}

extension LimitsConfiguration: GatewayConfigSection {
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }
    public var problems: [GatewayConfigProblem] {
        var out: [GatewayConfigProblem] = []
        checkPositive(CodingKeys.maxBodyBytes.rawValue, maxBodyBytes, into: &out)
        checkDuration(CodingKeys.requestTimeoutMs.rawValue, requestTimeoutMs, minimum: 1, into: &out)
        return out
    }
}

extension UpstreamConfiguration: GatewayConfigSection {
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }
    public var problems: [GatewayConfigProblem] {
        var out: [GatewayConfigProblem] = []
        checkDuration(CodingKeys.connectTimeoutMs.rawValue, connectTimeoutMs, minimum: 1, into: &out)
        checkDuration(CodingKeys.readTimeoutMs.rawValue, readTimeoutMs, minimum: 1, into: &out)
        checkPositive(CodingKeys.poolMaxConnections.rawValue, poolMaxConnections, into: &out)
        checkDuration(CodingKeys.poolIdleTimeoutMs.rawValue, poolIdleTimeoutMs, minimum: 1, into: &out)
        checkDuration(CodingKeys.metricsTimeoutMs.rawValue, metricsTimeoutMs, minimum: 1, into: &out)
        return out
    }
}

extension HealthConfiguration: GatewayConfigSection {
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }
    public var problems: [GatewayConfigProblem] {
        var out: [GatewayConfigProblem] = []
        if failureThreshold < 1 { out.append(GatewayConfigProblem(CodingKeys.failureThreshold.rawValue, "must be >= 1")) }
        checkDuration(CodingKeys.cooldownMs.rawValue, cooldownMs, minimum: 0, into: &out)
        checkDuration(CodingKeys.probeTimeoutMs.rawValue, probeTimeoutMs, minimum: 1, into: &out)
        return out
    }
}

extension TenantConfiguration: GatewayConfigSection {
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }
    public var problems: [GatewayConfigProblem] {
        var out: [GatewayConfigProblem] = []
        checkPositive(CodingKeys.requestsPerMinute.rawValue, requestsPerMinute, into: &out)
        checkPositive(CodingKeys.tokensPerMinute.rawValue, tokensPerMinute, into: &out)
        checkPositive(CodingKeys.maxConcurrent.rawValue, maxConcurrent, into: &out)
        for (key, v) in [(CodingKeys.budgetPerDay, budgetPerDay), (.budgetPerMonth, budgetPerMonth)] {
            if let v, !(v.isFinite && v >= 0) { out.append(GatewayConfigProblem(key.rawValue, "must be a number >= 0 (dollars)")) }
        }
        return out
    }
}

extension TokenPrices: GatewayConfigSection {
    public static var fieldNames: [String] { CodingKeys.allCases.map(\.rawValue) }
    public var problems: [GatewayConfigProblem] {
        var out: [GatewayConfigProblem] = []
        for (key, v) in [(CodingKeys.inputPerMillion, inputPerMillion), (.cachedInputPerMillion, cachedInputPerMillion ?? 0),
                         (.outputPerMillion, outputPerMillion)] where !(v.isFinite && v >= 0) {
            out.append(GatewayConfigProblem(key.rawValue, "must be a number >= 0"))
        }
        return out
    }
}

extension RoutingConfiguration {
    /// The range checks of the routing section's own numbers (policies' names are checked by the
    /// gateway against its models).
    public var problems: [GatewayConfigProblem] {
        var out: [GatewayConfigProblem] = []
        if affinityPrefixChars < 0 { out.append(GatewayConfigProblem(CodingKeys.affinityPrefixChars.rawValue, "must be >= 0")) }
        if maxLoadImbalance < 0 { out.append(GatewayConfigProblem(CodingKeys.maxLoadImbalance.rawValue, "must be >= 0")) }
        return out
    }
}
