import Foundation
import TandemCore

/// A string together with where each part came from: the template's own text, or the data the
/// template was given (a conversation's contents, tool descriptions). A chat prompt parses special
/// tokens only in template text, so a client's message can never forge one.
public struct JinjaString: Sendable, Equatable {
    public struct Part: Sendable, Equatable {
        public var text: String
        public var isData: Bool
    }

    public private(set) var parts: [Part]
    /// Markup (`|safe`, `|escape`): adding a plain string to it escapes that string, as
    /// MarkupSafe's `Markup.__add__` does.
    var isMarkup = false

    public init(_ text: String, isData: Bool = false) {
        parts = text.isEmpty ? [] : [Part(text: text, isData: isData)]
    }

    init(parts: [Part]) {
        self.parts = []
        for p in parts { append(p) }
    }

    mutating func append(_ p: Part) {
        guard !p.text.isEmpty else { return }
        if let last = parts.last, last.isData == p.isData {
            parts[parts.count - 1].text += p.text
        } else {
            parts.append(p)
        }
    }

    public var text: String { parts.count == 1 ? parts[0].text : parts.map(\.text).joined() }
    /// Data when every part is data (a transformation of the whole keeps that origin).
    var isData: Bool { !parts.isEmpty && parts.allSatisfy(\.isData) }

    static func + (a: JinjaString, b: JinjaString) -> JinjaString {
        var r = a
        for p in b.parts { r.append(p) }
        return r
    }

    /// `f` applied to the whole text; the result is data if all of the input was.
    func mapped(_ f: (String) -> String) -> JinjaString { JinjaString(f(text), isData: isData) }

    /// Python's `strip`/`lstrip`/`rstrip`, part by part so template and data stay apart.
    func stripped(leading: Bool, trailing: Bool, in set: ((Unicode.Scalar) -> Bool)) -> JinjaString {
        var ps = parts
        if leading {
            while let first = ps.first {
                let s = first.text.unicodeScalars
                if let i = s.firstIndex(where: { !set($0) }) {
                    ps[0].text = String(s[i...])
                    break
                }
                ps.removeFirst()
            }
        }
        if trailing {
            while let last = ps.last {
                let s = last.text.unicodeScalars
                if let i = s.lastIndex(where: { !set($0) }) {
                    ps[ps.count - 1].text = String(s[...i])
                    break
                }
                ps.removeLast()
            }
        }
        return JinjaString(parts: ps)
    }
}

/// Python's `str.isspace` set (Unicode White_Space plus the information separators \x1c–\x1f).
func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
    c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
}

/// A namespace object (`namespace(...)`): the one mutable value a template can assign into
/// from inside a loop.
final class JinjaNamespace {
    var values: JinjaDict
    init(_ values: JinjaDict) { self.values = values }
}

/// A dictionary in insertion order (Python's dict order) with string or integer keys; an
/// integer key is stored as its decimal text and remembered as an integer.
struct JinjaDict {
    private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]
    private var intKeys: Set<String> = []

    init() {}
    init(_ pairs: [(String, JinjaValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    /// The value under a string key.
    subscript(key: String) -> JinjaValue? {
        get { intKeys.contains(key) ? nil : storage[key] }
        set { set(key, isInt: false, newValue) }
    }

    /// The value under an integer key.
    subscript(int key: Int) -> JinjaValue? {
        get { intKeys.contains(String(key)) ? storage[String(key)] : nil }
        set { set(String(key), isInt: true, newValue) }
    }

    private mutating func set(_ key: String, isInt: Bool, _ newValue: JinjaValue?) {
        if let newValue {
            if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            if isInt { intKeys.insert(key) } else { intKeys.remove(key) }
        } else if storage.removeValue(forKey: key) != nil {
            keys.removeAll { $0 == key }
            intKeys.remove(key)
        }
    }

    /// A key as a template value (strings from a dictionary count as data).
    func keyValue(_ k: String) -> JinjaValue { intKeys.contains(k) ? .int(Int(k)!) : .str(k, data: true) }
    func keyRepr(_ k: String) -> String { intKeys.contains(k) ? k : pythonStringRepr(k) }
    func value(_ k: String) -> JinjaValue { storage[k]! }

    var count: Int { keys.count }
    var pairs: [(String, JinjaValue)] { keys.map { ($0, storage[$0]!) } }
    /// (key as a value, value) pairs, as `items()` gives them.
    var items: [JinjaValue] { keys.map { .tuple([keyValue($0), storage[$0]!]) } }
}

/// A function a template can call: a macro, a global (`range`, `namespace`, `raise_exception`),
/// a bound method (`'a b'.split`) or `loop.cycle`.
struct JinjaCallable {
    var name: String
    var call: ([JinjaValue], [(String, JinjaValue)]) throws -> JinjaValue
}

/// A run-time value, with Python's semantics where templates rely on them.
enum JinjaValue {
    /// A name or key that is not there (printing it gives "", using it further is an error).
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(JinjaString)
    case list([JinjaValue])
    /// A Python tuple (`items()` pairs, `(a, b)` in a template): a list that prints as `(a, b)`.
    case tuple([JinjaValue])
    /// What `map`, `select`, `selectattr`, `unique` and the like give: a Python generator. It
    /// iterates like a list, but is always true, has no length and is not JSON.
    case generator([JinjaValue])
    case dict(JinjaDict)
    case namespace(JinjaNamespace)
    case callable(JinjaCallable)

    static func str(_ s: String, data: Bool = false) -> JinjaValue { .string(JinjaString(s, isData: data)) }

    /// A JSON value as template data; its strings are data (never parsed as special tokens)
    /// unless `asTemplate`.
    init(json: JSONValue, asTemplate: Bool = false) {
        switch json {
        case .null: self = .none
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(Int(i))
        case .double(let d): self = .double(d)
        case .string(let s): self = .str(s, data: !asTemplate)
        case .array(let a): self = .list(a.map { JinjaValue(json: $0, asTemplate: asTemplate) })
        case .object(let o): self = .dict(JinjaDict(o.map { ($0.0, JinjaValue(json: $0.1, asTemplate: asTemplate)) }))
        }
    }

    /// The items of a list or tuple.
    var sequence: [JinjaValue]? {
        switch self {
        case .list(let l), .tuple(let l): l
        default: nil
        }
    }

    var isUndefined: Bool { if case .undefined = self { true } else { false } }

    var typeName: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .double: "float"
        case .string: "str"
        case .list: "list"
        case .tuple: "tuple"
        case .generator: "generator"
        case .dict: "dict"
        case .namespace: "Namespace"
        case .callable: "function"
        }
    }

    /// Python truthiness (an undefined value is false).
    var truthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .string(let s): !s.text.isEmpty
        case .list(let l), .tuple(let l): !l.isEmpty
        case .dict(let d): d.count > 0
        case .namespace, .callable, .generator: true
        }
    }

    /// A number as a Double (bools count, as in Python).
    var number: Double? {
        switch self {
        case .bool(let b): b ? 1 : 0
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    var integer: Int? {
        switch self {
        case .bool(let b): b ? 1 : 0
        case .int(let i): i
        default: nil
        }
    }

    /// `str(value)` as the template prints it (an undefined value prints as nothing).
    var printed: JinjaString {
        switch self {
        case .undefined: JinjaString("")
        case .string(let s): s
        default: JinjaString(repr(top: true))
        }
    }

    /// Python's `repr` (and `str` for everything but strings when `top`).
    func repr(top: Bool = false) -> String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return pythonFloat(d)
        case .string(let s): return top ? s.text : pythonStringRepr(s.text)
        case .list(let l): return "[" + l.map { $0.repr() }.joined(separator: ", ") + "]"
        case .tuple(let l): return "(" + l.map { $0.repr() }.joined(separator: ", ") + (l.count == 1 ? ",)" : ")")
        case .generator: return "<generator object>"
        case .dict(let d): return "{" + d.pairs.map { "\(d.keyRepr($0.0)): \($0.1.repr())" }.joined(separator: ", ") + "}"
        case .namespace(let n): return "<Namespace " + JinjaValue.dict(n.values).repr() + ">"
        case .callable(let c): return "<function \(c.name)>"
        }
    }
}

