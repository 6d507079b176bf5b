import DromosBalancer
import DromosWire

/// Builds real frames for a flow (the parser reads them like any other); checksums are left zero
/// because nothing on the balancer's path reads them.
enum TestFrames {
    static let balancerMAC = MACAddress(rawValue: 0x0200_0000_0001)
    static let routerMAC = MACAddress(rawValue: 0x0200_0000_00fe)

    static func tcp(_ flow: FlowKey, flags: UInt8 = TCPFlag.syn, payload: Int = 0) -> [UInt8] {
        var transport = ports(flow)
        transport += [0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]
        return ip(flow, protocolNumber: IPProtocolNumber.tcp, payload: transport + [UInt8](repeating: 0x61, count: payload))
    }

    static func udp(_ flow: FlowKey, payload: Int = 8) -> [UInt8] {
        let length = UInt16(8 + payload)
        var transport = ports(flow)
        transport += [UInt8(length >> 8), UInt8(length & 0xff), 0, 0]
        return ip(flow, protocolNumber: IPProtocolNumber.udp, payload: transport + [UInt8](repeating: 0x62, count: payload))
    }

    /// An IPv4 UDP datagram cut in two: the first fragment carries the UDP header, the later one not.
    static func udpFragments(_ flow: FlowKey, id: UInt16) -> (first: [UInt8], later: [UInt8]) {
        var header = ports(flow)
        header += [0, 32, 0, 0]
        let first = ip(flow, protocolNumber: IPProtocolNumber.udp, payload: header + [UInt8](repeating: 1, count: 8),
                       identification: id, flagsAndOffset: 0x2000)
        let later = ip(flow, protocolNumber: IPProtocolNumber.udp, payload: [UInt8](repeating: 2, count: 16),
                       identification: id, flagsAndOffset: 0x0002)
        return (first, later)
    }

    /// "Fragmentation needed" from a router about the backend's reply to `flow` (client→VIP).
    static func fragmentationNeeded(about flow: FlowKey, router: IPv4Address = IPv4Address(198, 51, 100, 1),
                                    sentTo destination: IPAddress? = nil) -> [UInt8] {
        let reply = flow.reversed
        let quoted = Array(tcp(reply, flags: TCPFlag.syn | TCPFlag.ack)[14..<(14 + 28)])
        let icmp: [UInt8] = [3, 4, 0, 0, 0, 0, 0x05, 0x78] + quoted
        let toVIP = FlowKey(source: .v4(router), destination: destination ?? flow.destination, ipProtocol: IPProtocolNumber.icmp)
        return ip(toVIP, protocolNumber: IPProtocolNumber.icmp, payload: icmp)
    }

    /// An IPv6 UDP datagram in two fragments with a destination-options header after the fragment
    /// header (RFC 8200 allows it): the later fragment cannot see the UDP header's protocol.
    static func udpFragmentsWithOptions(_ flow: FlowKey, id: UInt32) -> (first: [UInt8], later: [UInt8]) {
        let identification = [UInt8(id >> 24), UInt8(id >> 16 & 0xff), UInt8(id >> 8 & 0xff), UInt8(id & 0xff)]
        let options: [UInt8] = [IPProtocolNumber.udp, 0, 1, 4, 0, 0, 0, 0]
        let udpHeader = ports(flow) + [0, 40, 0, 0]
        let first = ip(flow, protocolNumber: IPProtocolNumber.ipv6Fragment,
                       payload: [IPProtocolNumber.ipv6DestinationOptions, 0, 0x00, 0x01] + identification + options + udpHeader + [UInt8](repeating: 1, count: 8))
        let later = ip(flow, protocolNumber: IPProtocolNumber.ipv6Fragment,
                       payload: [IPProtocolNumber.ipv6DestinationOptions, 0, 0x00, 0x18] + identification + [UInt8](repeating: 2, count: 16))
        return (first, later)
    }

    /// "Packet too big" from a router about the backend's IPv6 reply to `flow` (client→VIP).
    static func packetTooBig(about flow: FlowKey, router: IPv6Address) -> [UInt8] {
        let reply = flow.reversed
        let quoted = Array(tcp(reply, flags: TCPFlag.syn | TCPFlag.ack)[14..<(14 + 48)])
        let icmp: [UInt8] = [2, 0, 0, 0, 0, 0, 0x05, 0x00] + quoted
        let toVIP = FlowKey(source: .v6(router), destination: flow.destination, ipProtocol: IPProtocolNumber.icmpv6)
        return ip(toVIP, protocolNumber: IPProtocolNumber.icmpv6, payload: icmp)
    }

    static func icmpEcho(_ flow: FlowKey) -> [UInt8] {
        ip(flow, protocolNumber: IPProtocolNumber.icmp, payload: [8, 0, 0, 0, 0, 1, 0, 1])
    }

