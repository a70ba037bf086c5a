import ArgumentParser
import Foundation
import TandemCore
import TandemModel

extension ExpertParallelism: ExpressibleByArgument {}

/// `tandem plan`: how a model splits over N tensor-parallel ranks, with per-rank weight bytes.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Print the tensor-parallel sharding plan of a model.")

    @Option(help: "Model path (default: the SmolLM2 model in models/).")
    var model: String?

    @Option(help: "Tensor-parallel ranks.")
    var ranks = 2

    @Option(help: "How a mixture of experts is split: tensor (every expert column-split) or expert (whole experts per rank).")
    var parallel: ExpertParallelism = .tensor

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let path = try model ?? DefaultModel.path()
        let loaded: LoadedModel
        do { loaded = try ModelLoader.load(path: path) } catch let e as ModelLoadError { throw ValidationError(e.description) }
        let plan: ShardingPlan
        do { plan = try ShardingPlan.make(model: loaded.model, ranks: ranks, experts: parallel) } catch let e as ShardingError {
            throw ValidationError("\(path): \(e.message)")
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(plan), as: UTF8.self))
        } else {
            print("model: \(path) [\(loaded.formatDescription)]")
            print(plan.describe(loaded.configuration))
        }
    }
}
