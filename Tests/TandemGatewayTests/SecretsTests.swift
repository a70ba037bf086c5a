import Foundation
import Testing
import TandemAPI
@testable import TandemGateway

/// Making the deployment's secrets (internal keys, keyed cache salts) and refusing the shipped
/// demo keys: the gateway's side of `InternalKey` (checking a key is `TandemAPITests`').
@Suite struct SecretsTests {
    @Test func generateShouldMakeDistinctHexKeys() {
        let key = InternalKey.generate()
        #expect(key.count == 64 && key != InternalKey.generate())
        #expect(key.allSatisfy { $0.isHexDigit && !$0.isUppercase })
        #expect(InternalKey.authorizes("Bearer \(key)", key: key))
    }

    @Test func createShouldWriteAPrivateFileThatReadsBack() throws {
        let dir = NSTemporaryDirectory() + "tandem-key-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = try InternalKey.create(at: dir + "/k")
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/k")[.posixPermissions] as! NSNumber
        #expect(mode.intValue & 0o777 == 0o600)
        #expect(try InternalKey.read(path: dir + "/k") == key)
        // Replaces what was there.
        let second = try InternalKey.create(at: dir + "/k")
        #expect(second != key)
        #expect(try InternalKey.read(path: dir + "/k") == second)
    }

    @Test func saltShouldDependOnTheKey() {
        let a = InternalKey.salt(tenant: "demo", key: Array("k1".utf8))
        #expect(a == InternalKey.salt(tenant: "demo", key: Array("k1".utf8)))
        #expect(a != InternalKey.salt(tenant: "demo", key: Array("k2".utf8)))
        #expect(a != InternalKey.salt(tenant: "other", key: Array("k1".utf8)))
        #expect(a != String(APIKeyHash.hex("tandem-cache-salt\u{0}demo").prefix(32)))
    }

    @Test func demoKeysShouldBeRecognised() {
        let keys = KeysFile(keys: [APIKeyEntry(tenant: "demo", sha256: APIKeyHash.hex("sk-demo-change-me")),
                                   APIKeyEntry(tenant: "real", sha256: APIKeyHash.hex("a real key"))])
        #expect(DemoKeys.present(in: keys) == ["sk-demo-change-me"])
        #expect(DemoKeys.present(in: KeysFile(keys: [])).isEmpty)
    }
}
