// swift-tools-version: 6.0
// Tandem: a distributed LLM inference cluster. Targets follow the layers in README.md
// ("Architecture"): dependencies point one way, core ← kernels ← model ← engine ← cluster ← CLI;
// the HTTP side: core ← API server ← gateway (and API server ← serving glue, which a coordinator runs).
import PackageDescription

/// C kernels are always optimised, even in debug builds: the forward pass lives there.
/// CPU-specific paths use per-function `target` attributes and are chosen at run time,
/// so no `-march` flag is needed and the same build runs on x86-64 and aarch64.
let kernelCFlags: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno", "-Wall"])]

let package = Package(
    name: "Tandem",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tandem", targets: ["tandem"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
    ],
    targets: [
        // Native libraries (Debian packages; see deploy/install-deps.sh).
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(name: "CVerbs", path: "Sources/CVerbs", pkgConfig: "libibverbs",
                       providers: [.apt(["libibverbs-dev"])]),
        .systemLibrary(name: "CRDMACM", path: "Sources/CRDMACM", pkgConfig: "librdmacm",
                       providers: [.apt(["librdmacm-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CProtobufC", path: "Sources/CProtobufC", pkgConfig: "libprotobuf-c",
                       providers: [.apt(["libprotobuf-c-dev", "protobuf-c-compiler"])]),

        // Layer 1: core types.
        .target(name: "TandemCore"),
        // Layer 2: tensors and kernels.
        .target(name: "CTandemKernels", cSettings: kernelCFlags),
        // Tests only: the AVX-512 and the AArch64 NEON kernels compiled against SIMDe's portable
        // intrinsics, so they run on CPUs without them (libsimde-dev; see include/tandem_emulated.h).
        .target(name: "CTandemKernelsEmulated", dependencies: ["CTandemKernels"],
                cSettings: [.unsafeFlags(["-O2", "-fno-math-errno", "-Wno-unused-function"])]),
        .target(name: "TandemKernels", dependencies: ["TandemCore", "CTandemKernels", "COpenBLAS"]),
        // Layer 3: Jinja templates as Hugging Face renders `chat_template` (core types only).
        .target(name: "TandemJinja", dependencies: ["TandemCore"], swiftSettings: [.unsafeFlags(["-O"])]),
        // Layer 3: model runtime (loaders, tokenizers, chat templates; `ModelRunner`, the one forward pass).
        .target(name: "TandemModel", dependencies: ["TandemCore", "TandemJinja", "TandemKernels", "CTandemKernels"]),
        // Layer 4: constrained decoding (JSON Schema, regex, GBNF → byte automaton → per-step
        // allowed-token masks over a token trie). Optimised even in debug builds: a mask is
        // computed on the sampling path.
        .target(name: "TandemGrammar", dependencies: ["TandemCore"], swiftSettings: [.unsafeFlags(["-O"])]),
        // Layer 4: pure engine state machines (sampler, KV blocks, scheduler): core types and grammar masks.
        .target(name: "TandemEngineCore", dependencies: ["TandemCore", "TandemGrammar"]),
        // Layer 4b: the engine that drives a model with those state machines.
        .target(name: "TandemEngine", dependencies: ["TandemCore", "TandemEngineCore", "TandemGrammar", "TandemModel",
                                                     .product(name: "Logging", package: "swift-log")]),
        // Layer 5: transport (Communicator: MPI, RDMA verbs, in-process).
        .target(name: "TandemTransport", dependencies: ["TandemCore", "CMPI", "CVerbs", "CRDMACM",
                                                        .product(name: "Logging", package: "swift-log")]),
        // Layer 6: cluster (coordinator and worker processes, the protobuf wire contract).
        .target(name: "CTandemWire", dependencies: ["CProtobufC"]),
        .target(name: "TandemCluster", dependencies: ["TandemCore", "TandemModel", "TandemEngineCore", "TandemEngine",
                                                      "TandemTransport", "CTandemWire",
                                                      .product(name: "Logging", package: "swift-log")]),
        // Layer 7: the OpenAI-compatible HTTP server that coordinators and the gateway both run:
        // routes, request validation, response and SSE rendering, `/metrics`, the internal-key
        // check, header names. No kernels, no transport, no HTTP client, no cryptography.
        .target(name: "TandemAPI", dependencies: [
            "TandemCore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // Layer 8a: the multi-tenant gateway in front of coordinators and external upstreams: API
        // keys, tenants, limits, routing, replicas, upstream client, key generation and salts.
        // Coordinators do not link it.
        // The gateway's configuration types (Codable, no server dependencies): what the gateway
        // decodes and what the topology generates, one declaration for both.
        .target(name: "TandemGatewayConfig"),
        .target(name: "TandemGateway", dependencies: [
            "TandemCore", "TandemAPI", "TandemGatewayConfig",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Layer 8b: the coordinator's serving glue: the engine behind the OpenAI-compatible HTTP API.
        .target(name: "TandemServing", dependencies: ["TandemCore", "TandemEngineCore", "TandemEngine", "TandemGrammar", "TandemModel",
                                                      "TandemCluster", "TandemAPI", "TandemTransport", "TandemKernels",
                                                      .product(name: "Logging", package: "swift-log")]),
        // Topology files: the operator's YAML, validated and turned into launch commands + gateway config.
        .target(name: "TandemTopology", dependencies: ["TandemCore", "TandemModel", "TandemEngineCore", "TandemGatewayConfig",
                                                       .product(name: "Yams", package: "Yams")]),
        // Load generator and statistics for `tandem bench` (pure parts + an AsyncHTTPClient SSE client).
        .target(name: "TandemBench", dependencies: ["TandemCore", "TandemGatewayConfig",
                                                    .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                    .product(name: "Yams", package: "Yams")]),
        // CLI.
        .executableTarget(name: "tandem", dependencies: [
            "TandemCore", "TandemKernels", "TandemJinja", "TandemModel", "TandemEngine", "TandemGrammar", "TandemTransport", "TandemAPI", "TandemGateway",
            "TandemCluster", "TandemServing", "TandemBench", "TandemTopology",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Fuzz targets for every reader of outside bytes (fuzz/README.md): libFuzzer entry point
        // in the -sanitize=fuzzer build (fuzz/run.sh), a corpus replayer in the ordinary one.
        .executableTarget(name: "tandem-fuzz", dependencies: ["TandemCore", "TandemModel", "TandemTopology", "TandemAPI", "TandemCluster"]),

        // Tests only: a second, one-token-at-a-time forward pass (`LlamaSession`) the paged,
        // batched and tensor-parallel paths of `ModelRunner` are compared with.
        .target(name: "TandemTestSupport", dependencies: ["TandemCore", "TandemKernels", "TandemModel", "CTandemKernels"],
                path: "Tests/TandemTestSupport"),
        .testTarget(name: "TandemCoreTests", dependencies: ["TandemCore"]),
        .testTarget(name: "TandemGrammarTests", dependencies: ["TandemGrammar", "TandemCore"]),
        .testTarget(name: "TandemJinjaTests", dependencies: ["TandemJinja", "TandemCore"]),
        .testTarget(name: "TandemKernelsTests", dependencies: ["TandemKernels", "CTandemKernels", "CTandemKernelsEmulated"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TandemModelTests", dependencies: ["TandemModel", "TandemEngine", "TandemTestSupport"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TandemEngineTests", dependencies: ["TandemEngineCore", "TandemEngine", "TandemGrammar", "TandemTestSupport"]),
        .testTarget(name: "TandemTransportTests", dependencies: ["TandemTransport"]),
        .testTarget(name: "TandemClusterTests", dependencies: ["TandemCluster", "TandemTestSupport"]),
        .testTarget(name: "TandemBenchTests", dependencies: ["TandemBench"]),
        // Tests only: `FakeBackend` (an `InferenceBackend` that plays a script) and helpers for the
        // route tests of the API server and of the gateway.
        .target(name: "TandemAPITestSupport", dependencies: ["TandemAPI", "TandemCore", .product(name: "Hummingbird", package: "hummingbird")],
                path: "Tests/TandemAPITestSupport"),
        .testTarget(name: "TandemAPITests", dependencies: ["TandemAPI", "TandemAPITestSupport", "TandemCore",
                                                          .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "TandemGatewayTests", dependencies: ["TandemGateway", "TandemAPI", "TandemAPITestSupport", "TandemCore",
                                                              .product(name: "HummingbirdTesting", package: "hummingbird")]),
        .testTarget(name: "TandemTopologyTests", dependencies: ["TandemTopology", "TandemCore", "TandemModel", "TandemEngineCore", "TandemGatewayConfig"]),
    ],
    swiftLanguageModes: [.v6]
)
