import Foundation
import TandemAPI

/// Reads and validates the configuration file and the keys file it names.
public enum GatewayConfigurationLoader {
    /// A configuration and its keys file, both read and validated together.
    public struct Loaded: Sendable, Equatable {
        /// With each deployment's `internalKey` read from its `internal_key_file`.
        public var configuration: GatewayConfiguration
        public var keys: KeysFile
        public var path: String
        /// The key of `salt_key_file` (nil: none configured).
        public var saltKey: String?
        /// The key of `admin_key_file` (nil: none configured).
        public var adminKey: String?

        public init(configuration: GatewayConfiguration, keys: KeysFile, path: String, saltKey: String? = nil, adminKey: String? = nil) {
            self.configuration = configuration
            self.keys = keys
            self.path = path
            self.saltKey = saltKey
            self.adminKey = adminKey
        }
    }

    public static func load(path: String) throws(GatewayConfigurationError) -> Loaded {
        var configuration: GatewayConfiguration = try decode(GatewayConfiguration.self, path: path)
        let keysPath = resolve(configuration.keysFile, relativeTo: path)
        let keys: KeysFile = try decode(KeysFile.self, path: keysPath)
        var problems = configuration.problems(keys: keys)
        func secret(_ file: String?, _ what: String) -> String? {
            guard let file else { return nil }
            do { return try InternalKey.read(path: resolve(file, relativeTo: path)) } catch {
                problems.append("\(what): \(error.description)")
                return nil
            }
        }
        for (i, m) in configuration.models.enumerated() {
            for (j, d) in m.deployments.enumerated() {
                configuration.models[i].deployments[j].internalKey =
                    secret(d.internalKeyFile, "model '\(m.name)' deployment \(j) internal_key_file")
            }
        }
        let saltKey = secret(configuration.saltKeyFile, "salt_key_file")
        let adminKey = secret(configuration.adminKeyFile, "admin_key_file")
        guard problems.isEmpty else { throw GatewayConfigurationError(file: path, problems: problems) }
        return Loaded(configuration: configuration, keys: keys, path: path, saltKey: saltKey, adminKey: adminKey)
    }

    /// `file` as is when absolute, else relative to the directory of `base`.
    public static func resolve(_ file: String, relativeTo base: String) -> String {
        if file.hasPrefix("/") { return file }
        let dir = (base as NSString).deletingLastPathComponent
        return dir.isEmpty ? file : (dir as NSString).appendingPathComponent(file)
    }

    static func decode<T: Decodable>(_ type: T.Type, path: String) throws(GatewayConfigurationError) -> T {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw GatewayConfigurationError(file: path, problems: ["cannot read the file: \(error.localizedDescription)"])
        }
        do { return try JSONDecoder().decode(T.self, from: data) } catch let error as DecodingError {
            throw GatewayConfigurationError(file: path, problems: [describe(error)])
        } catch {
            throw GatewayConfigurationError(file: path, problems: ["not valid JSON: \(error)"])
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let p = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return p.isEmpty ? "the document" : String(p.drop(while: { $0 == "." }))
        }
        switch error {
        case .keyNotFound(let key, let ctx): return "\(path(ctx.codingPath + [key])): required but missing"
        case .typeMismatch(let type, let ctx): return "\(path(ctx.codingPath)): expected \(type)"
        case .valueNotFound(let type, let ctx): return "\(path(ctx.codingPath)): expected \(type), found null"
        case .dataCorrupted(let ctx): return "\(path(ctx.codingPath)): \(ctx.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
