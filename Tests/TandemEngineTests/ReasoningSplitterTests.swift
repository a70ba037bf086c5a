import TandemEngineCore
import Testing

@Suite("Reasoning splitter")
struct ReasoningSplitterTests {
    /// Feeds the chunks (one token each) and concatenates both channels.
    private func split(_ chunks: [String], _ configuration: ReasoningConfiguration = ReasoningConfiguration())
        -> (reasoning: String, content: String) {
        var splitter = ReasoningSplitter(configuration: configuration)
        var reasoning = ""
        var content = ""
        for chunk in chunks + [nil] {
            let output = chunk.map { splitter.process($0) } ?? splitter.finish()
            reasoning += output.reasoning
            content += output.content
        }
        return (reasoning, content)
    }

    @Test func tagsSplitAcrossChunksAreRecognised() {
        var splitter = ReasoningSplitter()
        #expect(splitter.process("<th") == ReasoningSplitter.Output())
        #expect(splitter.phase == .beforeReasoning)
        #expect(splitter.process("ink>Let me") == ReasoningSplitter.Output(reasoning: "Let me"))
        #expect(splitter.process(" think</thi") == ReasoningSplitter.Output(reasoning: " think"))
        #expect(splitter.process("nk>\n\nThe answer") == ReasoningSplitter.Output(content: "The answer"))
        #expect(splitter.process(" is 4.") == ReasoningSplitter.Output(content: " is 4."))
        #expect(splitter.phase == .answer)
    }

    @Test func everyChunkingGivesTheSameSplit() {
        let text = "  <think>Compare 9.11 and 9.9: <b>tenths</b> decide.</think>\n\n9.9 is larger; </think> stays."
        let expected = (reasoning: "Compare 9.11 and 9.9: <b>tenths</b> decide.", content: "9.9 is larger; </think> stays.")
        #expect(split([text]) == expected)
        let characters = Array(text)
        for size in 1...9 {
            let chunks = stride(from: 0, to: characters.count, by: size).map {
                String(characters[$0..<min(characters.count, $0 + size)])
            }
            #expect(split(chunks) == expected, "chunks of \(size)")
        }
    }

    @Test func outputWithoutAnOpenTagIsAllAnswer() {
        #expect(split(["<", "b>bold</b>"]) == ("", "<b>bold</b>"))
        #expect(split([" \n", "Hi"]) == ("", " \nHi"))
        #expect(split(["<thin"]) == ("", "<thin"))
    }

    @Test func aTemplateThatOpensTheBlockStartsInReasoning() {
        let configuration = ReasoningConfiguration(startsInReasoning: true)
        #expect(split(["step 1", "</think>", "done"], configuration) == ("step 1", "done"))
        // Unclosed at the end: a partial close tag is reasoning text.
        #expect(split(["still going </th"], configuration) == ("still going </th", ""))
    }

    @Test func customTagsAndWhitespaceKeptOnRequest() {
        let configuration = ReasoningConfiguration(openTag: "[R]", closeTag: "[/R]", trimsWhitespaceAfterReasoning: false)
        #expect(split(["[R]x[/", "R]\n y"], configuration) == ("x", "\n y"))
    }

    @Test func anExhaustedBudgetAsksOnceForTheCloseTag() {
        var splitter = ReasoningSplitter(configuration: ReasoningConfiguration(budgetTokens: 3))
        #expect(splitter.process("<think>").directive == nil)  // the open tag is not reasoning
        #expect(splitter.process("a").directive == nil)
        #expect(splitter.process("b").directive == nil)
        let third = splitter.process("c")
        #expect(third == ReasoningSplitter.Output(reasoning: "c", directive: .forceClose(text: "</think>")))
        #expect(splitter.reasoningTokenCount == 3)
        #expect(splitter.hasRequestedClose)
        // A token already in flight, then the forced tag comes back through as text.
        #expect(splitter.process("d").directive == nil)
        #expect(splitter.process("</think>") == ReasoningSplitter.Output())
        #expect(splitter.process("Answer.") == ReasoningSplitter.Output(content: "Answer."))
    }

    @Test func chunksOfSeveralTokensCountInFull() {
        var splitter = ReasoningSplitter(configuration: ReasoningConfiguration(startsInReasoning: true, budgetTokens: 10))
        #expect(splitter.process("four tokens here", tokenCount: 4).directive == nil)
        #expect(splitter.process("and six more tokens now", tokenCount: 6).directive == .forceClose(text: "</think>"))
    }

    @Test func noBudgetMeansNoDirective() {
        var splitter = ReasoningSplitter(configuration: ReasoningConfiguration(startsInReasoning: true))
        for _ in 0..<1000 { #expect(splitter.process("x").directive == nil) }
    }
}
