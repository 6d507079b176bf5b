// swift-tools-version:6.1
// Benchmarks for Dromos, kept in their own package so that the main package does not depend on
// package-benchmark. Run from the repository root with `tools/bench.sh`, or directly:
//   swift package --package-path Benchmarks benchmark
import PackageDescription

let settings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "DromosBenchmarks",
    dependencies: [
        .package(name: "Dromos", path: ".."),
        // Only the MallocInterposer trait: it feeds mallocCountTotal. Naming the traits replaces the
        // defaults, which leaves out RuntimeInterposer (the ARC hooks, not used here).
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "Parsing",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "DromosWire", package: "Dromos"),
            ],
            path: "Parsing",
            swiftSettings: settings,
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        .executableTarget(
            name: "Balancer",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "DromosBalancer", package: "Dromos"),
                .product(name: "DromosWire", package: "Dromos"),
            ],
            path: "Balancer",
            swiftSettings: settings,
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
        .executableTarget(
            name: "Decide",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "DromosBalancer", package: "Dromos"),
                .product(name: "DromosWire", package: "Dromos"),
            ],
            path: "Decide",
            swiftSettings: settings,
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
