import DromosBalancer
import DromosWire

/// Keys, targets and timeouts the flow-table tests share.
enum Flows {
    static let vip = IPAddress.v4(IPv4Address(203, 0, 113, 10))
    static let vip6 = IPAddress.v6(IPv6Address(high: 0x2001_0db8_0000_0000, low: 0x10))
    /// The defaults a daemon runs with: syn 60 s, established 15 min, closing 2 min, udp 5 min.
    static let timeouts = FlowTimeouts(spec: FlowTableSpec())

    /// A client in 198.18.0.0/15 talking to the VIP's port 80.
    static func tcp(_ client: Int, port: UInt16 = 40_000) -> FlowKey {
        FlowKey(source: .v4(IPv4Address(rawValue: 0xc612_0000 | UInt32(client & 0x1_ffff))), destination: vip,
                ipProtocol: IPProtocolNumber.tcp, sourcePort: port, destinationPort: 80)
    }

    static func udp(_ client: Int, port: UInt16 = 50_000) -> FlowKey {
        FlowKey(source: .v4(IPv4Address(rawValue: 0xc612_0000 | UInt32(client & 0x1_ffff))), destination: vip,
                ipProtocol: IPProtocolNumber.udp, sourcePort: port, destinationPort: 53)
    }

    static func tcp6(_ client: Int, port: UInt16 = 40_000) -> FlowKey {
        FlowKey(source: .v6(IPv6Address(high: 0x2001_0db8_0001_0000, low: UInt64(client))), destination: vip6,
                ipProtocol: IPProtocolNumber.tcp, sourcePort: port, destinationPort: 443)
    }

    static func target(_ backend: Int, generation: UInt32 = 1) -> FlowTarget {
        FlowTarget(backend: .v4(IPv4Address(rawValue: 0xc612_0100 | UInt32(backend & 0xff))),
                   backendIndex: Int32(backend), generation: generation, servicePort: 80)
    }
}

enum Flags {
    static let syn = TCPFlag.syn
    static let fin = TCPFlag.fin
    static let synAck = TCPFlag.syn | TCPFlag.ack
    static let ack = TCPFlag.ack
    static let pshAck = TCPFlag.ack | 0x08
    static let finAck = TCPFlag.fin | TCPFlag.ack
    static let rst = TCPFlag.rst
    static let rstAck = TCPFlag.rst | TCPFlag.ack
    /// SYN with ECE and CWR: an ECN-setup SYN (RFC 3168) is still a plain SYN.
    static let ecnSyn = TCPFlag.syn | 0x40 | 0x80
}

extension FlowLookup {
    var handle: FlowHandle? {
        if case .found(let handle) = self { return handle }
        return nil
    }

    var expiredRecord: FlowRecord? {
        if case .expired(let record) = self { return record }
        return nil
    }

    var isMissing: Bool {
        if case .missing = self { return true }
        return false
    }
}
