import TandemCore
import TandemEngineCore
import TandemGrammar
import Testing

/// The sampler under an output constraint: the mask comes first, so neither the argmax nor a
/// logit bias nor a random draw can pick a token outside the grammar, and end tokens only once
/// the output is complete.
@Suite struct ConstrainedSamplerTests {
    /// Tokens: 0 "a", 1 "b", 2 "ab", 3 "c", 4 end.
    static let vocabulary = TokenVocabulary(tokenBytes: [Array("a".utf8), Array("b".utf8), Array("ab".utf8), Array("c".utf8), []],
                                            endTokens: [4])

    func constrained(_ regex: String, _ parameters: SamplingParameters = .greedy, bias: [TokenID: Float] = [:]) throws -> Sampler {
        let grammar = try CompiledGrammar(try RegexParser.parse(regex), vocabulary: Self.vocabulary)
        return try Sampler(configuration: SamplingConfiguration(parameters: parameters, logitBias: bias,
                                                                constraint: OutputConstraint(grammar, kind: "guided_regex")),
                           promptTokens: [], defaultSeed: 1)
    }

    @Test func greedyTakesTheBestAllowedTokenAndEndsOnlyWhenComplete() throws {
        var s = try constrained("(ab)+c")
        // "c" and the end token are the model's favourites, but only "a" or "ab" may start.
        let logits: [Float] = [1, 0, 2, 9, 10]
        #expect(try s.sample(logits: logits).token == 2)
        #expect(try s.sample(logits: logits).token == 3) // "c" is allowed after "ab"
        #expect(try s.sample(logits: logits).token == 4) // then only the end token
    }

    @Test func biasAndSamplingCannotLeaveTheGrammar() throws {
        for seed in UInt64(1)...20 {
            var s = try constrained("a(b|c)", SamplingParameters(temperature: 1.5, seed: seed), bias: [3: 100, 4: 100])
            let uniform: [Float] = [0, 0, 0, 0, 0]
            let first = try s.sample(logits: uniform).token
            #expect([0, 2].contains(first))
            if first == 0 {
                #expect([1, 3].contains(try s.sample(logits: uniform).token))
            }
            #expect(try s.sample(logits: uniform).token == 4)
        }
    }

    /// Tokens of the gated tests: the five above, then 5 "<think>" and 6 "</think>".
    static let reasoningVocabulary = TokenVocabulary(
        tokenBytes: [Array("a".utf8), Array("b".utf8), Array("ab".utf8), Array("c".utf8), [], Array("<think>".utf8), Array("</think>".utf8)],
        endTokens: [4])

    func gated(_ regex: String, startsInReasoning: Bool) throws -> Sampler {
        let grammar = try CompiledGrammar(try RegexParser.parse(regex), vocabulary: Self.reasoningVocabulary)
        var configuration = SamplingConfiguration(constraint: OutputConstraint(grammar, kind: "json_schema"))
        configuration.constraintGate = ConstraintGate(openToken: 5, closeToken: 6, startsInReasoning: startsInReasoning)
        return try Sampler(configuration: configuration, promptTokens: [], defaultSeed: 1)
    }

    @Test func aReasoningBlockIsFreeAndTheAnswerConstrained() throws {
        // The model opens its reasoning block, writes "c c" (outside the grammar), closes it, then
        // answers: inside the grammar "ab" from the token after the close tag.
        var s = try gated("ab", startsInReasoning: false)
        #expect(s.gatePhase == .awaitingOpen)
        #expect(try s.sample(logits: [0, 0, 0, 3, 1, 5, 0]).token == 5) // "<think>" allowed first
        #expect(s.gatePhase == .reasoning)
        #expect(try s.sample(logits: [0, 0, 0, 9, 1, 0, 0]).token == 3) // "c": free inside
        #expect(try s.sample(logits: [0, 0, 0, 9, 1, 0, 0]).token == 3)
        #expect(try s.sample(logits: [0, 0, 0, 1, 1, 0, 9]).token == 6) // "</think>"
        #expect(s.gatePhase == .constrained)
        #expect(try s.sample(logits: [0, 0, 1, 9, 9, 0, 9]).token == 2) // "ab": the grammar again
        #expect(try s.sample(logits: [9, 9, 9, 9, 1, 9, 9]).token == 4) // then only the end
    }

    @Test func aModelThatAnswersWithoutReasoningIsConstrainedFromItsFirstToken() throws {
        var s = try gated("ab", startsInReasoning: false)
        // "c" and the close tag are not allowed first; "a" (the grammar's) is taken.
        #expect(try s.sample(logits: [5, 0, 0, 9, 9, 0, 9]).token == 0)
        #expect(s.gatePhase == .constrained)
        #expect(try s.sample(logits: [0, 1, 0, 9, 9, 9, 9]).token == 1)
        #expect(s.matcher?.isComplete == true)
    }

    @Test func aPromptThatOpenedTheBlockWaitsForTheCloseTag() throws {
        var s = try gated("ab", startsInReasoning: true)
        #expect(s.gatePhase == .reasoning)
        s.record(3) // forced or sampled inside: not fed to the grammar
        #expect(try s.sample(logits: [0, 0, 0, 9, 0, 0, 0]).token == 3)
        s.record(6) // the reasoning budget forces the close tag
        #expect(s.gatePhase == .constrained)
        #expect(try s.sample(logits: [0, 0, 1, 9, 9, 9, 9]).token == 2)
    }

    @Test func forcedTokensMoveTheConstraintToo() throws {
        var s = try constrained("ab")
        s.record(0)
        #expect(try s.sample(logits: [5, 1, 5, 5, 5]).token == 1)
        #expect(s.matcher?.isComplete == true)
    }
}
