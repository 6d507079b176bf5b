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

/// A worker whose IPv4 and IPv6 VIPs are announced, and one question for each, written by the wire
/// builders.
final class NeighborResponder: @unchecked Sendable {
    static let shared = NeighborResponder()

    let table: ForwardingTable
    let worker: BalancerWorker
    let arpRequest: UnsafeMutableRawBufferPointer
    let solicitation: UnsafeMutableRawBufferPointer
    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 128, alignment: 64)

    private init() {
        let router = MACAddress(rawValue: 0x0200_0000_00fe)
        let backend = BackendSpec(address: .v4(IPv4Address(198, 18, 1, 11)), mac: MACAddress(rawValue: 0x0200_0000_0111))
        let vip6 = IPv6Address(high: 0x2001_0db8_ffff_0000, low: 0x10)
        let services = [
            ServiceSpec(name: "web", key: ServiceKey(vip: .v4(IPv4Address(203, 0, 113, 10)), transport: .tcp, port: 80),
                        backends: [backend], announce: .arp),
            ServiceSpec(name: "web6", key: ServiceKey(vip: .v6(vip6), transport: .tcp, port: 80),
                        backends: [BackendSpec(address: .v6(IPv6Address(high: 0x2001_0db8_0001_0000, low: 0x11)),
                                               mac: MACAddress(rawValue: 0x0200_0000_0121))], announce: .arp),
        ]
        table = try! ForwardingTable(generation: 1, services: services)
        worker = BalancerWorker(table: table, flowTable: FlowTableSpec(capacity: 1_024), sourceMAC: MACAddress(rawValue: 0x0200_0000_0001))
        let request = ARPMessage.request(for: IPv4Address(203, 0, 113, 10), from: IPv4Address(198, 18, 0, 254), at: router)
        let asking = NDPMessage.solicitation(for: vip6, from: IPv6Address(high: 0x2001_0db8_0000_0000, low: 0xfe), at: router)
        arpRequest = .allocate(byteCount: ARPFrame.messageLength + 14, alignment: 64)
        _ = ARPFrame.write(request, framing: EthernetFraming(destination: .broadcast, source: router), into: arpRequest)
        let framing = EthernetFraming(destination: .ipv6Multicast(asking.destination), source: router)
        solicitation = .allocate(byteCount: NDPFrame.length(of: asking, framing: framing), alignment: 64)
        _ = NDPFrame.write(asking, framing: framing, into: solicitation)
        guard answer(arpRequest) == .reply, answer(solicitation) == .reply else {
            fatalError("NeighborResponder fixture is not answered")
        }
    }

    @inline(__always)
    func answer(_ question: UnsafeMutableRawBufferPointer) -> Verdict {
        let frame = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<question.count])
        frame.copyMemory(from: UnsafeRawBufferPointer(question))
        return worker.decide(frame, now: 1_000).verdict
    }
}

/// One million TCP flows to one VIP, already in the worker's flow table, their frames side by side in
/// one buffer.
final class WarmDatapath: @unchecked Sendable {
    static let shared = WarmDatapath()

    static let flowCount = 1_000_000
    static let frameLength = 54
    static let stride = 64

    let worker: BalancerWorker
    let frames: UnsafeMutableRawBufferPointer
    var cursor = 0

    private init() {
        worker = Fixtures.webBalancer()
        frames = .allocate(byteCount: Self.flowCount * Self.stride, alignment: 64)
        frames.initializeMemory(as: UInt8.self, repeating: 0)
        for flow in 0..<Self.flowCount {
            writeFrame(flow)
            _ = worker.decide(frame(flow), now: 1_000)
        }
    }

    private func writeFrame(_ flow: Int) {
        let base = frames.baseAddress! + flow * Self.stride
        Fixtures.tcpFrame(flow: flow).withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }

    @inline(__always)
    func frame(_ flow: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: frames.baseAddress! + flow * Self.stride, count: Self.frameLength)
    }

    /// A large odd stride through the flows: consecutive frames land far apart in the table.
    @inline(__always)
    func next(_ flow: Int) -> Int {
        let next = flow + 611_953
        return next >= Self.flowCount ? next - Self.flowCount : next
    }

    func check() {
        let decision = worker.decide(frame(12_345), now: 1_000)
        guard decision.verdict == .forward, !decision.isNewFlow, worker.flows.count == Self.flowCount else {
            fatalError("Decide fixture is not warm: \(decision), \(worker.flows.count) flows")
        }
    }
}
