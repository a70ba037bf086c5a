import ArgumentParser
import Foundation
import TandemCore
import TandemKernels
import TandemModel

/// `tandem quantize IN OUT --format fp8|nvfp4|mxfp4`: an offline export to an NVIDIA ModelOpt
/// checkpoint directory (see `ModelOptExport` for the layout), loadable by `--model OUT`.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantise a model's linear layers and write an NVIDIA ModelOpt safetensors directory.",
        discussion: """
            Every linear layer is dequantised from the checkpoint's stored values and re-quantised; \
            norms and the embedding are written in F32. A GGUF Q4_1 model's full precision is the \
            dequantised Q4_1: the export says so in hf_quant_config.json. Q/K rows are un-permuted \
            to the Hugging Face half-split RoPE layout.
            """)

    @Argument(help: "Source model: a .gguf file, a llama2.c .bin checkpoint, or a Hugging Face directory.")
    var input: String

    @Argument(help: "Output directory (created; files in it are replaced).")
    var output: String

    @Option(help: "Weight format: fp8, nvfp4 or mxfp4.")
    var format: WeightFormat

    @Option(name: .customLong("calibration-tokens"), help: "Positions of the built-in calibration text used for input_scale.")
    var calibrationTokens = 128

    func validate() throws {
        guard [.fp8, .nvfp4, .mxfp4].contains(format) else {
            throw ValidationError("--format must be fp8, nvfp4 or mxfp4 (got \(format.rawValue))")
        }
        guard calibrationTokens >= 1 else { throw ValidationError("--calibration-tokens must be >= 1") }
    }

    func run() throws {
        let loaded: LoadedModel
        do { loaded = try ModelLoader.load(path: input) } catch let e as ModelLoadError { throw ValidationError(e.description) }
        var export = try ModelOptExport(model: loaded, format: format)
        export.calibrationTokens = calibrationTokens
        var bar = TerminalProgressBar(label: "")
        let summary = try export.write(to: output) { phase, done, total in
            if bar.label != phase { bar.finish(); bar = TerminalProgressBar(label: phase) }
            bar.update(done, of: total, unit: phase == "write" ? .bytes : .count)
        }
        bar.finish()
        let from = summary.sourceTypes.map { $0.rawValue.uppercased() }.joined(separator: "/")
        var lines = ["wrote \(output): ModelOpt \(format.displayName), \(summary.quantized.count) linear layers quantised from \(from), " +
                     String(format: "%.1f MB", Double(summary.bytes) / 1e6)]
        if summary.sourceTypes.contains(where: \.isQuantized) {
            lines.append("note: \(input) stores \(from); its \"full precision\" is the dequantised \(from), not the original model")
        }
        let unquantized = summary.excluded.filter { $0 != "lm_head" }
        if !unquantized.isEmpty {
            lines.append("kept in F32 (input width not a whole number of \(format.displayName) blocks): \(unquantized.joined(separator: ", "))")
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

extension WeightFormat: ExpressibleByArgument {}

/// A one-line progress bar on stderr, redrawn in place; quiet when stderr is not a terminal
/// except for the final line.
struct TerminalProgressBar {
    enum Unit { case count, bytes }
    let label: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastLine = ""
    private let interactive = isatty(2) != 0

    init(label: String) { self.label = label }

    mutating func update(_ done: Int, of total: Int, unit: Unit = .count) {
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let width = 30, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let amount = unit == .bytes
            ? String(format: "%.1f/%.1f MB", Double(done) / 1e6, Double(total) / 1e6)
            : "\(done)/\(total)"
        lastLine = String(format: "%@ [%@] %3.0f%% %@ %.1fs", label.padding(toLength: 9, withPad: " ", startingAt: 0),
                          bar, fraction * 100, amount, now.timeIntervalSince(start))
        if interactive { FileHandle.standardError.write(Data(("\r" + lastLine).utf8)) }
    }

    mutating func finish() {
        guard !lastLine.isEmpty else { return }
        FileHandle.standardError.write(Data(((interactive ? "\r" : "") + lastLine + "\n").utf8))
        lastLine = ""
    }
}
