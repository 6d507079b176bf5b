import CAllocationCounter
import DromosBalancer
import DromosIO
import DromosWire
import Foundation
import Testing

/// The worker loop on a live port: every generated frame is decided and the forwarded ones sent, with
/// no heap allocation per frame; counters add up.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class DatapathWorkerTests {
    let lab = NetworkLab()

    @Test func workerLoopForwardsEverythingWithoutAllocating() throws {
        let a = try lab.namespace("a")
        let b = try lab.namespace("b")
        try lab.veth("a0", in: a, "b0", in: b)
        let lab = self.lab
        let result = try lab.onThread { namespaces in
            try namespaces.enter(a)
            // The generator's frames go 198.18.0.1 → 198.18.0.2:20000/udp: make that a service.
            let service = ServiceSpec(
                name: "gen", key: ServiceKey(vip: .v4(IPv4Address(198, 18, 0, 2)), transport: .udp, port: 20_000),
                backends: [BackendSpec(address: .v4(IPv4Address(198, 18, 1, 1)), mac: MACAddress(rawValue: 0x02dd_0000_0009)),
                           BackendSpec(address: .v4(IPv4Address(198, 18, 1, 2)), mac: MACAddress(rawValue: 0x02dd_0000_000a))])
            let table = try ForwardingTable(generation: 1, services: [service])
            let publisher = TablePublisher(table)
            var settings = testConfiguration("a0")
            settings.fanout = .init(groupID: UInt16.random(in: 1...0xfff0))
            let worker = DatapathWorker(index: 0, port: try AFPacketPort(settings),
                                        balancer: BalancerWorker(table: table, flowTable: FlowTableSpec(capacity: 4_096)),
                                        publisher: publisher)
            let sender = try lab.start(b, Generator.raw(interface: "b0", count: 3_000, flows: 16, size: 120))
            // Warm up on the first frames, so one-time runtime work is outside the measurement.
            let warmUp = monotonicNanoseconds() + 20_000_000_000
            while worker.counters.forwarded == 0 && monotonicNanoseconds() < warmUp {
                if worker.runBatch(now: monotonicMilliseconds()) == 0 { _ = try? worker.port.waitForFrames(timeoutMilliseconds: 5) }
            }
            var allocations: UInt64 = 0
            let deadline = monotonicNanoseconds() + 20_000_000_000
            while monotonicNanoseconds() < deadline {
                let before = dromos_thread_allocation_count()
                let handled = worker.runBatch(now: monotonicMilliseconds())
                allocations += dromos_thread_allocation_count() - before
                if handled == 0 {
                    try? worker.port.updateKernelStatistics()
                    let statistics = worker.port.statistics
                    if statistics.kernelPackets >= 3_000 && statistics.received >= statistics.kernelDelivered { break }
                    _ = try? worker.port.waitForFrames(timeoutMilliseconds: 5)
                }
            }
            try sender.finish()
            // The control plane's read: asked from another thread, answered at a batch boundary.
            let answer = ReportBox()
            let mailbox = worker.mailbox
            let asker = Thread { answer.set(mailbox.ask(ReportRequest(flowsOf: service.key, flowLimit: 5), timeoutMilliseconds: 5_000)) }
            asker.start()
            let answerDeadline = monotonicNanoseconds() + 5_000_000_000
            while answer.get() == nil && monotonicNanoseconds() < answerDeadline {
                worker.runBatch(now: monotonicMilliseconds())
                usleep(1_000)
            }
            // A publication is adopted at the next batch boundary.
            let second = try ForwardingTable(generation: 2, services: [service])
            publisher.publish(second)
            worker.runBatch(now: monotonicMilliseconds())
            let adopted = worker.balancer.table === second
            try worker.port.updateKernelStatistics()
            return (worker.counters, allocations, worker.port.statistics.kernelDrops, worker.port.statistics.transmitted, adopted,
                    answer.get())
        }
        let (counters, allocations, drops, transmitted, adopted, report) = result
        let perBackend = report?.statistics.backends ?? []
        #expect(perBackend.map(\.packets).reduce(0, +) == counters.forwarded, "per-backend counts add up: \(perBackend)")
        #expect(perBackend.allSatisfy { $0.packets > 0 && $0.newFlows > 0 }, "16 flows reach both backends")
        #expect(report?.flows.count == 5 && report?.flows.allSatisfy { $0.key.destinationPort == 20_000 } == true)
        #expect(report?.ringDrops == drops)
        #expect(allocations == 0, "\(allocations) allocations for \(counters.forwarded) frames")
        #expect(counters.forwarded + drops >= 3_000, "\(counters)")
        #expect(counters.forwarded >= 1_000)
        #expect(counters.received == counters.forwarded + counters.passed + counters.dropped + counters.outgoing)
        #expect(transmitted == counters.forwarded)
        #expect(counters.adoptions == 1)
        #expect(adopted)
    }
}

final class ReportBox: @unchecked Sendable {
    private let lock = NSLock()
    private var report: WorkerReport?
    func set(_ value: WorkerReport?) { lock.withLock { report = value } }
    func get() -> WorkerReport? { lock.withLock { report } }
}
