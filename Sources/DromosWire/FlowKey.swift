/// The five-tuple the scheduler hashes. Ports are zero when the frame has none (see
/// `ParsedFrame.hasPorts`); for an ICMP error it is the client→VIP flow that the quoted header describes.
///
/// Stored as five words, the form the flow table compares and both hashes read: building the key
/// from a frame is five stores, and no per-frame code builds or switches on an `IPAddress`. Each
/// address is two host-order halves (IPv4 in the low half, high half zero); `rest` holds the ports,
/// the protocol and a family bit per address, so an IPv4 address never equals the IPv6 address with
/// the same low bits. Every value has exactly one encoding, so equality of the words is equality of
/// the tuples: set the words directly only in that encoding (the typed properties keep it).
public struct FlowKey: Hashable, Sendable {
    public var sourceHigh: UInt64
    public var sourceLow: UInt64
    public var destinationHigh: UInt64
    public var destinationLow: UInt64
    /// `sourcePort << 48 | destinationPort << 32 | ipProtocol << 8 | family bits`.
    public var rest: UInt64

    @inlinable public static var sourceIsIPv6: UInt64 { 1 }
    @inlinable public static var destinationIsIPv6: UInt64 { 2 }

    @inlinable
    public init(source: IPAddress, destination: IPAddress, ipProtocol: UInt8, sourcePort: UInt16 = 0, destinationPort: UInt16 = 0) {
        let source = source.flowKeyWords
        let destination = destination.flowKeyWords
        self.init(sourceHigh: source.high, sourceLow: source.low, destinationHigh: destination.high,
                  destinationLow: destination.low,
                  rest: Self.rest(ipProtocol: ipProtocol, sourcePort: sourcePort, destinationPort: destinationPort)
                      | (source.isIPv6 ? Self.sourceIsIPv6 : 0) | (destination.isIPv6 ? Self.destinationIsIPv6 : 0))
    }

    /// From the canonical words (an IPv4 address zero-extended): the parser's and the flow table's way in.
    @inlinable
    public init(sourceHigh: UInt64, sourceLow: UInt64, destinationHigh: UInt64, destinationLow: UInt64, rest: UInt64) {
        self.sourceHigh = sourceHigh
        self.sourceLow = sourceLow
        self.destinationHigh = destinationHigh
        self.destinationLow = destinationLow
        self.rest = rest
    }

    @inlinable
    public static func rest(ipProtocol: UInt8, sourcePort: UInt16, destinationPort: UInt16) -> UInt64 {
        UInt64(sourcePort) << 48 | UInt64(destinationPort) << 32 | UInt64(ipProtocol) << 8
    }

    public var source: IPAddress {
        @inlinable get { IPAddress(flowKeyHigh: sourceHigh, low: sourceLow, isIPv6: rest & Self.sourceIsIPv6 != 0) }
        @inlinable set {
            let words = newValue.flowKeyWords
            sourceHigh = words.high
            sourceLow = words.low
            rest = rest & ~Self.sourceIsIPv6 | (words.isIPv6 ? Self.sourceIsIPv6 : 0)
        }
    }

    public var destination: IPAddress {
        @inlinable get {
            IPAddress(flowKeyHigh: destinationHigh, low: destinationLow, isIPv6: rest & Self.destinationIsIPv6 != 0)
        }
        @inlinable set {
            let words = newValue.flowKeyWords
            destinationHigh = words.high
            destinationLow = words.low
            rest = rest & ~Self.destinationIsIPv6 | (words.isIPv6 ? Self.destinationIsIPv6 : 0)
        }
    }

    @inlinable public var destinationIsIPv6: Bool { rest & Self.destinationIsIPv6 != 0 }

    public var ipProtocol: UInt8 {
        @inlinable get { UInt8(truncatingIfNeeded: rest >> 8) }
        @inlinable set { rest = rest & ~(0xff << 8) | UInt64(newValue) << 8 }
    }

    public var sourcePort: UInt16 {
        @inlinable get { UInt16(truncatingIfNeeded: rest >> 48) }
        @inlinable set { rest = rest & ~(0xffff << 48) | UInt64(newValue) << 48 }
    }

    public var destinationPort: UInt16 {
        @inlinable get { UInt16(truncatingIfNeeded: rest >> 32) }
        @inlinable set { rest = rest & ~(0xffff << 32) | UInt64(newValue) << 32 }
    }

    /// Both ports at once, as the parser reads them: one 32-bit load of the transport header.
    @inlinable
    public mutating func setPorts(_ ports: UInt32) {
        rest = rest & 0xffff_ffff | UInt64(ports) << 32
    }

    /// The same flow seen from the other end.
    @inlinable
    public var reversed: FlowKey {
        let families = (rest & Self.sourceIsIPv6) << 1 | (rest & Self.destinationIsIPv6) >> 1
        return FlowKey(sourceHigh: destinationHigh, sourceLow: destinationLow, destinationHigh: sourceHigh,
                       destinationLow: sourceLow,
                       rest: Self.rest(ipProtocol: ipProtocol, sourcePort: destinationPort, destinationPort: sourcePort)
                           | families)
    }
}

extension IPAddress {
    /// The halves `FlowKey` stores: IPv4 zero-extended into the low half.
    @inlinable
    public var flowKeyWords: (high: UInt64, low: UInt64, isIPv6: Bool) {
        switch self {
        case .v4(let address): return (0, UInt64(address.rawValue), false)
        case .v6(let address): return (address.high, address.low, true)
        }
    }

    @inlinable
    public init(flowKeyHigh high: UInt64, low: UInt64, isIPv6: Bool) {
        self = isIPv6 ? .v6(IPv6Address(high: high, low: low)) : .v4(IPv4Address(rawValue: UInt32(truncatingIfNeeded: low)))
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
