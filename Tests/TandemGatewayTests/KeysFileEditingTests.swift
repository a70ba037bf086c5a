import Foundation
import Testing
@testable import TandemGateway

/// `tandem keys`: adding, revoking and listing keys in the keys file, and what the gateway's
/// validation says of expiry dates.
@Suite struct KeysFileEditingTests {
    @Test func addStoresTheHashOnlyAndRefusesATakenIdOrABadDate() throws {
        var f = KeysFile(keys: [])
        let key = try f.add(tenant: "acme", id: "laptop", expires: "2027-01-31")
        #expect(key.hasPrefix("sk-tandem-") && key.count == "sk-tandem-".count + 43)
        #expect(f.keys == [APIKeyEntry(id: "laptop", tenant: "acme", sha256: APIKeyHash.hex(key), expires: "2027-01-31")])
        #expect(!String(decoding: try JSONEncoder().encode(f), as: UTF8.self).contains(key))
        #expect(throws: KeysFile.EditError.self) { try f.add(tenant: "acme", id: "laptop", expires: nil) }
        #expect(throws: KeysFile.EditError.self) { try f.add(tenant: "acme", id: "x", expires: "next week") }
        #expect(try f.add(tenant: "acme", id: nil, expires: nil) != key)
    }

    @Test func revokeByIdOrByKey() throws {
        var f = KeysFile(keys: [])
        let a = try f.add(tenant: "acme", id: "a", expires: nil)
        _ = try f.add(tenant: "acme", id: "b", expires: nil)
        #expect(f.revoke(id: "b") == 1 && f.keys.map(\.id) == ["a"])
        #expect(f.revoke(id: "nope") == 0)
        #expect(f.revoke(key: a) == 1 && f.keys.isEmpty)
    }

    @Test func writeIsAtomicWithMode0600AndReadsBack() throws {
        let dir = NSTemporaryDirectory() + "tandem-keys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/keys.json"
        #expect(try KeysFile.read(path: path).keys.isEmpty)
        var f = KeysFile(keys: [])
        _ = try f.add(tenant: "acme", id: "a", expires: "2030-05-01T12:00:00Z")
        try f.write(path: path)
        #expect(try KeysFile.read(path: path) == f)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["keys.json"])
    }

    @Test func listingSaysWhatExpiredAndExpiryDatesParseAsISO8601() throws {
        let f = KeysFile(keys: [APIKeyEntry(id: "old", tenant: "acme", sha256: String(repeating: "a", count: 64), expires: "2020-01-01"),
                                APIKeyEntry(id: "new", tenant: "acme", sha256: String(repeating: "b", count: 64), expires: "2999-01-01"),
                                APIKeyEntry(tenant: "t", sha256: String(repeating: "c", count: 64))])
        let lines = f.listing().split(separator: "\n")
        #expect(lines[0].hasPrefix("old\tacme\texpired 2020-01-01\tsha256 aaaaaaaaaaaa"))
        #expect(lines[1].contains("expires 2999-01-01"))
        #expect(lines[2].hasPrefix("-\tt\tno expiry"))
        #expect(APIKeyEntry.parseDate("2027-01-31") == Date(timeIntervalSince1970: 1_801_353_600))
        #expect(APIKeyEntry.parseDate("2027-01-31T01:00:00+01:00") == Date(timeIntervalSince1970: 1_801_353_600))
        #expect(APIKeyEntry.parseDate("31/01/2027") == nil)
        let c = GatewayConfiguration(keysFile: "k", tenants: ["acme": TenantConfiguration()],
                                     models: [GatewayModelConfiguration(name: "m", deployments: [DeploymentConfiguration(url: "http://m")])])
        let problems = c.problems(keys: KeysFile(keys: [APIKeyEntry(id: "x", tenant: "acme", sha256: APIKeyHash.hex("k"), expires: "soon")]))
        #expect(problems.contains { $0.contains("key x: expires 'soon' is not an ISO 8601 date") })
    }
}