    private static func ports(_ flow: FlowKey) -> [UInt8] {
        [UInt8(flow.sourcePort >> 8), UInt8(flow.sourcePort & 0xff),
         UInt8(flow.destinationPort >> 8), UInt8(flow.destinationPort & 0xff)]
    }

    private static func ip(_ flow: FlowKey, protocolNumber: UInt8, payload: [UInt8],
                           identification: UInt16 = 0x1c46, flagsAndOffset: UInt16 = 0x4000) -> [UInt8] {
        let macs = bytes(of: balancerMAC) + bytes(of: routerMAC)
        switch (flow.source, flow.destination) {
        case (.v4(let source), .v4(let destination)):
            let total = UInt16(20 + payload.count)
            var header: [UInt8] = [0x45, 0, UInt8(total >> 8), UInt8(total & 0xff),
                                   UInt8(identification >> 8), UInt8(identification & 0xff),
                                   UInt8(flagsAndOffset >> 8), UInt8(flagsAndOffset & 0xff), 64, protocolNumber, 0, 0]
            header += bytes(of: source.rawValue) + bytes(of: destination.rawValue)
            return macs + [0x08, 0x00] + header + payload
        case (.v6(let source), .v6(let destination)):
            let length = UInt16(payload.count)
            var header: [UInt8] = [0x60, 0, 0, 0, UInt8(length >> 8), UInt8(length & 0xff), protocolNumber, 64]
            header += bytes(of: source.high) + bytes(of: source.low) + bytes(of: destination.high) + bytes(of: destination.low)
            return macs + [0x86, 0xdd] + header + payload
        default:
            preconditionFailure("a flow's addresses share a family")
        }
    }

    private static func bytes(of mac: MACAddress) -> [UInt8] { mac.octets }

    private static func bytes<T: FixedWidthInteger>(of value: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }
}

/// A worker and its table over a fake clock, with the frames it forwarded.
final class Harness {
    var table: ForwardingTable
    let worker: BalancerWorker
    var now: UInt64 = 1_000_000
    private var generation: UInt32 = 1

    init(_ services: [ServiceSpec], flows: FlowTableSpec = FlowTableSpec(capacity: 4_096),
         states: [BackendKey: BackendState] = [:]) throws {
        table = try ForwardingTable(generation: generation, services: services, states: states)
        worker = BalancerWorker(table: table, flowTable: flows, sourceMAC: TestFrames.balancerMAC)
    }

    /// Publishes a new table; `generation` defaults to the next number, but a publisher may repeat one.
    func publish(_ services: [ServiceSpec], states: [BackendKey: BackendState] = [:], generation: UInt32? = nil) throws {
        self.generation = generation ?? self.generation + 1
        table = try ForwardingTable(generation: self.generation, services: services, states: states)
        worker.adopt(table)
    }

    /// Decides on a copy of `frame`; returns the decision and the frame as it would leave.
    func send(_ frame: [UInt8], wireLength: Int? = nil) -> (decision: Decision, frame: [UInt8]) {
        var bytes = frame
        let decision = bytes.withUnsafeMutableBytes { worker.decide($0, wireLength: wireLength, now: now) }
        return (decision, bytes)
    }

    /// The backend address a frame went to, or nil when it was not forwarded.
    func backend(_ frame: [UInt8]) -> IPAddress? {
        let decision = send(frame).decision
        return decision.verdict == .forward ? table.backendAddress(decision.backendIndex) : nil
    }
}

func address(_ text: String) -> IPAddress { try! IPAddress(parsing: text) }

func mac(_ text: String) -> MACAddress { try! MACAddress(parsing: text) }

let vip = address("203.0.113.10")

func webService(scheduler: SchedulerKind = .maglev, weights: [Int] = [1, 1, 1], port: UInt16? = 80,
                transport: TransportProtocol = .tcp, tableSize: Int = 65_537) -> ServiceSpec {
    ServiceSpec(
        name: "web", key: ServiceKey(vip: vip, transport: transport, port: port), scheduler: scheduler,
        maglevTableSize: tableSize,
        backends: weights.enumerated().map { index, weight in
            BackendSpec(address: address("198.18.1.\(11 + index)"), weight: weight,
                        mac: MACAddress(rawValue: 0x0200_0000_0111 + UInt64(index)))
        })
}

func clientFlow(_ number: Int, port: UInt16 = 80, to destination: IPAddress = vip) -> FlowKey {
    FlowKey(source: .v4(IPv4Address(rawValue: 0xc633_6400 &+ UInt32(number % 250))), destination: destination,
            ipProtocol: IPProtocolNumber.tcp, sourcePort: UInt16(20_000 + number / 250), destinationPort: port)
}
