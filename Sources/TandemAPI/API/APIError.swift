import TandemCore
/// An error as the client sees it: an HTTP status and OpenAI's
/// `{"error": {"message", "type", "param", "code"}}` body.
///
/// Module errors (`BackendError`, validation problems, limits) are mapped to this only at the
/// HTTP edge.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var type: String
    public var code: String?
    public var param: String?
    public var message: String
    /// Seconds for the `Retry-After` header (429 and 503).
    public var retryAfterSeconds: Int?
    /// Extra response headers (for example the route that was tried).
    public var headers: [String: String] = [:]

    public init(status: Int, type: String, code: String?, param: String? = nil, message: String,
                retryAfterSeconds: Int? = nil) {
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(status) \(code ?? type): \(message)" }

    /// The `{"error": {...}}` document.
    public var body: JSONValue {
        .object([("error", .object([
            ("message", .string(message)),
            ("type", .string(type)),
            ("param", param.map(JSONValue.string) ?? .null),
            ("code", code.map(JSONValue.string) ?? .null),
        ]))])
    }
}

extension APIError {
    /// 400: the body is not JSON.
    public static func invalidJSON(_ detail: String) -> APIError {
        APIError(status: 400, type: "invalid_request_error", code: "invalid_json", message: "The request body is not valid JSON: \(detail)")
    }

    /// 400: a field is missing, of the wrong type or out of range.
    public static func invalidField(_ param: String, _ message: String, code: String = "invalid_value") -> APIError {
        APIError(status: 400, type: "invalid_request_error", code: code, param: param, message: message)
    }

    /// 401: no key, or a key the gateway does not know.
    public static func invalidAPIKey(_ message: String = "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.") -> APIError {
        APIError(status: 401, type: "authentication_error", code: "invalid_api_key", message: message)
    }

    /// 403: the tenant may not use this model.
    public static func modelNotAllowed(_ model: String) -> APIError {
        APIError(status: 403, type: "permission_error", code: "model_not_allowed", param: "model",
                 message: "Your API key is not allowed to use the model '\(model)'.")
    }

    /// 404: no such model (or alias).
    public static func modelNotFound(_ model: String) -> APIError {
        APIError(status: 404, type: "invalid_request_error", code: "model_not_found", param: "model",
                 message: "The model '\(model)' does not exist.")
    }

    /// 404: no such endpoint.
    public static func notFound(_ path: String) -> APIError {
        APIError(status: 404, type: "invalid_request_error", code: "unknown_url", message: "Unknown request URL: \(path).")
    }

    /// 405: the endpoint exists but not for this method.
    public static func methodNotAllowed(_ method: String, _ path: String) -> APIError {
        APIError(status: 405, type: "invalid_request_error", code: "method_not_allowed", message: "Method \(method) is not allowed on \(path).")
    }

    /// 413: the request body is larger than the server accepts.
    public static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: 413, type: "invalid_request_error", code: "request_too_large",
                 message: "The request body is larger than \(limit) bytes.")
    }

    /// 415: the body is not sent as JSON.
    public static func unsupportedMediaType(_ contentType: String) -> APIError {
        APIError(status: 415, type: "invalid_request_error", code: "unsupported_media_type",
                 message: "Content-Type '\(contentType.prefix(100))' is not supported; send the body as application/json.")
    }

    /// 413: the prompt does not fit the model.
    public static func promptTooLarge(_ message: String, param: String) -> APIError {
        APIError(status: 413, type: "invalid_request_error", code: "context_length_exceeded", param: param, message: message)
    }

    /// 429: a tenant limit was hit.
    public static func rateLimited(_ message: String, code: String = "rate_limit_exceeded", retryAfterSeconds: Int) -> APIError {
        APIError(status: 429, type: "rate_limit_error", code: code, message: message, retryAfterSeconds: max(1, retryAfterSeconds))
    }

    /// 503: the model cannot take the request now.
    public static func unavailable(_ message: String, code: String = "model_unavailable", retryAfterSeconds: Int = 5) -> APIError {
        APIError(status: 503, type: "service_unavailable_error", code: code, message: message, retryAfterSeconds: max(1, retryAfterSeconds))
    }

    /// 504: no answer before the deadline.
    public static func timeout(_ message: String) -> APIError {
        APIError(status: 504, type: "timeout_error", code: "upstream_timeout", message: message)
    }

    /// 500.
    public static func `internal`(_ message: String, code: String = "internal_error", param: String? = nil) -> APIError {
        APIError(status: 500, type: "server_error", code: code, param: param, message: message)
    }

    /// Maps a backend failure to what the client sees.
    public init(_ error: BackendError) {
        switch error.category {
        case .overCapacity:
            self = .unavailable(error.message, code: "over_capacity", retryAfterSeconds: error.retryAfterSeconds ?? 2)
        case .contextTooLong:
            self = .promptTooLarge(error.message, param: error.param ?? "messages")
        case .timeout:
            self = .timeout(error.message)
        case .upstreamUnavailable:
            self = .unavailable(error.message, retryAfterSeconds: error.retryAfterSeconds ?? 5)
        case .invalidRequest:
            self = .invalidField(error.param ?? "", error.message)
            if error.param == nil { self.param = nil }
        default:
            self = .internal(error.message)
        }
    }

    /// Maps any error thrown while answering: API errors pass through, backend errors are mapped,
    /// cancellation and the rest become 500 (a cancelled request has no client left to read it).
    public init(any error: any Error) {
        switch error {
        case let e as APIError: self = e
        case let e as BackendError: self.init(e)
        default: self = .internal("Internal error: \(error)")
        }
    }
}
