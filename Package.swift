// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Dromos",
    products: [
        .executable(name: "dromos", targets: ["dromos"]),
        .library(name: "DromosWire", targets: ["DromosWire"]),
        .library(name: "DromosBalancer", targets: ["DromosBalancer"]),
        // DromosSystem, DromosIO and DromosDatapath for Benchmarks/ (the worker loop over `MemoryPort`).
        .library(name: "DromosSystem", targets: ["DromosSystem"]),
        .library(name: "DromosIO", targets: ["DromosIO"]),
        .library(name: "DromosDatapath", targets: ["DromosDatapath"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // Headers of the kernel's AF_PACKET ABI, plus one-liners Swift cannot express (see the header).
        .target(name: "CLinuxPacket"),
        // libxdp and libbpf (Debian's libxdp-dev, libbpf-dev) for --io xdp; the BPF source is in bpf/.
        .target(name: "CXDP", exclude: ["bpf"], linkerSettings: [.linkedLibrary("xdp"), .linkedLibrary("bpf")]),
        .executableTarget(name: "xdp-embed", swiftSettings: [.swiftLanguageMode(.v6)]),
        .plugin(name: "XDPProgram", capability: .buildTool(), dependencies: ["xdp-embed"]),
        .target(
            name: "DromosSystem",
            dependencies: ["CLinuxPacket", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: strict
        ),
        .target(name: "DromosWire", swiftSettings: strict),
        .target(name: "DromosBalancer", dependencies: ["DromosSystem", "DromosWire"], swiftSettings: strict),
        .target(name: "DromosIO", dependencies: ["DromosSystem", "DromosWire", "CPcap", "CLinuxPacket"], swiftSettings: strict),
        // The AF_XDP port and its XDP program: a module of its own, as libbpf's linux/bpf.h and libpcap's
        // pcap/bpf.h define `struct bpf_insn` differently and cannot meet in one module.
        .target(name: "DromosXDP", dependencies: ["DromosSystem", "DromosWire", "DromosIO", "CXDP"], swiftSettings: strict,
                plugins: ["XDPProgram"]),
        .target(
            name: "DromosDatapath", dependencies: ["DromosSystem", "DromosWire", "DromosBalancer", "DromosIO", "DromosXDP"],
            // LLVM's function merging folds the per-port specializations of the per-frame closure into one
            // that takes the port's `transmit` as a function pointer: an indirect call per frame again.
            swiftSettings: strict + [.unsafeFlags(["-Xfrontend", "-disable-llvm-merge-functions-pass"])]
        ),
        .target(
            name: "DromosConfig",
            dependencies: ["DromosSystem", "DromosWire", "DromosBalancer", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(
            name: "DromosHost",
            dependencies: [
                "DromosSystem", "DromosWire", "DromosBalancer", "DromosConfig", "DromosIO", "CLinuxPacket",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "DromosHealth",
            dependencies: [
                "CLinuxPacket", "DromosSystem", "DromosWire", "DromosBalancer", "DromosIO",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "DromosControlPlane",
            dependencies: [
                "DromosSystem", "DromosWire", "DromosBalancer", "DromosDatapath", "DromosConfig", "DromosHost", "DromosHealth",
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "DromosDaemon",
            dependencies: [
                "DromosSystem", "DromosWire", "DromosBalancer", "DromosIO", "DromosXDP", "DromosDatapath", "DromosConfig", "DromosHost",
                "DromosHealth", "DromosControlPlane", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "DromosOffline",
            dependencies: ["DromosWire", "DromosBalancer", "DromosIO", "DromosConfig"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "dromos",
            dependencies: [
                "DromosSystem", "DromosWire", "DromosIO", "DromosDatapath", "DromosConfig", "DromosHost", "DromosControlPlane",
                "DromosDaemon", "DromosOffline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        // The one lab every suite that starts processes or builds namespaces uses (not shipped).
        .target(
            name: "DromosLab",
            dependencies: [
                "CLinuxPacket",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            path: "Tests/DromosLab",
            swiftSettings: strict
        ),
        .testTarget(name: "DromosWireTests", dependencies: ["DromosWire", "CAllocationCounter"], swiftSettings: strict),
        .testTarget(
            name: "DromosBalancerTests",
            dependencies: ["DromosBalancer", "DromosSystem", "DromosWire", "CAllocationCounter"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DromosIOTests",
            dependencies: [
                "DromosSystem", "DromosIO", "DromosDatapath", "DromosBalancer", "DromosWire", "CAllocationCounter", "CLinuxPacket",
                "DromosLab",
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "DromosXDPTests", dependencies: ["DromosXDP", "DromosIO", "DromosWire", "DromosLab", "CAllocationCounter"], swiftSettings: strict),
        .testTarget(
            name: "DromosControlTests",
            dependencies: [
                "DromosSystem", "DromosWire", "DromosBalancer", "DromosIO", "DromosDatapath", "DromosConfig", "DromosHost",
                "DromosHealth", "DromosControlPlane", "DromosDaemon", "DromosOffline", "DromosLab", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["CLinuxPacket", "DromosLab", "dromos", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CorpusTests",
            dependencies: ["DromosWire", "DromosIO", "CAllocationCounter", "DromosLab", "dromos"],
            swiftSettings: strict
        ),
    ]
)
