import ArgumentParser

@main
struct TandemCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Tandem: a distributed LLM inference cluster.",
        subcommands: [GenerateCommand.self, ChatTemplateCommand.self, ServeCommand.self, BenchCommand.self, GatewayCommand.self, KeysCommand.self, TopologyCommand.self, UpCommand.self, PlanCommand.self, QuantizeCommand.self, AccuracyCommand.self, BenchKernelsCommand.self, BenchModelCommand.self, ProbeCommand.self, CommCheckCommand.self, GrammarCommand.self, CouncilCommand.self]
    )
}
