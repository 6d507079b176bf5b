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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
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
                "DromosWire", "DromosBalancer", "DromosIO", .product(name: "Yams", package: "Yams"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "dromos",
            dependencies: [
                "DromosControl",
                "DromosIO",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .target(name: "CAllocationCounter", path: "Tests/CAllocationCounter"),
        .testTarget(name: "DromosWireTests", dependencies: ["DromosWire", "CAllocationCounter"], swiftSettings: strict),
        .testTarget(
            name: "DromosBalancerTests",
            dependencies: ["DromosBalancer", "DromosWire", "CAllocationCounter"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DromosIOTests",
            dependencies: ["DromosIO", "DromosWire", "CAllocationCounter", "CLinuxPacket"],
            swiftSettings: strict
        ),
        .testTarget(name: "DromosControlTests", dependencies: ["DromosControl", "DromosIO"], swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["CLinuxPacket", "dromos"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "CorpusTests",
            dependencies: ["DromosWire", "DromosIO", "CAllocationCounter", "dromos"],
            swiftSettings: strict
        ),
    ]
)
