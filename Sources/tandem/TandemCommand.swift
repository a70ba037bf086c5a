import ArgumentParser

@main
struct TandemCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Tandem: a distributed LLM inference cluster.",
        subcommands: [GenerateCommand.self, ServeCommand.self, GatewayCommand.self, PlanCommand.self, ProbeCommand.self, CommCheckCommand.self]
    )
}
