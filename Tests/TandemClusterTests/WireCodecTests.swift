import Testing
import TandemCore
import TandemModel
@testable import TandemCluster

@Suite("protobuf wire contract")
struct WireCodecTests {
    @Test func stepPlansRoundTrip() throws {
        let chunks = [
            SequenceChunk(tokens: [1, 2, 3], startPosition: 0, blockTable: [4, 9], wantsLogits: false),
            SequenceChunk(tokens: [49151], startPosition: 37, blockTable: [0, 1, 2], wantsLogits: true),
            // A decode with three draft tokens to verify: logits for all four positions.
            SequenceChunk(tokens: [5, 6, 7, 8], startPosition: 90, blockTable: [3, 5, 8, 11, 12, 13], logitCount: 4),
        ]
        let m = ControlMessage.step(index: 12, chunks: chunks, copies: [(source: 3, destination: 7)])
        let bytes = WireCodec.encode(m)
        #expect(try WireCodec.decode(bytes) == m)
    }

    @Test func helloAndShutdownRoundTrip() throws {
        var h = RankHello()
        h.modelName = "smollm2"; h.modelFingerprint = "abc"; h.rank = 1; h.worldSize = 2
        h.kvHeads = 2..<3; h.ffnColumns = 768..<1536; h.vocabRows = 24576..<49152
        h.blockSize = 16; h.blockCount = 100; h.host = "dark"; h.transport = "mpi"; h.weightBytes = 123
        h.kvDType = .fp8
        #expect(try WireCodec.decode(WireCodec.encode(.hello(h))) == .hello(h))
        #expect(try WireCodec.decode(WireCodec.encode(.shutdown(reason: "bye"))) == .shutdown(reason: "bye"))
    }

    @Test func garbageIsRejected() {
        #expect(throws: WireError.self) { try WireCodec.decode([0xFF, 0xFF, 0xFF, 0x01]) }
    }

    @Test func mismatchesNameBothSides() {
        var c = RankHello(); c.modelName = "a"; c.modelFingerprint = "1"; c.host = "spark"
        var w = c; w.rank = 1; w.host = "dark"
        #expect(RankHello.incompatibility(coordinator: c, worker: w) == nil)
        w.protocolVersion = 99
        let v = RankHello.incompatibility(coordinator: c, worker: w) ?? ""
        #expect(v.contains("spark") && v.contains("dark") && v.contains("v99"))
        w.protocolVersion = c.protocolVersion; w.modelFingerprint = "2"
        #expect(RankHello.incompatibility(coordinator: c, worker: w)?.contains("model mismatch") == true)
        w.modelFingerprint = c.modelFingerprint; w.kvDType = .fp8
        let g = RankHello.incompatibility(coordinator: c, worker: w) ?? ""
        #expect(g.contains("geometry mismatch") && g.contains("(f32 K/V)") && g.contains("(fp8 K/V)"))
    }
}
