// The per-frame decision on a warm datapath: a flow table holding a million flows and frames of flows it
// already knows (parse, service lookup, flow lookup and refresh, MAC rewrite, counters). Each measured
// iteration decides 1000 frames, so the scaled figures are per frame.
//
// mallocCountTotal must stay 0 (see ../Thresholds and tools/bench.sh).

import Benchmark
import DromosBalancer
import DromosWire
import Fixtures

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 100_000,
        thresholds: [
            .mallocCountTotal: BenchmarkThresholds(
                relative: BenchmarkThresholds.Relative.none,
                absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0]
            ),
        ]
    )

    // Every frame a different one of the million flows, far from the last: each decision pays for
    // cache and TLB misses in the flow table, as under a flood of many small flows.
    Benchmark("Decide 1M flows scattered", configuration: .init(setup: { WarmDatapath.shared.check() })) { benchmark in
        let datapath = WarmDatapath.shared
        var position = datapath.cursor
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(datapath.worker.decide(datapath.frame(position), now: 1_000))
            position = datapath.next(position)
        }
        benchmark.stopMeasurement()
        datapath.cursor = position
    }

    // The same full table, with traffic from a working set of 4096 flows: the entries stay in cache, as
    // when a balancer carries fewer busy flows than it remembers.
    Benchmark("Decide 4096 hot flows in 1M table", configuration: .init(setup: { WarmDatapath.shared.check() })) { benchmark in
        let datapath = WarmDatapath.shared
        var position = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(datapath.worker.decide(datapath.frame(position), now: 1_000))
            position = (position + 1) & 4_095
        }
        benchmark.stopMeasurement()
    }

    // `announce: arp`: a question for the VIP answered in place. The answer overwrites the question, so
    // each decision first copies the question back (42 or 86 bytes; part of the figure).
    Benchmark("Answer ARP request for an announced VIP") { benchmark in
        let responder = NeighborResponder.shared
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(responder.answer(responder.arpRequest))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Answer neighbor solicitation for an announced VIP") { benchmark in
        let responder = NeighborResponder.shared
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(responder.answer(responder.solicitation))
        }
        benchmark.stopMeasurement()
    }
}
