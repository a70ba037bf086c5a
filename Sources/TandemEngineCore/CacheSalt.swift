/// What isolates one tenant's prefix cache from another's: folded into the hash of a sequence's
/// first block, so identical prompts under different salts share no block.
public struct CacheSalt: Hashable, Sendable, Codable {
    /// Per-tenant salt set by the gateway (from the API key), never by the client.
    public var tenant: String
    /// Optional per-request salt (OpenAI-style `cache_salt`), narrowing sharing further.
    public var request: String?

    public init(tenant: String, request: String? = nil) {
        self.tenant = tenant
        self.request = request
    }

    /// No isolation: for single-tenant deployments and tests.
    public static let shared = CacheSalt(tenant: "")

    /// The extra keys of a sequence's first block.
    public var extraKeys: [String] {
        var keys = ["tenant=" + tenant]
        if let request { keys.append("request=" + request) }
        return keys
    }
}
