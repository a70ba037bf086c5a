import Foundation
import TandemGatewayConfig
import Yams

/// Sections of a topology that are another component's own configuration type (the gateway's
/// `LimitsConfiguration`, `TenantConfiguration`, `RoutingConfiguration`, ...) are decoded into
/// that type with its `Codable` conformance, not re-declared: the keys allowed are the type's
/// coding keys, and a wrong type or a missing key is reported at its line like every other
/// topology problem.
extension MappingReader {
    /// The nested mapping `key` decoded as `T`, after checking its keys against `T.fieldNames`
    /// and its values with `T`'s own range checks. nil (after reporting) on any problem.
    func section<T: GatewayConfigSection>(_ key: String, as type: T.Type) -> T? {
        guard let node = self[key], let m = MappingReader(node, path: fieldPath(key), sink: sink) else { return nil }
        m.allow(T.fieldNames)
        guard let value: T = m.decode(node) else { return nil }
        let problems = value.problems
        for p in problems { sink.error(m.location(p.field), "\(m.fieldPath(p.field)): \(p.message)") }
        return problems.isEmpty ? value : nil
    }

    /// This mapping's node decoded as `T` (Yams' decoder on the node written back as YAML);
    /// decoding errors are reported at the field they name.
    func decode<T: Decodable>(_ node: Node) -> T? {
        do {
            return try YAMLDecoder().decode(T.self, from: try Yams.serialize(node: node))
        } catch let error as DecodingError {
            report(error)
        } catch {
            sink.error(at, "\(path): \(error)")
        }
        return nil
    }

    private func report(_ error: DecodingError) {
        func place(_ codingPath: [any CodingKey]) -> String {
            codingPath.reduce(path) { p, k in k.intValue.map { "\(p)[\($0)]" } ?? join(p, k.stringValue) }
        }
        func at(_ field: String) -> SourceLocation {
            var p = field
            while !p.isEmpty {
                if let l = sink.locations[p] { return l }
                guard let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
                p = String(p[..<cut])
            }
            return self.at
        }
        switch error {
        case .typeMismatch(let type, let c), .valueNotFound(let type, let c):
            let field = place(c.codingPath)
            sink.error(at(field), "\(field): expected \(Self.describe(type))")
        case .keyNotFound(let key, let c):
            let parent = place(c.codingPath)
            sink.error(at(parent), "\(parent): missing required key '\(key.stringValue)'")
        case .dataCorrupted(let c):
            let field = place(c.codingPath)
            sink.error(at(field), "\(field): \(c.debugDescription)")
        @unknown default:
            sink.error(self.at, "\(path): \(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is Bool.Type: "true or false"
        case is String.Type: "a string"
        case is [String].Type: "a list of strings"
        default: "a value of type \(type)"
        }
    }
}
