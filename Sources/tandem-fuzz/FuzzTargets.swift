import Foundation
import TandemAPI
import TandemCluster
import TandemCore
import TandemModel
import TandemTopology

/// Fuzz targets for everything that reads bytes from outside: model files (GGUF, safetensors,
/// llama2.c), topology YAML, API request bodies and the rank-to-rank wire messages. Each target
/// takes one input; any error it throws is the expected outcome for bad input, while a trap, a
/// hang or a crash is a finding. Built twice: with `-sanitize=fuzzer -D TANDEM_LIBFUZZER`
/// (fuzz/run.sh) libFuzzer drives `LLVMFuzzerTestOneInput`; in the ordinary build `main` replays
/// files (the corpus and every crash kept as a regression input; e2e/test_fuzz_corpus.py).
enum FuzzTarget: String, CaseIterable {
    case gguf, safetensors, llama2c, topology, request, wire

    /// Runs one input; the error thrown is the reader's answer to bad input.
    func run(_ data: [UInt8]) throws {
        switch self {
        case .gguf:
            try withFile(data, suffix: ".gguf") { path in
                _ = try ModelLoader.loadGGUF(path: path)
            }
        case .safetensors:
            try withFile(data, suffix: ".safetensors") { path in
                _ = try SafetensorsFile(path: path)
            }
        case .llama2c:
            try withFile(data, suffix: ".bin") { path in
                _ = try Llama2CCheckpoint(path: path)
            }
        case .topology:
            let text = String(decoding: data, as: UTF8.self)
            _ = try TopologyValidator.load(text: text, file: "fuzz.yaml", inspector: NoModels())
        case .request:
            let json = try JSONValue.parse(data)
            let chat = Result { try RequestValidator.validate(json, endpoint: .chatCompletions) }
            let completion = Result { try RequestValidator.validate(json, endpoint: .completions) }
            let responses = Result { try RequestValidator.validate(json, endpoint: .responses) }
            if case .failure(let e) = chat, case .failure = completion, case .failure = responses { throw e }
        case .wire:
            _ = try WireCodec.decode(data)
        }
    }

    /// The readers map files, so each input is written to a file in memory-backed /dev/shm
    /// (falls back to the temporary directory).
    private func withFile(_ data: [UInt8], suffix: String, _ body: (String) throws -> Void) throws {
        let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let path = "\(dir)/tandem-fuzz-\(getpid())\(suffix)"
        guard FileManager.default.createFile(atPath: path, contents: Data(data)) else { return }
        defer { unlink(path) }
        try body(path)
    }
}

/// Topology validation without loading models: every model has SmolLM2's shape.
struct NoModels: ModelInspector {
    func inspect(path: String, ranks: Int, experts: ExpertParallelism) throws -> ModelFacts {
        let c = ModelConfiguration(dim: 576, hiddenDim: 1536, layerCount: 30, headCount: 9, kvHeadCount: 3,
                                   vocabSize: 49152, contextLength: 8192, tiedEmbeddings: true)
        var f = ModelFacts(path: path, configuration: c, formatDescription: "fuzz")
        do { f.plan = try ShardingPlan.make(c, ranks: ranks, alignment: 32, bytesPerElement: 0.625) } catch {
            f.shardingProblem = "\(error)"
        }
        return f
    }
}

/// The target this process fuzzes: `TANDEM_FUZZ_TARGET`.
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["TANDEM_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("tandem-fuzz: set TANDEM_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return t
}()

#if TANDEM_LIBFUZZER
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    _ = try? selectedTarget.run(bytes)
    return 0
}

/// libFuzzer's driver (`-sanitize=fuzzer` links it in). SwiftPM links an executable's `main` to
/// the module's entry point, so the entry point hands over to the driver instead of libFuzzer's
/// own `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
struct FuzzDriver {
    static func main() {
        _ = selectedTarget
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
    }
}
#else
/// Replays files (or every file in the directories given) through `TANDEM_FUZZ_TARGET`; exits 0
/// when all of them returned, printing how many were accepted. `-v` prints each input's outcome.
@main
struct Replay {
    static func main() {
        let target = selectedTarget
        var files: [String] = []
        let verbose = CommandLine.arguments.contains("-v")
        for arg in CommandLine.arguments.dropFirst() where arg != "-v" {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: arg, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("tandem-fuzz: no such file \(arg)\n".utf8))
                exit(2)
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: arg)) ?? []
                files += names.filter { !$0.hasPrefix(".") }.sorted().map { "\(arg)/\($0)" }
            } else {
                files.append(arg)
            }
        }
        var accepted = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            do {
                try target.run(Array(data))
                accepted += 1
                if verbose { print("ok \(file)") }
            } catch {
                if verbose { print("refused \(file): \(error)") }
            }
        }
        print("tandem-fuzz \(target.rawValue): \(files.count) inputs replayed (\(accepted) accepted), no crash")
    }
}
#endif
