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

/// One executable per area, each with the benchmark plugin and the Dromos libraries it measures.
func benchmarkTarget(_ name: String, measuring libraries: [String], fixtures: Bool = false) -> Target {
    .executableTarget(
        name: name,
        dependencies: [.product(name: "Benchmark", package: "benchmark")]
            + libraries.map { .product(name: $0, package: "Dromos") }
            + (fixtures ? ["Fixtures"] : []),
        path: name,
        swiftSettings: settings,
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

let package = Package(
    name: "DromosBenchmarks",
    dependencies: [
        .package(name: "Dromos", path: ".."),
        // Only the MallocInterposer trait: it feeds mallocCountTotal. Naming the traits replaces the
        // defaults, which leaves out RuntimeInterposer (the ARC hooks, not used here).
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        benchmarkTarget("Parsing", measuring: ["DromosWire"], fixtures: true),
        benchmarkTarget("Balancer", measuring: ["DromosBalancer", "DromosWire"]),
        benchmarkTarget("Decide", measuring: ["DromosBalancer", "DromosWire"], fixtures: true),
        benchmarkTarget("Worker", measuring: ["DromosSystem", "DromosIO", "DromosDatapath", "DromosBalancer", "DromosWire"], fixtures: true),
        .target(
            name: "Fixtures",
            dependencies: [.product(name: "DromosBalancer", package: "Dromos"), .product(name: "DromosWire", package: "Dromos")],
            path: "Fixtures",
            swiftSettings: settings
        ),
    ]
)
