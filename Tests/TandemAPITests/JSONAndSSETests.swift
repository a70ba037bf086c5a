import TandemCore
import Testing
@testable import TandemAPI

@Suite struct JSONValueTests {
    @Test func writeShouldEscapeAndKeepKeyOrder() {
        let v: JSONValue = ["b": "quote\" back\\ nl\n tab\t \u{01}", "a": [1, 2.5, true, nil]]
        #expect(JSONWriter.string(v) == #"{"b":"quote\" back\\ nl\n tab\t \u0001","a":[1,2.5,true,null]}"#)
    }

    @Test func writeShouldWriteNonFiniteNumbersAsNull() {
        #expect(JSONWriter.string(.double(-.infinity)) == "null")
        #expect(JSONWriter.string(.double(.nan)) == "null")
    }

    @Test func parseShouldRoundTrip() throws {
        let text = #"{"a":[1,-2,3.25,"x\u00e9",{"b":null}],"c":false}"#
        let v = try JSONValue.parse(text)
        #expect(v["a"] == [1, -2, 3.25, "xé", ["b": nil]])
        #expect(v["c"] == false)
        #expect(try JSONValue.parse(JSONWriter.string(v)) == v)
    }

    @Test func parseShouldRejectInvalidJSON() {
        #expect(throws: (any Error).self) { try JSONValue.parse("{\"a\": }") }
        #expect(throws: (any Error).self) { try JSONValue.parse("") }
    }
}

@Suite struct SSETests {
    @Test func encoderShouldFrameDataAndDone() {
        #expect(String(decoding: SSEEncoder.event(["a": 1]), as: UTF8.self) == "data: {\"a\":1}\n\n")
        #expect(String(decoding: SSEEncoder.done, as: UTF8.self) == "data: [DONE]\n\n")
    }

    @Test func decoderShouldReassembleEventsSplitAcrossChunks() throws {
        var d = SSEDecoder()
        var out: [String] = []
        for piece in ["da", "ta: {\"x\"", ":1}\n", "\ndata: [DO", "NE]\n\n"] {
            out += try d.feed(Array(piece.utf8))
        }
        #expect(out == ["{\"x\":1}", "[DONE]"])
    }

    @Test func decoderShouldHandleCRLFCommentsMultilineAndOtherFields() throws {
        var d = SSEDecoder()
        let text = ": keep-alive\r\n\r\nevent: message\r\ndata: line1\r\ndata:line2\r\nid: 7\r\n\r\ndata: tail"
        var out = try d.feed(Array(text.utf8))
        #expect(out == ["line1\nline2"])
        if let last = d.finish() { out.append(last) }
        #expect(out == ["line1\nline2", "tail"])
    }

    @Test func decoderShouldRefuseEventsLargerThanTheLimit() {
        var d = SSEDecoder(maxEventBytes: 16)
        #expect(throws: SSEDecoder.EventTooLarge.self) { try d.feed(Array("data: 0123456789012345678".utf8)) }
    }
}
