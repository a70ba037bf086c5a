import Crypto
import Foundation

/// What `tandem keys` does to a keys file: make a key and store its hash, drop keys, list them.
/// The file is rewritten whole (a temporary file renamed over it, mode 0600), so a gateway
/// reloading it on SIGHUP reads either the old or the new list, never half of one.
extension KeysFile {
    public struct EditError: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// The keys file at `path`; an empty list when the file does not exist yet.
    public static func read(path: String) throws -> KeysFile {
        guard FileManager.default.fileExists(atPath: path) else { return KeysFile(keys: []) }
        do {
            return try JSONDecoder().decode(KeysFile.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw EditError("\(path): not a keys file ({\"keys\": [...]}): \(error)")
        }
    }

    /// Writes the file atomically with mode 0600 (it names tenants and hashes, not keys).
    public func write(path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(self) + Data("\n".utf8)
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw EditError("\(path): cannot write \(tmp)")
        }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw EditError("\(path): cannot replace the file: \(reason)")
        }
    }

    /// A new random key (`sk-tandem-` and 43 URL-safe base64 characters: 256 bits).
    public static func generateKey() -> String {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        let b64 = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return "sk-tandem-" + b64
    }

    /// Adds a new key for `tenant` and returns it (the only time it is shown). `id` must not be
    /// taken; `expires` must parse as an ISO 8601 date.
    public mutating func add(tenant: String, id: String?, expires: String?) throws -> String {
        guard !tenant.isEmpty else { throw EditError("the tenant must not be empty") }
        if let id, keys.contains(where: { $0.id == id }) { throw EditError("a key with id '\(id)' is already in the file; revoke it first or pick another id") }
        if let expires, APIKeyEntry.parseDate(expires) == nil {
            throw EditError("expires '\(expires)' is not an ISO 8601 date (2027-01-31) or date and time (2027-01-31T12:00:00Z)")
        }
        let key = Self.generateKey()
        keys.append(APIKeyEntry(id: id, tenant: tenant, sha256: APIKeyHash.hex(key), expires: expires))
        return key
    }

    /// Removes the keys with this id, or whose hash is this key's; returns how many went.
    public mutating func revoke(id: String? = nil, key: String? = nil) -> Int {
        let hash = key.map(APIKeyHash.hex)
        let before = keys.count
        keys.removeAll { k in (id != nil && k.id == id) || (hash != nil && k.sha256 == hash) }
        return before - keys.count
    }

    /// One line per key: id, tenant, expiry (and whether it has passed at `now`), hash prefix.
    public func listing(now: Date = Date()) -> String {
        guard !keys.isEmpty else { return "no keys\n" }
        return keys.map { k in
            let state: String
            if let e = k.expires {
                state = k.expiryDate.map { $0 <= now ? "expired \(e)" : "expires \(e)" } ?? "expires '\(e)' (unreadable)"
            } else {
                state = "no expiry"
            }
            return "\(k.id ?? "-")\t\(k.tenant)\t\(state)\tsha256 \(k.sha256.prefix(12))…"
        }.joined(separator: "\n") + "\n"
    }
}
