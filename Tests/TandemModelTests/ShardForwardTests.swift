import Foundation
import Testing
import TandemCore
@testable import TandemModel
import TandemTestSupport

@Suite("sharding plan and the paged, batched forward pass")
struct ShardForwardTests {
    @Test func smolLM2SplitsThreeKVHeadsTwoAndOne() throws {
        let plan = try ShardingPlan.make(TestModels.smol.configuration, ranks: 2, bytesPerElement: 0.625)
        #expect(plan.shards.map(\.kvHeads) == [0..<2, 2..<3])
        #expect(plan.shards.map(\.queryHeads) == [0..<6, 6..<9])
        #expect(plan.shards.map(\.ffnColumns) == [0..<768, 768..<1536])
        #expect(plan.shards.map(\.vocabRows) == [0..<24576, 24576..<49152])
        #expect(plan.shards[0].weightBytes > plan.shards[1].weightBytes)
    }

    @Test func moreRanksThanKVHeadsIsRejectedWithAReason() {
        #expect(throws: ShardingError.self) { try ShardingPlan.make(TestModels.smol.configuration, ranks: 4) }
        do { _ = try ShardingPlan.make(TestModels.smol.configuration, ranks: 4) } catch {
            #expect("\(error)".contains("3 KV heads over 4 ranks"))
        }
    }

    static func runner(_ m: LoadedModel, blocks: Int = 64, blockSize: Int = 16, kvDType: KVCacheDType = .f32) throws -> ModelRunner {
        try ModelRunner(model: m.model, blockSize: blockSize, blocks: .blocks(blocks), kvDType: kvDType)
    }

    @Test("one rank, one sequence, token by token: the same logits as the reference session")
    func pagedEqualsReference() throws {
        let m = TestModels.stories
        let prompt: [TokenID] = [1, 403, 407, 261, 378, 432, 383]
        let session = LlamaSession(model: m.model)
        let f = try Self.runner(m, blockSize: 4)
        // Scattered, non-contiguous block ids.
        let table: [Int32] = [7, 3, 12, 0]
        for (p, t) in prompt.enumerated() {
            let ref = try session.prefill([t])
            let got = try f.execute([SequenceChunk(tokens: [t], startPosition: p, blockTable: table, wantsLogits: true)])
            #expect(got.count == 1)
            #expect(zip(ref, got[0]).allSatisfy { abs($0 - $1) <= 1e-5 }, "position \(p)")
        }
    }

    @Test("a prefill chunk plus decodes of other sequences in one step give each sequence its own logits")
    func batchedMixedStep() throws {
        let m = TestModels.stories
        let a: [TokenID] = [1, 403, 407, 261, 378]
        let b: [TokenID] = [1, 338, 401]
        let refA = try LlamaSession(model: m.model).prefill(a)
        let refB = try LlamaSession(model: m.model).prefill(b)
        let f = try Self.runner(m, blockSize: 4)
        // Step 1: all of b's prefill, the first 3 tokens of a.
        let s1 = try f.execute([
            SequenceChunk(tokens: b, startPosition: 0, blockTable: [5], wantsLogits: true),
            SequenceChunk(tokens: Array(a[0..<3]), startPosition: 0, blockTable: [1, 2], wantsLogits: false),
        ])
        #expect(s1.count == 1)
        #expect(zip(refB, s1[0]).allSatisfy { abs($0 - $1) <= 1e-4 })
        // Step 2: the rest of a.
        let s2 = try f.execute([SequenceChunk(tokens: Array(a[3...]), startPosition: 3, blockTable: [1, 2], wantsLogits: true)])
        #expect(zip(refA, s2[0]).allSatisfy { abs($0 - $1) <= 1e-4 })
    }

    @Test func aBlockTableTooShortIsAnError() throws {
        let f = try Self.runner(TestModels.stories, blockSize: 4)
        #expect(throws: ShardingError.self) {
            try f.execute([SequenceChunk(tokens: [1, 2, 3, 4, 5], startPosition: 0, blockTable: [0], wantsLogits: true)])
        }
    }
}
