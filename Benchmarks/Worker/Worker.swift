// The whole worker loop, as the daemon runs it, over a port in memory: `DatapathWorker.runBatch`
// receives a batch from a `MemoryPort` (no system call), decides each frame with a warm
// `BalancerWorker`, transmits the forwarded ones, flushes, expires idle flows, checks for a new table
// and stores its counters. Each measured iteration runs 20 batches of 50 frames: the scaled figures
// (`*`) are per frame, the per-batch work spread over the batch's frames. The difference to
// "Decide 4096 hot flows in 1M table" (the decision alone, same flows and table) is the loop's own cost.
//
// The second benchmark runs the same loop through a port type DatapathWorker has no specialization
// for: the generic loop, one indirect call through the witness table per transmit and per batch step,
// which is what the daemon ran before its port kinds were specialized. It is here to show the
// difference in the same run; it is not a loop the daemon runs.
//
// mallocCountTotal must stay 0 and the specialized loop's wall clock under its ceiling (see
// ../Thresholds and tools/bench.sh).

import Benchmark
import DromosBalancer
import DromosDatapath
import DromosIO
import DromosSystem
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
            // A ceiling, not a target: the stored p90 (ns per iteration of 1000 frames) may be exceeded
            // by 100% before the check fails, and a faster run never fails it. Wide, because the p90
            // doubles on this shared machine under load; it catches gross regressions (a system call
            // per frame, a loop gone quadratic), not the ~10% the specialization is worth, which
            // tools/specialization-check.sh guards instead.
            .wallClock: BenchmarkThresholds(relative: [.p90: 100], absolute: BenchmarkThresholds.Absolute.none),
        ]
    )

    Benchmark("Worker loop over MemoryPort 4096 hot flows", configuration: .init(setup: { Loops.specialized.check() })) { benchmark in
        let loop = Loops.specialized
        benchmark.startMeasurement()
        for _ in 0..<Loops.batchesPerIteration {
            blackHole(loop.worker.runBatch(now: Loops.now))
        }
        benchmark.stopMeasurement()
    }

    Benchmark("Worker loop over an unspecialized port 4096 hot flows", configuration: .init(setup: { Loops.unspecialized.check() })) { benchmark in
        let loop = Loops.unspecialized
        benchmark.startMeasurement()
        for _ in 0..<Loops.batchesPerIteration {
            blackHole(loop.worker.runBatch(now: Loops.now))
        }
        benchmark.stopMeasurement()
    }
}

/// A `MemoryPort` seen through a class of this module: `DatapathWorker` has no specialization for it, so
/// its loop is the generic one (the witness table for every port call), the loop before the port kinds
/// were specialized. Each call then reaches the memory port directly.
final class UnspecializedPort: PacketPort {
    let port: MemoryPort
    init(_ port: MemoryPort) { self.port = port }
    func receive(budget: Int, _ body: (inout ReceivedFrame) -> Void) -> Int { port.receive(budget: budget, body) }
    func transmit(_ frame: ReceivedFrame) -> Bool { port.transmit(frame) }
    func flush() { port.flush() }
    var fileDescriptor: Int32 { port.fileDescriptor }
    func waitForFrames(timeoutMilliseconds: Int32) throws(SystemCallError) -> Bool {
        try port.waitForFrames(timeoutMilliseconds: timeoutMilliseconds)
    }
    func refreshKernelStatistics() { port.refreshKernelStatistics() }
    var framesNotSent: UInt64 { port.framesNotSent }
    var framesTruncated: UInt64 { port.framesTruncated }
    var framesWithBadChecksums: UInt64 { port.framesWithBadChecksums }
    func currentRingDrops() -> UInt64 { port.currentRingDrops() }
}

/// A datapath worker over a ring of 4096 TCP frames, one per flow, every flow already in its flow table
/// (capacity 1M, as "Decide 4096 hot flows in 1M table"): each frame is forwarded.
final class WarmLoop<Port: PacketPort>: @unchecked Sendable {
    let memory: MemoryPort
    let worker: DatapathWorker<Port>

    init(wrap: (MemoryPort) -> Port) {
        memory = MemoryPort(frames: (0..<Loops.flowCount).map { Fixtures.tcpFrame(flow: $0) })
        let balancer = Fixtures.webBalancer()
        worker = DatapathWorker(index: 0, port: wrap(memory), balancer: balancer, publisher: TablePublisher(balancer.table),
                                budget: Loops.batch)
        // One round: every flow is new once, then known.
        for _ in 0..<(Loops.flowCount / Loops.batch + 1) { worker.runBatch(now: Loops.now) }
    }

    /// Stops the run unless every frame so far was forwarded to a known flow: timing a loop that drops
    /// or passes its frames measures nothing useful.
    func check() {
        let before = worker.counters
        let sentBefore = memory.transmitted
        let received = worker.runBatch(now: Loops.now)
        let after = worker.counters
        guard received == Loops.batch, after.forwarded - before.forwarded == UInt64(Loops.batch),
              memory.transmitted - sentBefore == UInt64(Loops.batch), worker.balancer.flows.count == Loops.flowCount else {
            fatalError("Worker loop fixture is not warm: \(after), \(worker.balancer.flows.count) flows")
        }
    }
}

/// The fixture's shape, the same for both loops, and the loops.
enum Loops {
    static let flowCount = 4_096
    static let batch = 50
    static let batchesPerIteration = 1_000 / batch
    /// Milliseconds; fixed, so no flow ever goes idle long enough to expire.
    static let now: UInt64 = 1_000

    // Built on first use, in the setup of the benchmark that uses it (each runs in its own process).
    static let specialized = WarmLoop<MemoryPort> { $0 }
    static let unspecialized = WarmLoop<UnspecializedPort> { UnspecializedPort($0) }
}
