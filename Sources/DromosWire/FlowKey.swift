/// The five-tuple the scheduler hashes. Ports are zero when the frame has none (see
/// `ParsedFrame.hasPorts`); for an ICMP error it is the client→VIP flow that the quoted header describes.
public struct FlowKey: Hashable, Sendable {
    public var source: IPAddress
    public var destination: IPAddress
    public var ipProtocol: UInt8
    public var sourcePort: UInt16
    public var destinationPort: UInt16

    @inlinable
    public init(source: IPAddress, destination: IPAddress, ipProtocol: UInt8, sourcePort: UInt16 = 0, destinationPort: UInt16 = 0) {
        self.source = source
        self.destination = destination
        self.ipProtocol = ipProtocol
        self.sourcePort = sourcePort
        self.destinationPort = destinationPort
    }

    /// The same flow seen from the other end.
    @inlinable
    public var reversed: FlowKey {
        FlowKey(source: destination, destination: source, ipProtocol: ipProtocol,
                sourcePort: destinationPort, destinationPort: sourcePort)
    }
}

/// IANA protocol numbers the parser gives meaning to.
public enum IPProtocolNumber {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let icmpv6: UInt8 = 58
    public static let ipv6HopByHop: UInt8 = 0
    public static let ipv6Routing: UInt8 = 43
    public static let ipv6Fragment: UInt8 = 44
    public static let authenticationHeader: UInt8 = 51
    public static let ipv6DestinationOptions: UInt8 = 60
}

public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let ipv6: UInt16 = 0x86dd
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88a8
    /// The pre-standard QinQ tag some switches still send.
    public static let qinqLegacy: UInt16 = 0x9100

    @inlinable
    public static func isVLANTag(_ type: UInt16) -> Bool {
        type == vlan || type == qinq || type == qinqLegacy
    }
}
