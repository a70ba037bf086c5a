import Yams

/// Reads one YAML mapping field by field, reporting every problem (unknown or duplicate keys,
/// wrong types, values out of range) with its place, and carrying on so that one run of
/// `tandem topology check` lists them all.
struct MappingReader {
    let path: String
    let sink: DiagnosticSink
    let at: SourceLocation
    private(set) var entries: [(key: String, keyNode: Node, value: Node)] = []

    /// nil (after reporting) when `node` is not a mapping.
    init?(_ node: Node, path: String, sink: DiagnosticSink) {
        self.path = path
        self.sink = sink
        at = sink.location(node)
        guard case .mapping(let mapping) = node else {
            sink.error(at, "\(path): expected a mapping (key: value lines), found \(describe(node))")
            return nil
        }
        var seen: [String: SourceLocation] = [:]
        for (k, v) in mapping {
            let key = k.string ?? ""
            if let first = seen[key] {
                sink.error(sink.location(k), "\(join(path, key)): duplicate key (first at line \(first.line))")
                continue
            }
            seen[key] = sink.location(k)
            entries.append((key, k, v))
            sink.locations[join(path, key)] = sink.location(v)
            if case .sequence(let seq) = v {
                for (i, item) in seq.enumerated() { sink.locations["\(join(path, key))[\(i)]"] = sink.location(item) }
            }
        }
    }

    /// Reports every key not in `allowed`.
    func allow(_ allowed: [String]) {
        for e in entries where !allowed.contains(e.key) {
            sink.error(sink.location(e.keyNode),
                       "unknown key '\(e.key)' in \(path.isEmpty ? "the top level" : path); allowed: \(allowed.joined(separator: ", "))")
        }
    }

    subscript(_ key: String) -> Node? { entries.first { $0.key == key }?.value }

    func location(_ key: String) -> SourceLocation { self[key].map(sink.location) ?? at }

    func fieldPath(_ key: String) -> String { join(path, key) }

    func required(_ key: String) -> Node? {
        guard let n = self[key] else {
            sink.error(at, "\(path.isEmpty ? "the file" : path): missing required key '\(key)'")
            return nil
        }
        return n
    }

    func string(_ key: String, required isRequired: Bool = false) -> String? {
        guard let n = isRequired ? required(key) : self[key] else { return nil }
        guard case .scalar(let s) = n, !isNull(n) else {
            sink.error(sink.location(n), "\(fieldPath(key)): expected a string, found \(describe(n))")
            return nil
        }
        if isRequired && s.string.isEmpty {
            sink.error(sink.location(n), "\(fieldPath(key)): must not be empty")
            return nil
        }
        return s.string
    }