/// Python's `repr(float)`: the shortest text that reads back, with Python's exponent form.
func pythonFloat(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    if d == d.rounded(), abs(d) < 1e16 { return String(format: "%.1f", d) }
    var s = "\(d)"
    // Swift writes 1e-05 as "1e-05" and 1e+20 as "1e+20", as Python does.
    if let e = s.firstIndex(of: "e") {
        let mantissa = s[..<e]
        var exponent = String(s[s.index(after: e)...])
        let sign = exponent.hasPrefix("-") ? "-" : "+"
        exponent = String(exponent.drop(while: { $0 == "+" || $0 == "-" }))
        if exponent.count < 2 { exponent = "0" + exponent }
        s = "\(mantissa)e\(sign)\(exponent)"
    }
    return s
}

/// Python's `repr(str)`.
func pythonStringRepr(_ s: String) -> String {
    let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
    var out = String(quote)
    for c in s.unicodeScalars {
        switch c {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if Character(c) == quote {
                out += "\\" + String(c)
            } else if c.value < 0x20 || c.value == 0x7F {
                out += String(format: "\\x%02x", c.value)
            } else {
                out.unicodeScalars.append(c)
            }
        }
    }
    out.append(quote)
    return out
}

extension JinjaValue {
    /// Python's `==`.
    func equals(_ other: JinjaValue) -> Bool {
        switch (self, other) {
        case (.undefined, .undefined), (.none, .none): return true
        case let (.string(a), .string(b)): return a.text == b.text
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)): return a.count == b.count && zip(a, b).allSatisfy { $0.equals($1) }
        case let (.dict(a), .dict(b)):
            return a.count == b.count && a.keys.allSatisfy { k in b.keys.contains(k) && a.value(k).equals(b.value(k)) }
        case let (.namespace(a), .namespace(b)): return a === b
        default:
            if let x = number, let y = other.number { return x == y }
            return false
        }
    }

    /// Python's ordering for numbers, strings and lists.
    func compare(_ other: JinjaValue) throws -> Int {
        switch (self, other) {
        case let (.string(a), .string(b)):
            let x = Array(a.text.unicodeScalars.map(\.value)), y = Array(b.text.unicodeScalars.map(\.value))
            return x.lexicographicallyPrecedes(y) ? -1 : (x == y ? 0 : 1)
        case let (.list(a), .list(b)), let (.tuple(a), .tuple(b)):
            for (x, y) in zip(a, b) {
                let c = try x.compare(y)
                if c != 0 { return c }
            }
            return a.count < b.count ? -1 : (a.count == b.count ? 0 : 1)
        default:
            if let x = number, let y = other.number { return x < y ? -1 : (x == y ? 0 : 1) }
            throw JinjaError("'<' not supported between instances of '\(typeName)' and '\(other.typeName)'")
        }
    }
}

/// A template that cannot be read or that failed while rendering (`raise_exception` included).
public struct JinjaError: Error, Sendable, CustomStringConvertible {
    public var message: String
    /// 1-based line in the template, where known.
    public var line: Int?

    public init(_ message: String, line: Int? = nil) {
        self.message = message
        self.line = line
    }

    public var description: String { line.map { "line \($0): \(message)" } ?? message }
}
