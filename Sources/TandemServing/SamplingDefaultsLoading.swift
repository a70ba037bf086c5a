import Foundation
import TandemCore

/// A problem with a sampling-defaults declaration (`--sampling-defaults`, topology `defaults:`).
public struct SamplingDefaultsError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension SamplingDefaults {
    /// A JSON object with any of `temperature`, `top_p`, `top_k`, `min_p`, `repetition_penalty`
    /// (what `--sampling-defaults` takes). Other keys, wrong types and out-of-range values are refused.
    public static func parse(json text: String) throws(SamplingDefaultsError) -> SamplingDefaults {
        guard let object = try? JSONDecoder().decode([String: JSONScalar].self, from: Data(text.utf8)) else {
            throw SamplingDefaultsError("sampling defaults must be a JSON object, got '\(text)'")
        }
        if let unknown = object.keys.filter({ !keys.contains($0) }).sorted().first {
            throw SamplingDefaultsError("sampling defaults: unknown key '\(unknown)' (known: \(keys.joined(separator: ", ")))")
        }
        let (defaults, problems) = read(object)
        if let first = problems.first { throw SamplingDefaultsError("sampling defaults: \(first)") }
        return defaults
    }

    /// The sampling fields of a Hugging Face `generation_config.json` beside a safetensors
    /// checkpoint (`modelPath` is its directory or one of its `.safetensors` files), as vLLM's
    /// `--generation-config auto` reads them; nil when there is none. Fields outside the ranges a
    /// request may use are left out and reported in `ignored`.
    public static func generationConfig(nextTo modelPath: String) throws -> (defaults: SamplingDefaults, ignored: [String], path: String)? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelPath, isDirectory: &isDirectory) else { return nil }
        let directory: String
        if isDirectory.boolValue {
            directory = modelPath
        } else if modelPath.hasSuffix(".safetensors") {
            directory = (modelPath as NSString).deletingLastPathComponent
        } else {
            return nil
        }
        let path = (directory as NSString).appendingPathComponent("generation_config.json")
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let object = try? JSONDecoder().decode([String: JSONScalar].self, from: data) else {
            throw SamplingDefaultsError("\(path): not a JSON object")
        }
        let (defaults, problems) = read(object)
        return (defaults, problems, path)
    }

    /// The known keys of `object`, and a message per value of the wrong type or out of range
    /// (that field then stays nil).
    static func read(_ object: [String: JSONScalar]) -> (SamplingDefaults, [String]) {
        var d = SamplingDefaults()
        var problems: [String] = []
        func number(_ key: String) -> Double? {
            guard let v = object[key], v != .null else { return nil }
            if case .number(let n) = v, n.isFinite { return n }
            problems.append("'\(key)' must be a number")
            return nil
        }
        d.temperature = number("temperature").map(Float.init)
        d.topP = number("top_p").map(Float.init)
        if let k = number("top_k") {
            if k.rounded() == k, abs(k) < 1e9 { d.topK = Int(k) } else { problems.append("'top_k' must be an integer") }
        }
        d.minP = number("min_p").map(Float.init)
        d.repetitionPenalty = number("repetition_penalty").map(Float.init)
        // Drop each out-of-range field on its own, with its message.
        let fields: [(WritableKeyPath<SamplingDefaults, Float?>?, WritableKeyPath<SamplingDefaults, Int?>?)] =
            [(\.temperature, nil), (\.topP, nil), (nil, \.topK), (\.minP, nil), (\.repetitionPenalty, nil)]
        for (floatPath, intPath) in fields {
            var alone = SamplingDefaults()
            if let floatPath { alone[keyPath: floatPath] = d[keyPath: floatPath] }
            if let intPath { alone[keyPath: intPath] = d[keyPath: intPath] }
            if let problem = alone.validationProblem() {
                problems.append(problem)
                if let floatPath { d[keyPath: floatPath] = nil }
                if let intPath { d[keyPath: intPath] = nil }
            }
        }
        return (d, problems)
    }

    /// One line for logs: `temperature 0.2, top_p 0.9, …`.
    public var summary: String {
        var parts: [String] = []
        if let v = temperature { parts.append("temperature \(v)") }
        if let v = topP { parts.append("top_p \(v)") }
        if let v = topK { parts.append("top_k \(v)") }
        if let v = minP { parts.append("min_p \(v)") }
        if let v = repetitionPenalty { parts.append("repetition_penalty \(v)") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}

/// A JSON value as far as sampling defaults care: a number, null, or something else.
enum JSONScalar: Decodable, Equatable {
    case number(Double)
    case null
    case other

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if (try? c.decode(Bool.self)) != nil { self = .other } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else {
            self = .other
        }
    }
}
