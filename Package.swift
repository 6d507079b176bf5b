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
        // For Benchmarks/ (the worker loop over `MemoryPort`).
        .library(name: "DromosIO", targets: ["DromosIO"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // Headers of the kernel's AF_PACKET ABI, plus one-liners Swift cannot express (see the header).
        .target(name: "CLinuxPacket"),
        .target(name: "DromosWire", swiftSettings: strict),
        .target(name: "DromosBalancer", dependencies: ["DromosWire"], swiftSettings: strict),
        .target(name: "DromosIO", dependencies: ["DromosWire", "DromosBalancer", "CPcap", "CLinuxPacket"], swiftSettings: strict),
        .target(
            name: "DromosControl",
            dependencies: [
                "DromosWire", "DromosBalancer", "DromosIO",
                .product(name: "Yams", package: "Yams"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "dromos",
            dependencies: [
                "DromosControl",
                "DromosIO",
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
            dependencies: ["DromosBalancer", "DromosWire", "CAllocationCounter"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DromosIOTests",
            dependencies: ["DromosIO", "DromosWire", "CAllocationCounter", "CLinuxPacket", "DromosLab"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DromosControlTests",
            dependencies: ["DromosControl", "DromosIO", "DromosLab", .product(name: "Logging", package: "swift-log")],
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
