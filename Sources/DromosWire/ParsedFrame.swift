/// What the parser learned about one frame: offsets into the caller's bytes and a few decoded values.
/// A plain value of trivial fields, so producing one allocates nothing.
public struct ParsedFrame: Sendable {
    public var status: ParseStatus = .ok
    public var capturedLength: Int
    /// The frame's length on the wire; above `capturedLength` when a capture or ring slot cut it.
    public var wireLength: Int

    public var destinationMAC: MACAddress = .zero
    public var sourceMAC: MACAddress = .zero
    public var vlanCount: Int = 0
    /// The first tag after the source MAC (the service tag in QinQ).
    public var outerVLAN = VLANTag(tpid: 0, tci: 0)
    public var innerVLAN = VLANTag(tpid: 0, tci: 0)
    /// The EtherType after all tags.
    public var etherType: UInt16 = 0

    public var l3: L3Kind = .none
    public var l3Offset: Int = 0
    /// The end of the IP datagram by its own length field (Ethernet padding lies beyond it).
    public var l3End: Int = 0
    /// The upper-layer protocol: the last next-header of an IPv6 chain.
    public var ipProtocol: UInt8 = 0
    public var l4Offset: Int = 0
    public var fragment: FragmentKind = .none
    /// IPv4 identification or IPv6 fragment-header identification; with the addresses and protocol it
    /// names the datagram that fragments belong to.
    public var fragmentID: UInt32 = 0
    /// The protocol that, with the addresses and `fragmentID`, names a datagram's fragments: IPv4's
    /// protocol field, or the next header of IPv6's fragment header (a later fragment cannot see past it).
    public var fragmentProtocol: UInt8 = 0

    public var flow: FlowKey? = nil
    /// False for later fragments and for protocols without ports (the flow's ports are then zero).
    public var hasPorts: Bool = false
    /// The frame is an ICMP/ICMPv6 error and `flow` is the reversed tuple of the header it quotes.
    public var isICMPError: Bool = false
    /// For an ICMP error, where the error itself was sent: the VIP, when it is about a backend's reply.
    public var icmpErrorDestination: IPAddress? = nil
    public var tcpFlags: UInt8 = 0
    public var arp: ARPMessage? = nil

    @inlinable
    public init(capturedLength: Int, wireLength: Int) {
        self.capturedLength = capturedLength
        self.wireLength = wireLength
    }

    /// Whether the capture holds less than the wire carried: such a frame can be explained but not forwarded.
    @inlinable public var isCaptureTruncated: Bool { capturedLength < wireLength }

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
