import ArgumentParser
import Foundation
import TandemTopology

/// `tandem topology`: check, show and compare topology files; generate a model's hostfile and
/// the gateway configuration.
struct TopologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topology",
        abstract: "Check, show and compare topology files (topology/README.md).",
        subcommands: [Check.self, Show.self, Nodes.self, Hostfile.self, GatewayConfig.self, Diff.self])

    /// Loads and checks `path`; prints every diagnostic to stderr and exits 1 on errors.
    static func load(_ path: String) throws -> ResolvedTopology {
        do {
            let r = try TopologyValidator.load(path: path)
            for d in r.diagnostics { FileHandle.standardError.write(Data((d.description + "\n").utf8)) }
            return r
        } catch let e as TopologyError {
            FileHandle.standardError.write(Data((e.description + "\n").utf8))
            let n = e.errors.count
            FileHandle.standardError.write(Data("\(path): \(n) error\(n == 1 ? "" : "s")\n".utf8))
            throw ExitCode(1)
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a topology file; errors as file:line:column, exit status 1 on any.")
        @Argument(help: "Topology file (YAML).") var file: String
        func run() throws {
            let r = try TopologyCommand.load(file)
            let models = r.topology.models.count, nodes = r.topology.nodes.count
            print("\(file): valid (\(nodes) node\(nodes == 1 ? "" : "s"), \(models) model\(models == 1 ? "" : "s"))")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the resolved view: ranks, hosts, sharding per model, memory per node.")
        @Argument(help: "Topology file (YAML).") var file: String
        func run() throws { print(TopologyReport.show(try TopologyCommand.load(file)), terminator: "") }
    }

    struct Nodes: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one line per node for scripts: name, host, data-plane address, interface (- when none).",
            discussion: "cluster/netns.sh builds its spark/dark namespaces from these lines.")
        @Argument(help: "Topology file (YAML).") var file: String
        func run() throws { print(TopologyReport.nodeLines(try TopologyCommand.load(file).topology), terminator: "") }
    }

    struct Hostfile: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the Open MPI hostfile of one model's placement.")
        @Argument(help: "Topology file (YAML).") var file: String
        @Option(help: "Model name.") var model: String
        func run() throws {
            let r = try TopologyCommand.load(file)
            guard let h = LaunchPlanner.hostfile(r.topology, model: model) else {
                let placed = r.topology.models.filter { $0.placement != nil }.map(\.name)
                throw ValidationError("no placed model '\(model)' in \(file); placed models: \(placed.joined(separator: ", "))")
            }
            print(h, terminator: "")
        }
    }

    struct GatewayConfig: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "gateway-config",
                                                        abstract: "Print the gateway's JSON configuration generated from the topology.")
        @Argument(help: "Topology file (YAML).") var file: String
        func run() throws { print(GatewayConfigGenerator.json(try TopologyCommand.load(file)), terminator: "") }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "What changes between two topology files, and what to restart or reload.")
        @Argument(help: "Old topology file.") var old: String
        @Argument(help: "New topology file.") var new: String
        func run() throws {
            let a = try TopologyCommand.load(old), b = try TopologyCommand.load(new)
            print(TopologyReport.diff(a.topology, b.topology), terminator: "")
        }
    }
}
