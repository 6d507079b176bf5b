/// An IPv6 neighbor solicitation or advertisement (RFC 4861 §4.3, §4.4) with the addresses of the IPv6
/// header that carried it, since who asks and whom to answer live there.
public struct NDPMessage: Hashable, Sendable {
    public static let solicitation: UInt8 = 135
    public static let advertisement: UInt8 = 136
    /// Advertisement flags, as in the byte after the checksum.
    public static let routerFlag: UInt8 = 0x80
    public static let solicitedFlag: UInt8 = 0x40
    public static let overrideFlag: UInt8 = 0x20

    public var type: UInt8
    public var source: IPv6Address
    public var destination: IPv6Address
    public var target: IPv6Address
    /// The R/S/O bits of an advertisement; 0 in a solicitation.
    public var flags: UInt8
    /// The source link-layer option of a solicitation or the target link-layer option of an
    /// advertisement; nil when the message has none (a DAD probe never has one).
    public var linkLayerAddress: MACAddress?

    public init(
        type: UInt8, source: IPv6Address, destination: IPv6Address, target: IPv6Address, flags: UInt8 = 0,
        linkLayerAddress: MACAddress?
    ) {
        self.type = type
        self.source = source
        self.destination = destination
        self.target = target
        self.flags = flags
        self.linkLayerAddress = linkLayerAddress
    }

    public var isSolicitation: Bool { type == Self.solicitation }

    /// The answer to this solicitation: `mac` owns the target. A DAD probe (unspecified source) cannot be
    /// answered to its sender, so RFC 4861 §7.2.4 sends it to all nodes and without the solicited flag.
    public func advertisement(from mac: MACAddress) -> NDPMessage {
        let toAllNodes = source == .unspecified
        return NDPMessage(
            type: Self.advertisement, source: target, destination: toAllNodes ? .allNodes : source, target: target,
            flags: toAllNodes ? Self.overrideFlag : Self.solicitedFlag | Self.overrideFlag, linkLayerAddress: mac)
    }

    /// An unsolicited advertisement to all nodes with the override flag, so neighbors replace the MAC
    /// they cached for `address` (RFC 4861 §7.2.6); Linux's `ndisc_notify` sends the same.
    public static func announcement(of address: IPv6Address, at mac: MACAddress) -> NDPMessage {
        NDPMessage(
            type: advertisement, source: address, destination: .allNodes, target: address, flags: overrideFlag,
            linkLayerAddress: mac)
    }

    /// A multicast solicitation to `target`'s solicited-node group (RFC 4861 §7.2.2).
    public static func solicitation(for target: IPv6Address, from source: IPv6Address, at mac: MACAddress) -> NDPMessage {
        NDPMessage(
            type: solicitation, source: source, destination: target.solicitedNodeMulticast, target: target,
            linkLayerAddress: mac)
    }
}

extension IPv6Address {
    public static let unspecified = IPv6Address(high: 0, low: 0)
    public static let allNodes = IPv6Address(high: 0xff02_0000_0000_0000, low: 1)

    @inlinable
    public var isMulticast: Bool { high >> 56 == 0xff }

    /// The solicited-node group: ff02::1:ff00:0/104 with the address's last 24 bits (RFC 4291 §2.7.1).
    public var solicitedNodeMulticast: IPv6Address {
        IPv6Address(high: 0xff02_0000_0000_0000, low: 0x0000_0001_ff00_0000 | low & 0x00ff_ffff)
    }
}

extension MACAddress {
    /// 33:33 and the group's last 32 bits (RFC 2464 §7).
    public static func ipv6Multicast(_ group: IPv6Address) -> MACAddress {
        MACAddress(rawValue: 0x3333_0000_0000 | group.low & 0xffff_ffff)
    }
}
