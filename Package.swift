// swift-tools-version:6.2
import PackageDescription

/// One set of settings for every Swift target (STYLE.md §1).
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // Generic types' metadata through their accessors, not by demangling a mangled name at first
    // use: a short-lived `wu sandbox exec` instantiates hundreds, each demangled once per process.
    .unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"]),
]

let package = Package(
    name: "wu",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "wu", targets: ["wu"]),
        .executable(name: "wu-cli", targets: ["wu-cli"]),
        .executable(name: "wu-orchestrator", targets: ["wu-orchestrator"]),
        .executable(name: "wu-runner", targets: ["wu-runner"]),
        .library(name: "WUCore", targets: ["WUCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // libarchive, reached directly from Swift.
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),
        // libseccomp's name table, reached directly from Swift (WUProfiles resolves syscall names with it).
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        // The only C: what must happen between clone() and execve().
        .target(
            name: "CSandbox",
            cSettings: [.define("_GNU_SOURCE")],
            linkerSettings: [.linkedLibrary("seccomp"), .linkedLibrary("cap")]
        ),
        .target(
            name: "WUCore",
            dependencies: [
                "CArchive",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // OCI images: read and pin one for `wu pack`, unpack layers safely. No sandbox, no store.
        .target(
            name: "WUImages",
            dependencies: ["WUCore", "CArchive", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WUProtocol",
            swiftSettings: swiftSettings
        ),
        // The profile model and its review (diff, lint, explain, admission): no sandbox, so the
        // orchestrator can check a requester's own profile.
        .target(
            name: "WUProfiles",
            dependencies: ["CSeccomp", "WUCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WUSandbox",
            dependencies: ["CSandbox", "WUCore", "WUProfiles", "WUProtocol"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WUOrchestrator",
            dependencies: [
                "WUCore", "WUProfiles", "WUProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The orchestrator's HTTP client (requester and runner routes): `wu submit`, `wait`, `status`
        // and `results` need it, and neither the runner nor the sandbox.
        .target(
            name: "WUClient",
            dependencies: [
                "WUCore", "WUProtocol",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WURunner",
            dependencies: [
                "WUCore", "WUProfiles", "WUProtocol", "WUSandbox", "WUClient",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // How `wu`, `wu-orchestrator` and `wu-runner` end: one `PROGRAM: error: …` line and a documented status.
        .target(
            name: "WUCommandLine",
            dependencies: ["WUCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: swiftSettings
        ),
        // `wu`: the lean front. Runs `wu sandbox exec` itself (the sandbox only, fast to start) and
        // hands every other command to `wu-cli`, the full command line, installed beside it.
        .executableTarget(
            name: "wu",
            dependencies: ["WUSandbox"],
            swiftSettings: swiftSettings,
            // Fully static (glibc, libseccomp, libcap, and libarchive with its own dependencies,
            // which WUCore brings in): no dynamic loader, no symbol binding, no shared library to
            // map, relocate or copy at each fork. That is a third of the command's CPU time.
            linkerSettings: [
                .unsafeFlags(["-static-executable"]),
                // In dependency order (static archives): `pkg-config --static --libs libarchive`, then libxml2's.
                .linkedLibrary("archive"), .linkedLibrary("nettle"), .linkedLibrary("acl"), .linkedLibrary("xml2"),
                .linkedLibrary("icuuc"), .linkedLibrary("icudata"), .linkedLibrary("lzma"), .linkedLibrary("zstd"),
                .linkedLibrary("lz4"), .linkedLibrary("bz2"), .linkedLibrary("z"),
                .linkedLibrary("seccomp"), .linkedLibrary("cap"), .linkedLibrary("stdc++"), .linkedLibrary("m"),
                // Not autolinked by FoundationEssentials; a debug build (no dead stripping) needs it.
                .linkedLibrary("_FoundationCollections"), .linkedLibrary("_FoundationCShims"),
            ]
        ),
        .executableTarget(
            name: "wu-cli",
            dependencies: [
                "WUCore", "WUImages", "WUProfiles", "WUProtocol", "WUSandbox", "WURunner", "WUClient", "WUCommandLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wu-orchestrator",
            dependencies: [
                "WUOrchestrator", "WUCore", "WUCommandLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wu-runner",
            dependencies: [
                "WURunner", "WUClient", "WUCore", "WUCommandLine", "WUProfiles",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // make bench-sandbox: in-process spawn-to-exit against bubblewrap (scripts/bench-sandbox.sh).
        .executableTarget(name: "wu-bench-sandbox", dependencies: ["WUSandbox", "WUProtocol"], swiftSettings: swiftSettings),
        // The fuzz harnesses (docs/fuzzing.md): what `make fuzz` drives and FuzzCorpusTests replays.
        .target(name: "WUFuzz", dependencies: ["WUCore", "WUProfiles", "CArchive"], path: "Fuzz/Harness", swiftSettings: swiftSettings),
        .testTarget(name: "WUCoreTests", dependencies: ["WUCore", "CArchive", "WUFuzz"], swiftSettings: swiftSettings),
        .testTarget(name: "WUImagesTests", dependencies: ["WUImages", "WUCore", "CArchive"], swiftSettings: swiftSettings),
        .testTarget(name: "WUSandboxTests", dependencies: ["WUSandbox", "WUProfiles", "CSandbox"], swiftSettings: swiftSettings),
        .testTarget(
            name: "WUOrchestratorTests",
            dependencies: [
                "WUOrchestrator",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        // HostileOrchestratorTests answer the real runner from a scripted server on loopback.
        .testTarget(
            name: "WURunnerTests",
            dependencies: [
                "WURunner", "WUClient", "WUSandbox", "WUCore", "WUProtocol",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // What the end-to-end and dashboard tests share: the real binaries on loopback (Cluster).
        .target(
            name: "WUTestSupport",
            dependencies: ["WUCore", "WUProtocol", "WURunner", "WUClient", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Tests/WUTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "EndToEndTests", dependencies: ["WUCore", "WUProfiles", "WUProtocol", "WURunner", "WUClient", "WUTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "DashboardTests",
            dependencies: [
                "WUOrchestrator", "WUCore", "WUProtocol", "WURunner", "WUClient", "WUTestSupport", .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)

// `make fuzz` only: the libFuzzer driver links libFuzzer's runtime, which an ordinary build does not
// have, so the target exists only when WU_FUZZ is set (its own build directory, .build-fuzz).
if Context.environment["WU_FUZZ"] != nil {
    package.targets.append(
        .executableTarget(name: "wu-fuzz", dependencies: ["WUFuzz"], path: "Fuzz/Driver", swiftSettings: swiftSettings)
    )
}
