import ArgumentParser

@main
struct TandemCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem",
        abstract: "Tandem: a distributed LLM inference cluster.",
        subcommands: []
    )
}
