import Foundation
import Testing
@testable import TandemGateway

@Suite struct ConfigurationTests {
    static let json = #"""
    {
      "keys_file": "keys.json",
      "tenants": {"acme": {"requests_per_minute": 60, "allowed_models": ["small", "auto"]}},
      "models": [
        {"name": "small", "aliases": ["fast"], "fallback": "big", "deployments": [{"url": "http://127.0.0.1:9001"}]},
        {"name": "big", "reasoning": true, "reasoning_token_floor": 256, "reasoning_floor_action": "reject",
         "deployments": [{"url": "https://api.example.com/v1", "kind": "external", "upstream_model": "gpt", "api_key_env": "K"}]}
      ],
      "routing": {"policies": {"auto": {"rules": [{"name": "long", "when": {"min_prompt_tokens": 100}, "model": "big"}], "default": "small"}}}
    }
    """#

    @Test func decodeShouldReadSnakeCaseAndApplyDefaults() throws {
        let c = try JSONDecoder().decode(GatewayConfiguration.self, from: Data(Self.json.utf8))
        #expect(c.listen == ListenConfiguration(host: "127.0.0.1", port: 8080))
        #expect(c.limits.maxBodyBytes == 1 << 20)
        #expect(c.tenants["acme"]?.requestsPerMinute == 60)
        #expect(c.models[1].reasoningFloorAction == .reject)
        #expect(c.models[1].deployments[0].kind == .external)
        #expect(c.routing.policies["auto"]?.candidateModels == ["big", "small"])
        #expect(c.problems(keys: KeysFile(keys: [APIKeyEntry(tenant: "acme", sha256: APIKeyHash.hex("k"))])) == [])
    }

    @Test func theTracingSectionIsReadAndChecked() throws {
        var json = try JSONSerialization.jsonObject(with: Data(Self.json.utf8)) as! [String: Any]
        json["tracing"] = ["otlp_endpoint": "http://127.0.0.1:4318", "sample_ratio": 0.25]
        var c = try JSONDecoder().decode(GatewayConfiguration.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(c.tracing == TracingConfiguration(otlpEndpoint: "http://127.0.0.1:4318", sampleRatio: 0.25, serviceName: "tandem-gateway"))
        let keys = KeysFile(keys: [APIKeyEntry(tenant: "acme", sha256: APIKeyHash.hex("k"))])
        #expect(c.problems(keys: keys) == [])
        c.tracing = TracingConfiguration(otlpEndpoint: "127.0.0.1:4318", sampleRatio: 1.5, serviceName: "")
        let problems = c.problems(keys: keys)
        #expect(problems.count == 3 && problems.allSatisfy { $0.hasPrefix("tracing.") }, "\(problems)")
        #expect(problems[0].contains("otlp_endpoint") && problems[1].contains("sample_ratio must be between 0 and 1"))
    }

    @Test func problemsShouldListEveryInconsistency() throws {
        var c = try JSONDecoder().decode(GatewayConfiguration.self, from: Data(Self.json.utf8))
        c.models[0].fallback = "nowhere"
        c.models[1].aliases = ["fast"]
        c.models[1].deployments[0].url = "ftp://x"
        c.tenants["acme"]?.allowedModels = ["ghost"]
        c.routing.policies["auto"]?.default = "missing"
        let problems = c.problems(keys: KeysFile(keys: [APIKeyEntry(tenant: "nobody", sha256: "XYZ")]))
        let expected = [
            "fallback 'nowhere' is not a model", "name 'fast' is used by both", "url 'ftp://x'",
            "allowed model 'ghost'", "default 'missing' is not a model", "tenant 'nobody' is not configured",
            "sha256 must be 64 lower-case hex digits",
        ]
        for fragment in expected {
            #expect(problems.contains { $0.contains(fragment) }, "missing problem: \(fragment) in \(problems)")
        }
    }

    @Test func loaderShouldResolveTheKeysFileAndRefuseInvalidFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-gw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let keys = #"{"keys": [{"id": "a", "tenant": "acme", "sha256": "\#(APIKeyHash.hex("secret"))"}]}"#
        try keys.write(to: dir.appendingPathComponent("keys.json"), atomically: true, encoding: .utf8)
        let path = dir.appendingPathComponent("gateway.json").path
        try Self.json.write(toFile: path, atomically: true, encoding: .utf8)
        let loaded = try GatewayConfigurationLoader.load(path: path)
        #expect(loaded.keys.keys.first?.tenant == "acme")

        try #"{"keys_file": "keys.json", "tenants": {}, "models": [{"name": 5}]}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: GatewayConfigurationError.self) { try GatewayConfigurationLoader.load(path: path) }
        do {
            _ = try GatewayConfigurationLoader.load(path: path)
        } catch {
            #expect(error.problems.first?.contains("models[0].name") == true, "\(error)")
        }
    }

    @Test func keyHashShouldBeSHA256Hex() {
        #expect(APIKeyHash.hex("test") == "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    }

    @Test("cost: prices by kind of token when given (cached prompt tokens at their own price), cost_per_token otherwise")
    func costByKindOfToken() {
        var m = GatewayModelConfiguration(name: "m", deployments: [], costPerToken: 1e-6)
        #expect(abs(m.cost(promptTokens: 100, cachedTokens: 40, completionTokens: 10) - 110e-6) < 1e-15)
        m.prices = TokenPrices(inputPerMillion: 2, cachedInputPerMillion: 0.5, outputPerMillion: 8)
        // 60 computed × 2 + 40 cached × 0.5 + 10 generated × 8, per million.
        #expect(abs(m.cost(promptTokens: 100, cachedTokens: 40, completionTokens: 10) - 220e-6) < 1e-15)
        m.prices = TokenPrices(inputPerMillion: 2, outputPerMillion: 8)
        #expect(abs(m.cost(promptTokens: 100, cachedTokens: 40, completionTokens: 10) - 280e-6) < 1e-15)
        let c = GatewayConfiguration(keysFile: "k", tenants: ["t": TenantConfiguration()], models: [
            GatewayModelConfiguration(name: "m", deployments: [DeploymentConfiguration(url: "http://m")])])
        var bad = c
        bad.models[0].prices = TokenPrices(inputPerMillion: .infinity, outputPerMillion: -1)
        let problems = bad.problems(keys: KeysFile(keys: [APIKeyEntry(tenant: "t", sha256: APIKeyHash.hex("x"))]))
        #expect(problems.contains("model 'm': prices.input_per_million must be a number >= 0"))
        #expect(problems.contains("model 'm': prices.output_per_million must be a number >= 0"))
    }
}
