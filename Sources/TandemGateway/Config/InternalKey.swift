import Crypto
import Foundation

/// Secrets shared inside one deployment (never with clients), kept in files of mode 0600:
///
/// * a coordinator's **internal key**: `tandem serve --internal-key-file PATH` requires it as
///   `Authorization: Bearer <key>` on `/v1/*`, `/metrics` and the details of `/ready`; the gateway
///   reads the same file (`deployments[].internal_key_file`) and sends it on every upstream call;
/// * the gateway's **salt key** (`salt_key_file`): the HMAC-SHA256 key of the default per-tenant
///   cache salts, so a salt cannot be derived from a tenant name.
///
/// `tandem up` generates both (32 random bytes, hex) in its run directory.
public enum InternalKey {
    /// Shortest key accepted from a file (16 bytes of entropy as hex).
    public static let minimumLength = 32

    /// A new random key: 32 bytes from the system's generator, as 64 lower-case hex digits.
    public static func generate() -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<32).map { _ in
            let b = UInt8.random(in: 0...255, using: &g)
            return (b < 16 ? "0" : "") + String(b, radix: 16)
        }.joined()
    }

    /// Writes a new key to `path` (created with mode 0600, replacing what was there) and returns it.
    @discardableResult
    public static func create(at path: String) throws -> String {
        let key = generate()
        if FileManager.default.fileExists(atPath: path) { try FileManager.default.removeItem(atPath: path) }
        guard FileManager.default.createFile(atPath: path, contents: Data((key + "\n").utf8),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw InternalKeyError(path: path, problem: "cannot create the file")
        }
        return key
    }

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
        guard let presented = APIKeyHash.bearerKey(authorization) else { return false }
        return constantTimeEquals(presented, key)
    }

    /// The default cache salt of `tenant`: hex HMAC-SHA256(`key`, tenant), first 32 digits.
    public static func salt(tenant: String, key: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(("tandem-cache-salt\u{0}" + tenant).utf8),
                                                  using: SymmetricKey(data: key))
        return String(mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined().prefix(32))
    }
}

/// A key file that cannot be used.
public struct InternalKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var problem: String

    public var description: String { "\(path): \(problem)" }
}
