/// What the parser learned about one frame: offsets into the caller's bytes and a few decoded values.
/// A plain value of trivial fields, so producing one allocates nothing.
///
/// Laid out for the packet path: 130 bytes, no optionals and no enums with payloads, so the parser
/// fills it with plain stores and a caller that inlines the parser keeps only the fields it reads.
/// The flow is stored as `key` and a flag (`flow` is computed); the ARP message and an ICMP error's
/// destination share three words (a frame has at most one of them); the offsets before the transport
/// header are narrow, since no header chain the parser accepts reaches past 16,446 bytes (22 of Ethernet and
/// tags, 40 of IPv6, eight extension headers of 2,048).
public struct ParsedFrame: Sendable {
    /// The flow's words; meaningful only when `flow` is not nil (`hasFlow`).
    public var key: FlowKey
    public var destinationMAC: MACAddress
    public var sourceMAC: MACAddress
    public var capturedLength: Int
    /// The frame's length on the wire; above `capturedLength` when a capture or ring slot cut it.
    public var wireLength: Int
    /// The end of the IP datagram by its own length field (Ethernet padding lies beyond it).
    public var l3End: Int
    /// An ARP message (`operation << 48 | senderMAC`, `targetMAC`, `senderIP << 32 | targetIP`), or an
    /// ICMP error's destination (high and low halves, as `FlowKey` stores an address).
    @usableFromInline var extra0: UInt64
    @usableFromInline var extra1: UInt64
    @usableFromInline var extra2: UInt64
    /// IPv4 identification or IPv6 fragment-header identification; with the addresses and protocol it
    /// names the datagram that fragments belong to.
    public var fragmentID: UInt32
    /// The first tag after the source MAC (the service tag in QinQ).
    public var outerVLAN: VLANTag
    public var innerVLAN: VLANTag
    /// The EtherType after all tags.
    public var etherType: UInt16
    /// At most 14 + 2 tags of 4.
    @usableFromInline var _l3Offset: UInt16
    /// At most 22 + 40 + 8 extension headers of at most 2 KiB each (`maxIPv6ExtensionHeaders`).
    @usableFromInline var _l4Offset: UInt16
    public var status: ParseStatus
    public var l3: L3Kind
    /// The upper-layer protocol: the last next-header of an IPv6 chain.
    public var ipProtocol: UInt8
    public var fragment: FragmentKind
    /// The protocol that, with the addresses and `fragmentID`, names a datagram's fragments: IPv4's
    /// protocol field, or the next header of IPv6's fragment header (a later fragment cannot see past it).
    public var fragmentProtocol: UInt8
    public var tcpFlags: UInt8
    @usableFromInline var _vlanCount: UInt8
    /// `Flags`.
    @usableFromInline var flags: UInt8

    @usableFromInline
    enum Flags {
        @inlinable static var hasFlow: UInt8 { 1 }
        @inlinable static var hasPorts: UInt8 { 2 }
        @inlinable static var isICMPError: UInt8 { 4 }
        @inlinable static var hasARP: UInt8 { 8 }
        @inlinable static var hasErrorDestination: UInt8 { 16 }
        @inlinable static var errorDestinationIsIPv6: UInt8 { 32 }
    }

    @inlinable @inline(always)
    public init(capturedLength: Int, wireLength: Int) {
        key = FlowKey(sourceHigh: 0, sourceLow: 0, destinationHigh: 0, destinationLow: 0, rest: 0)
        // Not `.zero`: a stored global is reached through its lazy-initialization accessor, a call.
        destinationMAC = MACAddress(rawValue: 0)
        sourceMAC = MACAddress(rawValue: 0)
        self.capturedLength = capturedLength
        self.wireLength = wireLength
        l3End = 0
        extra0 = 0
        extra1 = 0
        extra2 = 0
        fragmentID = 0
        outerVLAN = VLANTag(tpid: 0, tci: 0)
        innerVLAN = VLANTag(tpid: 0, tci: 0)
        etherType = 0
        _l3Offset = 0
        _l4Offset = 0
        status = .ok
        l3 = .none
        ipProtocol = 0
        fragment = .none
        fragmentProtocol = 0
        tcpFlags = 0
        _vlanCount = 0
        flags = 0
    }

    /// Whether the capture holds less than the wire carried: such a frame can be explained but not forwarded.
    @inlinable public var isCaptureTruncated: Bool { capturedLength < wireLength }

    @inlinable public var vlanCount: Int { Int(_vlanCount) }
    @inlinable public var l3Offset: Int { Int(_l3Offset) }
    @inlinable public var l4Offset: Int { Int(_l4Offset) }

    /// The flow the balancer steers by; nil when the frame has no IP header the parser could read.
    @inlinable public var flow: FlowKey? { hasFlow ? key : nil }
    @inlinable public var hasFlow: Bool { flags & Flags.hasFlow != 0 }
    /// False for later fragments and for protocols without ports (the flow's ports are then zero).
    @inlinable public var hasPorts: Bool { flags & Flags.hasPorts != 0 }
    /// The frame is an ICMP/ICMPv6 error and `flow` is the reversed tuple of the header it quotes.
    @inlinable public var isICMPError: Bool { flags & Flags.isICMPError != 0 }

    /// For an ICMP error, where the error itself was sent: the VIP, when it is about a backend's reply.
    @inlinable
    public var icmpErrorDestination: IPAddress? {
        guard flags & Flags.hasErrorDestination != 0 else { return nil }
        return IPAddress(flowKeyHigh: extra0, low: extra1, isIPv6: flags & Flags.errorDestinationIsIPv6 != 0)
    }

    /// Whether the ICMP error was sent to `key`'s destination: `icmpErrorDestination == flow?.destination`
    /// without building either address.
    @inlinable
    public var icmpErrorWasSentToFlowDestination: Bool {
        flags & Flags.hasErrorDestination != 0 && extra0 == key.destinationHigh && extra1 == key.destinationLow
            && (flags & Flags.errorDestinationIsIPv6 != 0) == key.destinationIsIPv6
    }

    public var arp: ARPMessage? {
        guard flags & Flags.hasARP != 0 else { return nil }
        return ARPMessage(operation: UInt16(truncatingIfNeeded: extra0 >> 48), senderMAC: MACAddress(rawValue: extra0),
                          senderIP: IPv4Address(rawValue: UInt32(truncatingIfNeeded: extra2 >> 32)),
                          targetMAC: MACAddress(rawValue: extra1),
                          targetIP: IPv4Address(rawValue: UInt32(truncatingIfNeeded: extra2)))
    }

    /// The VLAN ids outermost first; allocates, so for tooling only.
    public var vlanIDs: [UInt16] {
        [outerVLAN.id, innerVLAN.id].prefix(vlanCount).map { $0 }
    }
}

public enum TCPFlag {
    public static let fin: UInt8 = 0x01
    public static let syn: UInt8 = 0x02
    public static let rst: UInt8 = 0x04
    public static let ack: UInt8 = 0x10
}
