import Crypto
import Foundation

/// The API keys file: SHA-256 hashes of keys, the tenant each belongs to and, optionally, when it
/// expires. Keys themselves are never stored: `tandem keys add` makes a key, prints it once and
/// writes its hash here (`tandem gateway --hash-key KEY` prints the hash of a key made elsewhere).
///
/// ```json
/// {"keys": [{"id": "acme-laptop", "tenant": "acme", "sha256": "9f86d081884c7d65...",
///            "expires": "2027-01-31T00:00:00Z"}]}
/// ```
public struct KeysFile: Codable, Sendable, Equatable {
    public var keys: [APIKeyEntry]

    public init(keys: [APIKeyEntry]) {
        self.keys = keys
    }
}

/// One API key of the keys file, by hash.
public struct APIKeyEntry: Codable, Sendable, Equatable {
    /// A name for logs (never the key).
    public var id: String?
    public var tenant: String
    /// Lower-case hex SHA-256 of the key's UTF-8 bytes.
    public var sha256: String
    /// When the key stops being accepted (ISO 8601, e.g. `2027-01-31` or `2027-01-31T12:00:00Z`,
    /// UTC when no zone is given); nil: never.
    public var expires: String?

    public init(id: String? = nil, tenant: String, sha256: String, expires: String? = nil) {
        self.id = id
        self.tenant = tenant
        self.sha256 = sha256
        self.expires = expires
    }

    /// `expires` as a date; nil when there is none or it cannot be read (validation says which).
    public var expiryDate: Date? { expires.flatMap(APIKeyEntry.parseDate) }

    /// An ISO 8601 date (`2027-01-31`, midnight UTC) or date and time (`…T12:00:00Z`, `…+02:00`).
    public static func parseDate(_ text: String) -> Date? {
        let full = ISO8601DateFormatter()
        if let d = full.date(from: text) { return d }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        day.timeZone = TimeZone(identifier: "UTC")
        return day.date(from: text)
    }
}

/// Hashing of API keys.
public enum APIKeyHash {
    /// Lower-case hex SHA-256 of `key`.
    public static func hex(_ key: String) -> String {
        SHA256.hash(data: Array(key.utf8)).map { byte in
            let s = String(byte, radix: 16)
            return byte < 16 ? "0" + s : s
        }.joined()
    }
}

/// The API keys shipped in the repository's examples (`gateway/keys.example.json`): their text is
/// public, so a gateway reachable from other hosts must not accept them.
public enum DemoKeys {
    /// SHA-256 of each shipped key, with a name for messages.
    public static let hashes: [String: String] = [
        APIKeyHash.hex("sk-demo-change-me"): "sk-demo-change-me",
        APIKeyHash.hex("sk-trial-change-me"): "sk-trial-change-me",
    ]

    /// The shipped keys that `keys` accepts, sorted.
    public static func present(in keys: KeysFile) -> [String] {
        Set(keys.keys.compactMap { hashes[$0.sha256.lowercased()] }).sorted()
    }
}
