import Foundation
import Testing
@testable import TandemCore

@Suite struct JSONParserTests {
    @Test func objectsKeepTheirKeyOrder() throws {
        let v = try JSONValue.parse(#"{"z": 1, "a": {"y": true, "b": null}, "m": [1, 2.5, "x"]}"#)
        guard case .object(let pairs) = v, case .object(let inner)? = v["a"] else { Issue.record("\(v)"); return }
        #expect(pairs.map(\.0) == ["z", "a", "m"])
        #expect(inner.map(\.0) == ["y", "b"])
        #expect(JSONWriter.string(v) == #"{"z":1,"a":{"y":true,"b":null},"m":[1,2.5,"x"]}"#)
    }

    @Test func numbersStringsAndEscapes() throws {
        #expect(try JSONValue.parse("-0") == .int(0))
        #expect(try JSONValue.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSONValue.parse("9223372036854775808") == .double(9223372036854775808))
        #expect(try JSONValue.parse("1e3") == .double(1000))
        #expect(try JSONValue.parse("2.0") == .double(2))
        #expect(try JSONValue.parse(#""a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#) == .string("a\"\\/\u{8}\u{c}\n\r\té😀"))
        #expect(try JSONValue.parse(" \n[ ]\t") == .array([]))
    }

    /// What Foundation's JSONSerialization (an independent reader) refuses, this reader refuses
    /// too; it also refuses what RFC 8259 forbids and Foundation lets through (trailing commas,
    /// unpaired surrogates).
    @Test func malformedDocumentsAreRefusedWithTheirOffset() {
        let bad = ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "1e", "\"a", "\"\\x\"", "\"\u{1}\"", "tru", "nul", "[1 2]",
                   "{\"a\" 1}", "{1:2}", "\"\\ud800\"", "\"\\udc00x\"", "1 2", "[", "{\"a\":}", "+1", ".5", "NaN"]
        for text in bad {
            #expect(throws: JSONParseError.self, "\(text.debugDescription)") { try JSONValue.parse(text) }
            let foundation = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            if !["\"\\ud800\"", "\"\\udc00x\"", "[1,]", "{\"a\":1,}"].contains(text) { #expect(foundation == nil, "\(text.debugDescription)") }
        }
        do {
            _ = try JSONValue.parse("[1, 2,, 3]")
            Issue.record("accepted")
        } catch {
            #expect(error.offset == 6)
        }
        #expect(throws: JSONParseError.self) { try JSONValue.parse(String(repeating: "[", count: 600) + String(repeating: "]", count: 600)) }
        #expect(throws: JSONParseError.self) { try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
    }
}
