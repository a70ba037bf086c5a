import Foundation
import Testing
@testable import TandemModel
import TandemTestSupport

@Suite("malformed checkpoints fail with a message naming the file, the place and the fix")
struct BadFileTests {
    func loadError(_ path: String) -> ModelLoadError? {
        do { _ = try ModelLoader.load(path: path); return nil } catch let e as ModelLoadError { return e } catch { return nil }
    }

    @Test func truncatedGGUFNamesTheTensorAndTheSize() throws {
        let src = try Data(contentsOf: URL(fileURLWithPath: TestModels.smolPath))
        let path = temporaryPath("truncated.gguf")
        try src.prefix(src.count / 2).write(to: URL(fileURLWithPath: path))
        let e = try #require(loadError(path))
        #expect(e.kind == .truncated)
        #expect(e.file == path)
        #expect(e.place.hasPrefix("tensor "))
        #expect(e.message.contains("truncated"))
    }

    @Test func truncatedHeader() throws {
        let path = temporaryPath("short.gguf")
        try Data(GGUFWriter.tinyLlama().bytes().prefix(40)).write(to: URL(fileURLWithPath: path))
        let e = try #require(loadError(path))
        #expect(e.kind == .truncated)
        #expect(e.place.hasPrefix("byte "))
    }

    @Test func wrongMagic() throws {
        let path = temporaryPath("magic.gguf")
        var bytes = GGUFWriter.tinyLlama().bytes()
        bytes[3] = UInt8(ascii: "X")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let e = try #require(loadError(path))
        #expect(e.kind == .badMagic)
        #expect(e.description.contains("not a GGUF file"))
    }

    @Test func unknownTensorTypeIsNamed() throws {
        var w = GGUFWriter.tinyLlama()
        w.addAllTinyTensors(except: ["blk.0.attn_q.weight"])
        w.tensors.append(("blk.0.attn_q.weight", [256, 4], 23, [UInt8](repeating: 0, count: 4 * 136)))  // IQ4_XS
        let path = temporaryPath("qk.gguf")
        try w.write(to: path)
        let e = try #require(loadError(path))
        #expect(e.kind == .unknownTensorType)
        #expect(e.place == "tensor blk.0.attn_q.weight")
        #expect(e.message.contains("IQ4_XS"))
    }

    // Header values chosen to overflow sizes or exhaust memory end in an error, never a trap.
    @Test func tensorShapeWhoseElementCountOverflows() throws {
        var w = GGUFWriter.tinyLlama()
        w.addAllTinyTensors()
        w.tensors.append(("huge", [1 << 39, 1 << 39, 1 << 39, 1 << 39], 0, []))
        let path = temporaryPath("overflow-shape.gguf")
        try w.write(to: path)
        let e = try #require(loadError(path))
        #expect(e.kind == .badMetadata)
        #expect(e.place == "tensor huge")
    }

    @Test func zeroAlignmentIsRefused() throws {
        var w = GGUFWriter.tinyLlama()
        w.metadata.append(("general.alignment", .u32(0)))
        w.addAllTinyTensors()
        let path = temporaryPath("align0.gguf")
        try w.write(to: path)
        let e = try #require(loadError(path))
        #expect(e.kind == .badMetadata)
        #expect(e.place == "key general.alignment")
        #expect(e.message.contains("power of two"))
    }

    @Test func tensorOffsetPastTheEndIsRefused() throws {
        var w = GGUFWriter.tinyLlama()
        w.addAllTinyTensors()
        w.offsetOverrides["blk.0.attn_q.weight"] = UInt64.max - 7
        let path = temporaryPath("offset.gguf")
        try w.write(to: path)
        let e = try #require(loadError(path))
        #expect(e.kind == .truncated)
        #expect(e.place == "tensor blk.0.attn_q.weight")
    }

    @Test func arrayLongerThanTheFileIsRefusedBeforeAllocating() throws {
        var w = GGUFWriter.tinyLlama()
        var value: [UInt8] = []
        withUnsafeBytes(of: UInt32(4).littleEndian) { value += $0 }          // element type: u32
        withUnsafeBytes(of: UInt64((1 << 28) - 1).littleEndian) { value += $0 } // 268 M elements
        w.rawMetadata.append(("bogus.array", 9, value))
        let path = temporaryPath("array.gguf")
        try w.write(to: path)
        let e = try #require(loadError(path))
        #expect(e.kind == .badMetadata)
        #expect(e.place == "key bogus.array")
    }

    @Test func llama2CHeaderWithHugeSizesIsRefused() throws {
        var header: [UInt8] = []
        for v: Int32 in [1 << 30, 1 << 30, 1 << 20, 1 << 10, 1 << 10, 1 << 30, 1 << 20] {
            withUnsafeBytes(of: v.littleEndian) { header += $0 }
        }
        let path = temporaryPath("huge.bin")
        try Data(header + [UInt8](repeating: 0, count: 64)).write(to: URL(fileURLWithPath: path))
        let e = try #require(loadError(path))
        #expect(e.kind == .badMetadata)
        #expect(e.message.contains("not plausible"))
    }

    @Test func missingTensorIsNamed() throws {
        var w = GGUFWriter.tinyLlama()
        w.addAllTinyTensors(except: ["blk.0.ffn_down.weight"])
        let path = temporaryPath("missing.gguf")
        try w.write(to: path)
        let e = try #require(loadError(path))
        #expect(e.kind == .missingTensor)
        #expect(e.place == "tensor blk.0.ffn_down.weight")
    }

    @Test func wrongShapeIsNamed() throws {
        var w = GGUFWriter.tinyLlama()
        w.addAllTinyTensors(except: ["blk.0.ffn_up.weight"])
        w.tensors.append(("blk.0.ffn_up.weight", [32, 32], 0, GGUFWriter.f32(32 * 32)))
        let path = temporaryPath("shape.gguf")
        try w.write(to: path)
        let e = try #require(loadError(path))
        #expect(e.kind == .shapeMismatch)
        #expect(e.message.contains("[32, 64]"))
    }

    @Test func unknownArchitecture() throws {
        var w = GGUFWriter.tinyLlama()
        w.metadata[0] = ("general.architecture", .string("mamba"))
        let path = temporaryPath("arch.gguf")
        try w.write(to: path)
        let e = try #require(loadError(path))
        #expect(e.kind == .unknownArchitecture)
        #expect(e.message.contains("mamba"))
    }

    @Test func aCompleteTinyModelLoadsAndRuns() throws {
        var w = GGUFWriter.tinyLlama()
        w.addAllTinyTensors()
        let path = temporaryPath("tiny.gguf")
        try w.write(to: path)
        let m = try ModelLoader.load(path: path)
        let logits = try LlamaSession(model: m.model).prefill([0, 1, 2])
        #expect(logits.count == 4)
        let finite = logits.allSatisfy { $0.isFinite }
        #expect(finite)
    }

    @Test func truncatedLlama2CCheckpoint() throws {
        let src = try Data(contentsOf: URL(fileURLWithPath: TestModels.storiesPath))
        let path = temporaryPath("stories-cut.bin")
        try src.prefix(100_000).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ModelLoader.loadLlama2C(path: path, tokenizerPath: TestModels.storiesDir + "/tok512.bin")
            Issue.record("a truncated checkpoint loaded")
        } catch let e as ModelLoadError {
            #expect(e.kind == .truncated)
            #expect(e.message.contains("truncated"))
        }
    }
}
