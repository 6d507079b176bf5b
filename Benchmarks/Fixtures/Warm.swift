// The warm balancers the Decide benchmarks measure, shared with `tools/instructions.sh`, which counts
// the instructions of the same loops over the same state.

public import DromosBalancer
import DromosWire

/// A worker whose IPv4 and IPv6 VIPs are announced, and one question for each, written by the wire
/// builders.
public final class NeighborResponder: @unchecked Sendable {
    public static let shared = NeighborResponder()

    public let table: ForwardingTable
    public let worker: BalancerWorker
    public let arpRequest: UnsafeMutableRawBufferPointer
    public let solicitation: UnsafeMutableRawBufferPointer
    public let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 128, alignment: 64)

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

    @inlinable @inline(__always)
    public func answer(_ question: UnsafeMutableRawBufferPointer) -> Verdict {
        let frame = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<question.count])
        frame.copyMemory(from: UnsafeRawBufferPointer(question))
        return worker.decide(frame, now: 1_000).verdict
    }
}

/// One million TCP flows to one VIP, already in the worker's flow table, their frames side by side in
/// one buffer.
public final class WarmDatapath: @unchecked Sendable {
    public static let shared = WarmDatapath()

    // Computed, so that the inlined `frame` and `next` read constants, not lazily initialized globals.
    @inlinable public static var flowCount: Int { 1_000_000 }
    @inlinable public static var frameLength: Int { 54 }
    @inlinable public static var stride: Int { 64 }

    public let worker: BalancerWorker
    public let frames: UnsafeMutableRawBufferPointer
    public var cursor = 0

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

    @inlinable @inline(__always)
    public func frame(_ flow: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: frames.baseAddress! + flow * Self.stride, count: Self.frameLength)
    }

    /// A large odd stride through the flows: consecutive frames land far apart in the table.
    @inlinable @inline(__always)
    public func next(_ flow: Int) -> Int {
        let next = flow + 611_953
        return next >= Self.flowCount ? next - Self.flowCount : next
    }

    public func check() {
        let decision = worker.decide(frame(12_345), now: 1_000)
        guard decision.verdict == .forward, !decision.isNewFlow, worker.flows.count == Self.flowCount else {
            fatalError("Decide fixture is not warm: \(decision), \(worker.flows.count) flows")
        }
    }
}
