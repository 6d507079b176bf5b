// Control-plane benchmarks for DromosBalancer: building a Maglev table at the default size (65,537
// slots), which the control plane does for every pool change. It happens off the packet path, but a
// pool flapping under health checks rebuilds often, so 1000 backends should build within 10 ms.
//
// Building allocates by design (the table, the permutation state), so there is no malloc threshold:
// mallocCountTotal is reported to show that the count stays a handful per build, not one per slot.
// Each measured iteration is one whole build; the pool is made when the suite registers.

import Benchmark
import DromosBalancer
import DromosWire

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // No `.instructions`: this VM has no hardware PMU (see Benchmarks/Parsing/Parsing.swift).
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 5,
        maxDuration: .seconds(3),
        maxIterations: 1_000
    )

    for backendCount in [10, 100, 1_000] {
        let pool = MaglevPool.equalWeights(backendCount)
        Benchmark("Maglev build \(backendCount) backends") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try MaglevTable.build(backends: pool, size: MaglevPool.tableSize))
            }
        } setup: {
            expectBuild(pool)
        }
    }
}

enum MaglevPool {
    static let tableSize = 65_537

    /// Backends in 198.18.0.0/15 (RFC 2544's benchmarking range), all of weight 1: the common case,
    /// where every backend claims a slot in every round.
    static func equalWeights(_ count: Int) -> [(identity: IPAddress, weight: Int)] {
        (0..<count).map { index in
            (identity: .v4(IPv4Address(rawValue: 0xc612_0000 + UInt32(index) + 1)), weight: 1)
        }
    }
}

/// Stops the run when the pool does not build into a full, balanced table: timing a build that throws
/// measures only the validation. A crash, not a thrown error, because package-benchmark 1.38.1 lists a
/// thrown setup error and still exits 0 (see Benchmarks/Parsing/Parsing.swift).
func expectBuild(_ pool: [(identity: IPAddress, weight: Int)]) {
    let table: [UInt32]
    do {
        table = try MaglevTable.build(backends: pool, size: MaglevPool.tableSize)
    } catch {
        fatalError("Maglev benchmark pool of \(pool.count) backends does not build: \(error)")
    }
    var counts = [Int](repeating: 0, count: pool.count)
    for owner in table { counts[Int(owner)] += 1 }
    let fairShare = MaglevPool.tableSize / pool.count
    if table.count != MaglevPool.tableSize || counts.min()! < fairShare || counts.max()! > fairShare + 1 {
        fatalError(
            "Maglev benchmark table for \(pool.count) backends is unbalanced: \(table.count) slots, "
                + "\(counts.min()!)...\(counts.max()!) per backend, expected \(fairShare) or \(fairShare + 1)"
        )
    }
}
