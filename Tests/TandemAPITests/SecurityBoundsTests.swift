import TandemCore
import Foundation
import HTTPTypes
import Testing
@testable import TandemAPI
import TandemAPITestSupport

/// Bounds on client-controlled input, internal keys and metric label folding (making keys and
/// keyed salts: `TandemGatewayTests/SecretsTests`).
@Suite struct SecurityBoundsTests {
    func param(_ json: String, endpoint: CompletionRequest.Endpoint = .chatCompletions) -> String? {
        do {
            _ = try RequestValidator.validate(JSONValue.parse(json), endpoint: endpoint)
            return nil
        } catch let e as APIError {
            return e.status == 400 ? (e.param ?? "") : "status \(e.status)"
        } catch {
            return "unparsed"
        }
    }

    func chat(_ extra: String = "", messages: String = #"[{"role": "user", "content": "hi"}]"#) -> String {
        #"{"model": "m", "messages": \#(messages)\#(extra)}"#
    }

    @Test func validatorShouldNameTheFieldOverEachBound() {
        let many = "[" + Array(repeating: #"{"role": "user", "content": "a"}"#, count: 1025).joined(separator: ",") + "]"
        #expect(param(chat(messages: many)) == "messages")
        let long = String(repeating: "y", count: RequestValidator.maxMessageBytes + 1)
        #expect(param(chat(messages: #"[{"role": "user", "content": "\#(long)"}]"#)) == "messages[0].content")
        #expect(param(chat(messages: #"[{"role": "user", "content": "a", "name": "\#(String(repeating: "n", count: 257))"}]"#)) == "messages[0].name")
        #expect(param(chat(#", "stop": ["a", "b", "c", "d", "e"]"#)) == "stop")
        #expect(param(chat(#", "stop": ["a", "\#(String(repeating: "z", count: 257))"]"#)) == "stop[1]")
        #expect(param(chat(#", "stop": "\#(String(repeating: "z", count: 257))""#)) == "stop")
        #expect(param(chat(#", "user": "\#(String(repeating: "u", count: 257))""#)) == "user")
        #expect(param(#"{"model": "\#(String(repeating: "m", count: 257))", "messages": [{"role": "user", "content": "a"}]}"#) == "model")
        let ids = "[" + Array(repeating: "1", count: RequestValidator.maxPromptTokenIDs + 1).joined(separator: ",") + "]"
        #expect(param(#"{"model": "m", "prompt": \#(ids)}"#, endpoint: .completions) == "prompt")
        #expect(param(#"{"model": "m", "prompt": "\#(long)"}"#, endpoint: .completions) == "prompt")
        // At the bounds: accepted.
        #expect(param(chat(#", "stop": ["a", "b", "c", "\#(String(repeating: "z", count: 256))"]"#)) == nil)
        let exact = String(repeating: "y", count: RequestValidator.maxMessageBytes)
        #expect(param(chat(messages: #"[{"role": "user", "content": "\#(exact)"}]"#)) == nil)
    }

    @Test func nestingShouldBeBoundedOutsideStrings() throws {
        let deep = String(repeating: "[", count: 33) + String(repeating: "]", count: 33)
        #expect(throws: APIError.self) { try RequestBounds.checkNesting(Array(#"{"a": \#(deep)}"#.utf8)) }
        let fine = String(repeating: "[", count: 31) + String(repeating: "]", count: 31)
        try RequestBounds.checkNesting(Array(#"{"a": \#(fine)}"#.utf8))
        // Brackets (and escaped quotes) inside strings do not count.
        try RequestBounds.checkNesting(Array(#"{"a": "\" \#(deep)"}"#.utf8))
    }

    @Test func contentTypeShouldAcceptJSONOnly() throws {
        try RequestBounds.checkContentType(nil)
        try RequestBounds.checkContentType("application/json")
        try RequestBounds.checkContentType("Application/JSON; charset=utf-8")
        try RequestBounds.checkContentType("application/vnd.api+json")
        for bad in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""] {
            #expect(throws: APIError.unsupportedMediaType(bad)) { try RequestBounds.checkContentType(bad) }
        }
    }

    @Test func headersShouldBeBounded() throws {
        var h: HTTPFields = [:]
        h[HTTPField.Name("X-Tandem-Tier")!] = String(repeating: "t", count: RequestBounds.maxHeaderValueBytes + 1)
        #expect(throws: APIError.self) { try RequestBounds.checkHeaders(h) }
        var many: HTTPFields = [:]
        for i in 0...RequestBounds.maxHeaderFields { many.append(HTTPField(name: HTTPField.Name("X-H\(i)")!, value: "v")) }
        #expect(throws: APIError.self) { try RequestBounds.checkHeaders(many) }
    }

    @Test func internalKeyShouldCompareExactly() {
        let key = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        #expect(InternalKey.authorizes("Bearer \(key)", key: key))
        #expect(!InternalKey.authorizes("Bearer \(key)x", key: key))
        #expect(!InternalKey.authorizes("Bearer \(key.dropLast())", key: key))
        #expect(!InternalKey.authorizes(nil, key: key))
        #expect(!InternalKey.constantTimeEquals("", "a") && InternalKey.constantTimeEquals("", ""))
    }

    @Test func internalKeyFileShouldBePrivateAndLongEnough() throws {
        let dir = NSTemporaryDirectory() + "tandem-key-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let key = String(repeating: "5a", count: 32)
        FileManager.default.createFile(atPath: dir + "/k", contents: Data(" \(key) \nsecond line\n".utf8), attributes: [.posixPermissions: 0o600])
        #expect(try InternalKey.read(path: dir + "/k") == key)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: dir + "/k")
        #expect(throws: InternalKeyError.self) { try InternalKey.read(path: dir + "/k") }
        FileManager.default.createFile(atPath: dir + "/short", contents: Data("abc\n".utf8), attributes: [.posixPermissions: 0o600])
        #expect(throws: InternalKeyError.self) { try InternalKey.read(path: dir + "/short") }
    }

    @Test func tenantLabelsShouldFoldBeyondTheBound() {
        let metrics = APIMetrics(maxTenantLabels: 3)
        for i in 0..<50 { metrics.request(model: "m", tenant: "t\(i)", status: 404) }
        let text = metrics.render()
        let tenants = Set(text.split(separator: "\n").filter { $0.hasPrefix("tandem_requests_total{") }.compactMap { line in
            line.split(separator: ",").first { $0.hasPrefix("tenant=") }
        })
        #expect(tenants.count == 4)
        #expect(text.contains(#"tenant="other""#))
    }

    @Test func directDispatcherShouldRequireItsKey() async throws {
        let d = DirectDispatcher(backend: FakeBackend(name: "x"), modelNames: ["m"], internalKey: "k" + String(repeating: "0", count: 40))
        var forged: HTTPFields = [HTTPField.Name("X-Tandem-Tenant")!: "victim"]
        await #expect(throws: APIError.self) { try await d.authenticate(forged) }
        #expect(await d.operatorAccess(forged)?.status == 401)
        forged[.authorization] = "Bearer k" + String(repeating: "0", count: 40)
        #expect(try await d.authenticate(forged).tenant == "victim")
        #expect(await d.operatorAccess(forged) == nil)
        let open = DirectDispatcher(backend: FakeBackend(name: "x"), modelNames: ["m"])
        #expect(try await open.authenticate([:]).tenant == "default")
    }
}
