import TandemEngineCore
import Testing

@Suite("Stop strings")
struct StopStringMatcherTests {
    /// Feeds `chunks` and returns everything emitted plus the stop string hit, if any.
    private func run(_ stops: [String], _ chunks: [String]) -> (text: String, stop: String?) {
        var matcher = StopStringMatcher(stopStrings: stops)
        var text = ""
        for chunk in chunks {
            switch matcher.process(chunk) {
            case .continue(let emit):
                text += emit
            case .stopped(let emit, let stop):
                return (text + emit, stop)
            }
        }
        return (text + matcher.finish(), nil)
    }

    @Test func aStopStringSplitAcrossChunksIsFoundAndNotEmitted() {
        var matcher = StopStringMatcher(stopStrings: ["</s>"])
        #expect(matcher.process("Hello <") == .continue(emit: "Hello "))
        #expect(matcher.heldText == "<")
        #expect(matcher.process("/") == .continue(emit: ""))
        #expect(matcher.process("s> world") == .stopped(emit: "", stopString: "</s>"))
        #expect(matcher.isStopped)
        #expect(matcher.process("more") == .continue(emit: ""))
    }

    @Test func aFalseStartIsReleasedWhenTheNextChunkRulesItOut() {
        var matcher = StopStringMatcher(stopStrings: ["<|end|>"])
        #expect(matcher.process("a <|e") == .continue(emit: "a "))
        #expect(matcher.process("x") == .continue(emit: "<|ex"))
    }

    @Test func heldTextIsFlushedAtTheEndOfTheStream() {
        var matcher = StopStringMatcher(stopStrings: ["STOP"])
        #expect(matcher.process("ends with ST") == .continue(emit: "ends with "))
        #expect(matcher.finish() == "ST")
    }

    @Test func theMatchThatEndsFirstWins() {
        #expect(run(["abcd", "bc"], ["xabcd"]) == ("xa", "bc"))
        #expect(run(["abc", "abcd"], ["zzabcdef"]) == ("zz", "abc"))
        // Same end: the longer (earlier-starting) one.
        #expect(run(["bc", "abc"], ["xabc"]) == ("x", "abc"))
    }

    @Test func resultsDoNotDependOnHowTheTextIsChunked() {
        let text = "The answer is 42.\n\nUser: thanks! ¿Sí? café 👍 STOP here"
        let stops = ["\n\nUser:", "STOP", "é 👍"]
        let whole = run(stops, [text])
        #expect(whole == ("The answer is 42.", "\n\nUser:"))
        let scalars = Array(text.unicodeScalars)
        var source = SplitMix64(seed: 9)
        for _ in 0..<200 {
            var chunks: [String] = []
            var start = 0
            while start < scalars.count {
                let length = 1 + Int(source.next() % 6)
                let end = min(scalars.count, start + length)
                var view = String.UnicodeScalarView()
                view.append(contentsOf: scalars[start..<end])
                chunks.append(String(view))
                start = end
            }
            #expect(run(stops, chunks) == whole)
        }
        #expect(run(["STOP", "é 👍"], Array(text).map(String.init)) == ("The answer is 42.\n\nUser: thanks! ¿Sí? caf", "é 👍"))
    }

    @Test func combiningMarksSplitAcrossChunksStillMatch() {
        // "é" as e + U+0301, split between chunks.
        #expect(run(["e\u{301}!"], ["caf", "e", "\u{301}", "!", " more"]) == ("caf", "e\u{301}!"))
    }

    @Test func emptyStopStringsAreIgnored() {
        #expect(run(["", "x"], ["abc"]) == ("abc", nil))
        #expect(StopStringMatcher(stopStrings: [""]).stopStrings.isEmpty)
    }
}
