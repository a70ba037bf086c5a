import ArgumentParser
import Foundation
import Logging
import TandemGateway

/// `tandem gateway`: the OpenAI-compatible API gateway (API keys, tenant limits, router, metrics).
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Serve the OpenAI-compatible API and route requests to model deployments.",
        discussion: """
            Reads a JSON configuration (see gateway/gateway.example.json) naming the API keys file, \
            tenants, models and routing policies. Send SIGHUP to reload it: an invalid file is \
            refused and the running configuration kept. SIGTERM/SIGINT stop the server gracefully.
            """)

    @Option(help: "Gateway configuration file (JSON).")
    var config: String?

    @Option(help: "Listen address (overrides the configuration's listen.host).")
    var host: String?

    @Option(help: "Listen port (overrides the configuration's listen.port).")
    var port: Int?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Option(name: .customLong("hash-key"), help: "Print the SHA-256 hash of an API key for the keys file, then exit.")
    var hashKey: String?

    @Flag(name: .customLong("check"), help: "Validate the configuration and keys file, then exit.")
    var check = false

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        if hashKey == nil && config == nil { throw ValidationError("--config FILE is required") }
        if let port, !(0...65535).contains(port) { throw ValidationError("--port must be 0...65535") }
    }

    func run() async throws {
        if let hashKey {
            print(APIKeyHash.hex(hashKey))
            return
        }
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "tandem.gateway")
        if check {
            do {
                _ = try GatewayConfigurationLoader.load(path: config!)
            } catch {
                throw ValidationError(error.description)
            }
            print("\(config!): valid")
            return
        }
        let server: GatewayServer
        do {
            server = try GatewayServer(configurationPath: config!, host: host, port: port, logger: logger)
        } catch {
            throw ValidationError(error.description)
        }
        try await server.run()
    }
}
