import CAllocationCounter
import DromosBalancer
import DromosDatapath
import DromosIO
import DromosSystem
import DromosWire
import DromosLab
import Foundation
import Testing

/// The worker loop on a live port, specialized for each port kind: every generated frame is decided
/// and the forwarded ones sent, with no heap allocation per frame; counters add up.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class DatapathWorkerTests {
    let lab = NetworkLab()

    /// What the kernel says the port saw, for both port kinds: all frames arrived, how many it dropped,
    /// how many the port sent.
    struct KernelView {
        var done: Bool
        var drops: UInt64
        var transmitted: UInt64
    }

    @Test func afpacketWorkerLoopForwardsEverythingWithoutAllocating() async throws {
        try await forwardsEverythingWithoutAllocating(offloadsOff: false) { interface, group in
            var settings = testConfiguration(interface)
            settings.fanout = .init(groupID: group)
            return try AFPacketPort(settings)
        } view: { port, count in
            try? port.updateKernelStatistics()
            let statistics = port.statistics
            return KernelView(done: statistics.kernelPackets >= count && statistics.received >= statistics.kernelDelivered,
                              drops: statistics.kernelDrops, transmitted: statistics.transmitted)
        }
    }

    @Test func pcapWorkerLoopForwardsEverythingWithoutAllocating() async throws {
        try await forwardsEverythingWithoutAllocating(offloadsOff: true) { interface, group in
            var settings = PcapLiveConfiguration(interface: interface)
            settings.bufferSize = 4 << 20
            settings.fanout = .init(groupID: group)
            return try PcapLivePort(settings)
        } view: { port, count in
            try? port.updateKernelStatistics()
            let statistics = port.statistics
            return KernelView(done: statistics.kernelReceived >= count
                                  && statistics.received + statistics.kernelDrops >= statistics.kernelReceived,
                              drops: statistics.kernelDrops, transmitted: statistics.transmitted)
        }
    }

    /// Frames the port cut short reach the worker's counters (the daemon warns about them): V2 slots
    /// of 256 bytes against 600-byte frames.
    @Test func framesCutShortByThePortAreCounted() async throws {
        let a = try await lab.namespace("a")
        let b = try await lab.namespace("b")
        try await lab.veth("a0", in: a, "b0", in: b)
        let lab = self.lab
        let counters = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            var settings = testConfiguration("a0", version: .v2)
            settings.frameSize = 256
            let table = try ForwardingTable(generation: 1, services: [])
            let worker = DatapathWorker(index: 0, port: try AFPacketPort(settings),
                                        balancer: BalancerWorker(table: table, flowTable: FlowTableSpec(capacity: 1_024)),
                                        publisher: TablePublisher(table))
            try namespaces.exec(b, Generator.raw(interface: "b0", count: 50, size: 600))
            let deadline = monotonicNanoseconds() + 60_000_000_000
            while worker.counters.truncated < 50 && monotonicNanoseconds() < deadline {
                if worker.runBatch(now: monotonicMilliseconds()) == 0 { _ = try? worker.port.waitForFrames(timeoutMilliseconds: 5) }
            }
            return worker.counters
        }
        #expect(counters.truncated >= 50, "\(counters)")
        #expect(counters.forwarded == 0 && counters.notSent == 0)
    }

    func forwardsEverythingWithoutAllocating<Port: PacketPort & SendableMetatype>(
        offloadsOff: Bool, open: @escaping @Sendable (String, UInt16) throws -> Port,
        view: @escaping @Sendable (Port, UInt64) -> KernelView
    ) async throws {
        let a = try await lab.namespace("a")
        let b = try await lab.namespace("b")
        try await lab.veth("a0", in: a, "b0", in: b)
        if offloadsOff {
            for (namespace, interface) in [(a, "a0"), (b, "b0")] {
                try await lab.exec(namespace, ["ethtool", "-K", interface, "tx", "off", "tso", "off", "gso", "off", "gro", "off"])
            }
        }
        let lab = self.lab
        let sent: UInt64 = 3_000
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            // The generator's frames go 198.18.0.1 → 198.18.0.2:20000/udp: make that a service.
            let service = ServiceSpec(
                name: "gen", key: ServiceKey(vip: .v4(IPv4Address(198, 18, 0, 2)), transport: .udp, port: 20_000),
                backends: [BackendSpec(address: .v4(IPv4Address(198, 18, 1, 1)), mac: MACAddress(rawValue: 0x02dd_0000_0009)),
                           BackendSpec(address: .v4(IPv4Address(198, 18, 1, 2)), mac: MACAddress(rawValue: 0x02dd_0000_000a))])
            let table = try ForwardingTable(generation: 1, services: [service])
            let publisher = TablePublisher(table)
            let worker = DatapathWorker(index: 0, port: try open("a0", UInt16.random(in: 1...0xfff0)),
                                        balancer: BalancerWorker(table: table, flowTable: FlowTableSpec(capacity: 4_096)),
                                        publisher: publisher)
            let sender = try namespaces.start(b, Generator.raw(interface: "b0", count: Int(sent), flows: 16, size: 120))
            // Warm up on the first frames, so one-time runtime work is outside the measurement.
            let warmUp = monotonicNanoseconds() + 60_000_000_000
            while worker.counters.forwarded == 0 && monotonicNanoseconds() < warmUp {
                if worker.runBatch(now: monotonicMilliseconds()) == 0 { _ = try? worker.port.waitForFrames(timeoutMilliseconds: 5) }
            }
            var allocations: UInt64 = 0
            let deadline = monotonicNanoseconds() + 60_000_000_000
            while monotonicNanoseconds() < deadline {
                let before = dromos_thread_allocation_count()
                let handled = worker.runBatch(now: monotonicMilliseconds())
                allocations += dromos_thread_allocation_count() - before
                if handled == 0 {
                    if view(worker.port, sent).done { break }
                    _ = try? worker.port.waitForFrames(timeoutMilliseconds: 5)
                }
            }
            try namespaces.finish(sender)
            // The control plane's read: asked from another thread, answered at a batch boundary.
            let answer = ReportBox()
            let mailbox = worker.mailbox
            let asker = Thread { answer.set(mailbox.ask(ReportRequest(flowsOf: service.key, flowLimit: 5), timeoutMilliseconds: 60_000)) }
            asker.start()
            let answerDeadline = monotonicNanoseconds() + 60_000_000_000
            while answer.get() == nil && monotonicNanoseconds() < answerDeadline {
                worker.runBatch(now: monotonicMilliseconds())
                usleep(1_000)
            }
            // A publication is adopted at the next batch boundary.
            let second = try ForwardingTable(generation: 2, services: [service])
            publisher.publish(second)
            worker.runBatch(now: monotonicMilliseconds())
            let adopted = worker.balancer.table === second
            return (worker.counters, allocations, view(worker.port, sent), adopted, answer.get())
        }
        let (counters, allocations, kernel, adopted, report) = result
        let perBackend = report?.statistics.backends ?? []
        #expect(perBackend.map(\.packets).reduce(0, +) == counters.forwarded, "per-backend counts add up: \(perBackend)")
        #expect(perBackend.allSatisfy { $0.packets > 0 && $0.newFlows > 0 }, "16 flows reach both backends")
        #expect(report?.flows.count == 5 && report?.flows.allSatisfy { $0.key.destinationPort == 20_000 } == true)
        #expect(report?.ringDrops == kernel.drops)
        #expect(allocations == 0, "\(allocations) allocations for \(counters.forwarded) frames")
        #expect(counters.forwarded + kernel.drops >= sent, "\(counters)")
        #expect(counters.forwarded >= 1_000)
        #expect(counters.received == counters.forwarded + counters.passed + counters.dropped + counters.outgoing)
        #expect(kernel.transmitted == counters.forwarded)
        #expect(counters.adoptions == 1)
        #expect(counters.notSent == 0 && counters.truncated == 0)
        #expect(adopted)
    }
}

final class ReportBox: @unchecked Sendable {
    private let lock = NSLock()
    private var report: WorkerReport?
    func set(_ value: WorkerReport?) { lock.withLock { report = value } }
    func get() -> WorkerReport? { lock.withLock { report } }
}
