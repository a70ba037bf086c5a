import Foundation

/// Secrets shared inside one deployment (never with clients), kept in files of mode 0600:
///
/// * a coordinator's **internal key**: `tandem serve --internal-key-file PATH` requires it as
///   `Authorization: Bearer <key>` on `/v1/*`, `/metrics` and the details of `/ready`; the gateway
///   reads the same file (`deployments[].internal_key_file`) and sends it on every upstream call;
/// * the gateway's **salt key** (`salt_key_file`): the HMAC-SHA256 key of the default per-tenant
///   cache salts, so a salt cannot be derived from a tenant name.
///
/// What checking a key needs (reading the file, a constant-time compare) is here, so a coordinator
/// links no cryptography; making keys and deriving salts from them is the gateway's
/// (`TandemGateway`'s `InternalKey.generate()`, `create(at:)` and `salt(tenant:key:)`), and
/// `tandem up` generates both keys (32 random bytes, hex) in its run directory.
public enum InternalKey {
    /// Shortest key accepted from a file (16 bytes of entropy as hex).
    public static let minimumLength = 32

    /// The key in `path`: its first line, trimmed. Refuses a missing, short or group/world-readable file.
    public static func read(path: String) throws(InternalKeyError) -> String {
        let attributes: [FileAttributeKey: Any]
        let data: Data
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw InternalKeyError(path: path, problem: "cannot read the file: \(error.localizedDescription)")
        }
        if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
            throw InternalKeyError(path: path, problem: "the file is readable by others (mode \(String(mode, radix: 8))); chmod 600 it")
        }
        let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let key = line.trimmingCharacters(in: .whitespaces)
        guard key.count >= minimumLength else {
            throw InternalKeyError(path: path, problem: "the key must be at least \(minimumLength) characters (e.g. `openssl rand -hex 32`)")
        }
        return key
    }

    /// Whether `a` equals `b`, in time that depends on their lengths only (not on where they differ).
    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count) | (x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }

    /// Whether an `Authorization` header carries `key` as its bearer token (constant-time).
    public static func authorizes(_ authorization: String?, key: String) -> Bool {
        guard let presented = BearerToken.parse(authorization) else { return false }
        return constantTimeEquals(presented, key)
    }
}

/// A key file that cannot be used.
public struct InternalKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "\(path): \(problem)" }
}

/// The credential of an `Authorization: Bearer <token>` header: an API key at the gateway, the
/// internal key at a coordinator, the admin key on `/metrics`.
public enum BearerToken {
    /// The token of an `Authorization` header value (scheme case-insensitive, surrounding
    /// spaces and tabs dropped); nil for another scheme or an empty token.
    public static func parse(_ authorization: String?) -> String? {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        var token = parts[1]
        while let f = token.first, f == " " || f == "\t" { token.removeFirst() }
        while let l = token.last, l == " " || l == "\t" { token.removeLast() }
        return token.isEmpty ? nil : String(token)
    }
}
