import Crypto
import Foundation
import TandemAPI

/// Making keys and deriving cache salts from them: what `tandem up` and the gateway do with the
/// secrets of `InternalKey` (checking a key is `TandemAPI`'s, so coordinators link no crypto).
extension InternalKey {
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

    /// The default cache salt of `tenant`: hex HMAC-SHA256(`key`, tenant), first 32 digits.
    public static func salt(tenant: String, key: [UInt8]) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(("tandem-cache-salt\u{0}" + tenant).utf8),
                                                  using: SymmetricKey(data: key))
        return String(mac.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined().prefix(32))
    }
}
