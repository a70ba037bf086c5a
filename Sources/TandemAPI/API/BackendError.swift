/// Why a backend could not answer, in categories the API maps to HTTP statuses
/// (see `APIError.init(_: BackendError)`).
///
/// A struct over an open set of categories so new ones can be added without breaking `switch`es.
public struct BackendError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in terms a client can act on.
    public struct Category: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The backend is full (queue, KV cache or upstream 429/503): retry later → 503.
        public static let overCapacity = Category(rawValue: "over_capacity")
        /// The prompt does not fit the model's context → 413.
        public static let contextTooLong = Category(rawValue: "context_too_long")
        /// No answer in time (deadline, read timeout, upstream 504) → 504.
        public static let timeout = Category(rawValue: "timeout")
        /// The backend cannot be reached or is down → 503, and the router may try another replica.
        public static let upstreamUnavailable = Category(rawValue: "upstream_unavailable")
        /// The backend refused the request as invalid (an upstream 400) → 400.
        public static let invalidRequest = Category(rawValue: "invalid_request")
        /// Anything else → 500.
        public static let `internal` = Category(rawValue: "internal")
    }

    public var category: Category
    public var message: String
    /// The request field at fault, when the backend knows it.
    public var param: String?
    /// Suggested wait before retrying, in seconds.
    public var retryAfterSeconds: Int?

    public init(_ category: Category, _ message: String, param: String? = nil, retryAfterSeconds: Int? = nil) {
        self.category = category
        self.message = message
        self.param = param
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(category): \(message)" }

    /// Whether nothing was produced and another replica could be tried (connection refused, upstream down).
    public var isRetryableElsewhere: Bool { category == .upstreamUnavailable }
}
