import TandemCore
/// Typed access to the fields of a JSON object that names the field in every error
/// (`messages[2].content must be a string or an array, got a number`).
///
/// Absent fields and explicit `null`s read as nil, as OpenAI treats them.
struct FieldReader {
    let object: JSONValue
    /// Path of this object in the request ("" for the body, "messages[0]" for a message).
    let path: String

    init(_ object: JSONValue, path: String = "") {
        self.object = object
        self.path = path
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func value(_ key: String) -> JSONValue? {
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    func typeError(_ key: String, expected: String, got value: JSONValue) -> APIError {
        .invalidField(name(key), "'\(name(key))' must be \(expected), got \(value.typeName).", code: "invalid_type")
    }

    func string(_ key: String) throws(APIError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw typeError(key, expected: "a string", got: v) }
        return s
    }

    func bool(_ key: String) throws(APIError) -> Bool? {
        guard let v = value(key) else { return nil }
        guard case .bool(let b) = v else { throw typeError(key, expected: "a boolean", got: v) }
        return b
    }

    func number(_ key: String, in range: ClosedRange<Double>) throws(APIError) -> Double? {
        guard let v = value(key) else { return nil }
        guard let d = v.doubleValue else { throw typeError(key, expected: "a number", got: v) }
        guard range.contains(d) else {
            throw .invalidField(name(key), "'\(name(key))' must be between \(format(range.lowerBound)) and \(format(range.upperBound)), got \(format(d)).")
        }
        return d
    }

    func integer(_ key: String, in range: ClosedRange<Int64>) throws(APIError) -> Int64? {
        guard let v = value(key) else { return nil }
        guard let i = v.intValue else {
            if v.doubleValue != nil {
                throw .invalidField(name(key), "'\(name(key))' must be an integer.", code: "invalid_type")
            }
            throw typeError(key, expected: "an integer", got: v)
        }
        guard range.contains(i) else {
            throw .invalidField(name(key), "'\(name(key))' must be between \(range.lowerBound) and \(range.upperBound), got \(i).")
        }
        return i
    }

    func object(_ key: String) throws(APIError) -> FieldReader? {
        guard let v = value(key) else { return nil }
        guard case .object = v else { throw typeError(key, expected: "an object", got: v) }
        return FieldReader(v, path: name(key))
    }

    func array(_ key: String) throws(APIError) -> [JSONValue]? {
        guard let v = value(key) else { return nil }
        guard case .array(let items) = v else { throw typeError(key, expected: "an array", got: v) }
        return items
    }

    private func format(_ d: Double) -> String {
        d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }
}
