import CAllocationCounter
import DromosBalancer
import DromosDatapath
import DromosIO
import DromosWire
import Testing

/// The worker loop over a `MemoryPort` (no root, no namespace): the loop the benchmark measures forwards
/// every frame without a heap allocation per frame, its counters add up, and `run` drains a finite
/// supply and stops.
@Suite struct MemoryPortWorkerTests {
    static let vip = IPv4Address(203, 0, 113, 10)

    /// Ethernet + IPv4 (198.51.100.x → the VIP) + TCP ACK to port 80, one client address per flow.
    static func frame(flow: Int) -> [UInt8] {
        [0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0xfe, 0x08, 0x00,
         0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0,
         198, 51, UInt8(flow >> 8 & 0xff), UInt8(flow & 0xff), 203, 0, 113, 10,
         0x27, 0x10, 0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]
    }

    static func worker(_ port: MemoryPort) throws -> DatapathWorker<MemoryPort> {
        let service = ServiceSpec(
            name: "web", key: ServiceKey(vip: .v4(vip), transport: .tcp, port: 80),
            backends: [BackendSpec(address: .v4(IPv4Address(198, 18, 1, 11)), mac: MACAddress(rawValue: 0x0200_0000_0111)),
                       BackendSpec(address: .v4(IPv4Address(198, 18, 1, 12)), mac: MACAddress(rawValue: 0x0200_0000_0112))])
        let table = try ForwardingTable(generation: 1, services: [service])
        return DatapathWorker(index: 0, port: port, balancer: BalancerWorker(table: table, flowTable: FlowTableSpec(capacity: 4_096)),
                              publisher: TablePublisher(table))
    }

    @Test func workerLoopOverMemoryForwardsEverythingWithoutAllocating() throws {
        let port = MemoryPort(frames: (0..<256).map { Self.frame(flow: $0) })
        let worker = try Self.worker(port)
        // Warm up: every flow is new once, and one-time runtime work happens outside the measurement.
        for _ in 0..<8 { worker.runBatch(now: 1_000) }
        let warm = worker.counters
        var allocations: UInt64 = 0
        for _ in 0..<200 {
            let before = dromos_thread_allocation_count()
            worker.runBatch(now: 1_000)
            allocations += dromos_thread_allocation_count() - before
        }
        let counters = worker.counters
        let frames = counters.received - warm.received
        #expect(frames == 200 * UInt64(worker.budget))
        #expect(allocations == 0, "\(allocations) allocations for \(frames) frames")
        #expect(counters.forwarded == counters.received && counters.passed == 0 && counters.dropped == 0, "\(counters)")
        #expect(port.transmitted == counters.forwarded && port.received == counters.received)
        #expect(port.transmittedBytes == 54 * port.transmitted)
        let backends = worker.balancer.statistics().backends
        #expect(backends.count == 2 && backends.allSatisfy { $0.packets > 0 }, "256 flows reach both backends: \(backends)")
    }

    @Test func runDrainsAFiniteSupplyAndStops() throws {
        let port = MemoryPort(frames: (0..<10).map { Self.frame(flow: $0) }, remaining: 1_000)
        let worker = try Self.worker(port)
        worker.run { true }
        #expect(worker.counters.received == 1_000 && port.remaining == 0)
        #expect(worker.counters.forwarded == 1_000 && port.transmitted == 1_000)
        #expect(try !port.waitForFrames(timeoutMilliseconds: 0))
    }

    /// Frames the host sent itself (packet type 4) are counted, not decided, not sent.
    @Test func outgoingFramesAreNotForwarded() throws {
        let port = MemoryPort(frames: [Self.frame(flow: 1)], packetType: 4)
        let worker = try Self.worker(port)
        #expect(worker.runBatch(now: 1_000) == worker.budget)
        #expect(worker.counters.outgoing == UInt64(worker.budget) && worker.counters.forwarded == 0 && port.transmitted == 0)
    }
}