    func int(_ key: String, required isRequired: Bool = false, in range: ClosedRange<Int>) -> Int? {
        guard let n = isRequired ? required(key) : self[key] else { return nil }
        guard case .scalar(let s) = n, s.style == .plain, let v = Int(s.string.replacingOccurrences(of: "_", with: "")) else {
            sink.error(sink.location(n), "\(fieldPath(key)): expected an integer in \(range.lowerBound)...\(range.upperBound), found \(describe(n))")
            return nil
        }
        guard range.contains(v) else {
            sink.error(sink.location(n), "\(fieldPath(key)): \(v) is out of range; allowed: \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return v
    }

    func double(_ key: String, required isRequired: Bool = false, min: Double = 0) -> Double? {
        guard let n = isRequired ? required(key) : self[key] else { return nil }
        guard case .scalar(let s) = n, s.style == .plain, let v = Double(s.string), v.isFinite else {
            sink.error(sink.location(n), "\(fieldPath(key)): expected a number ≥ \(min), found \(describe(n))")
            return nil
        }
        guard v >= min else {
            sink.error(sink.location(n), "\(fieldPath(key)): \(v) is out of range; allowed: a number ≥ \(min)")
            return nil
        }
        return v
    }

    /// A scalar's text and place (any plain or quoted scalar); an error for anything else.
    func scalar(_ key: String) -> (String, SourceLocation)? {
        guard let n = self[key] else { return nil }
        guard case .scalar(let s) = n, !isNull(n) else {
            sink.error(sink.location(n), "\(fieldPath(key)): expected a single value, found \(describe(n))")
            return nil
        }
        return (s.string, sink.location(n))
    }

    func bool(_ key: String) -> Bool? {
        guard let n = self[key] else { return nil }
        if case .scalar(let s) = n, s.style == .plain {
            switch s.string.lowercased() {
            case "true", "yes", "on": return true
            case "false", "no", "off": return false
            default: break
            }
        }
        sink.error(sink.location(n), "\(fieldPath(key)): expected true or false, found \(describe(n))")
        return nil
    }

    /// One of `allowed` (case-sensitive).
    func choice(_ key: String, _ allowed: [String], required isRequired: Bool = false) -> String? {
        guard let n = isRequired ? required(key) : self[key] else { return nil }
        guard case .scalar(let s) = n, !isNull(n) else {
            sink.error(sink.location(n), "\(fieldPath(key)): expected one of \(allowed.joined(separator: ", ")), found \(describe(n))")
            return nil
        }
        guard allowed.contains(s.string) else {
            sink.error(sink.location(n), "\(fieldPath(key)): '\(s.string)' is not allowed; allowed: \(allowed.joined(separator: ", "))")
            return nil
        }
        return s.string
    }

    /// A list of strings (a single string is not accepted: lists are lists).
    func strings(_ key: String) -> [(String, SourceLocation)]? {
        guard let n = self[key] else { return nil }
        guard case .sequence(let seq) = n else {
            sink.error(sink.location(n), "\(fieldPath(key)): expected a list of strings, found \(describe(n))")
            return nil
        }
        var out: [(String, SourceLocation)] = []
        for (i, item) in seq.enumerated() {
            guard case .scalar(let s) = item, !isNull(item) else {
                sink.error(sink.location(item), "\(fieldPath(key))[\(i)]: expected a string, found \(describe(item))")
                continue
            }
            out.append((s.string, sink.location(item)))
        }
        return out
    }

    /// A nested mapping.
    func mapping(_ key: String, required isRequired: Bool = false) -> MappingReader? {
        guard let n = isRequired ? required(key) : self[key] else { return nil }
        return MappingReader(n, path: fieldPath(key), sink: sink)
    }

    /// A list of mappings, each read by `read` with its index.
    func list(_ key: String, required isRequired: Bool = false) -> [(Int, Node)]? {
        guard let n = isRequired ? required(key) : self[key] else { return nil }
        guard case .sequence(let seq) = n else {
            sink.error(sink.location(n), "\(fieldPath(key)): expected a list (lines starting with '- '), found \(describe(n))")
            return nil
        }
        return Array(seq.enumerated())
    }
}

func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

func isNull(_ node: Node) -> Bool {
    if case .scalar(let s) = node, s.style == .plain, ["", "~", "null", "Null", "NULL"].contains(s.string) { return true }
    return false
}

/// What a node is, for messages: "a list", "a mapping", "the string 'abc'", "the number 3", "nothing".
func describe(_ node: Node) -> String {
    switch node {
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .scalar(let s):
        if isNull(node) { return "nothing (null)" }
        if s.style == .plain {
            if Int(s.string) != nil || Double(s.string) != nil { return "the number \(s.string)" }
            if ["true", "false", "yes", "no"].contains(s.string.lowercased()) { return "the boolean \(s.string)" }
        }
        return "the string '\(s.string)'"
    }
}

extension DiagnosticSink {
    func location(_ node: Node) -> SourceLocation {
        guard let m = node.mark else { return SourceLocation(file: file, line: 1, column: 1) }
        return SourceLocation(file: file, line: m.line, column: m.column)
    }
}
