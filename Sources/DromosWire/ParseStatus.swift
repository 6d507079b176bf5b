/// Where and why the parser stopped. `ok` means every header the balancer needs was read; any other
/// value names the first check that failed, and the fields parsed before it stay filled in.
public enum ParseStatus: UInt8, Sendable, CaseIterable {
    case ok
    case runtFrame
    case truncatedVLANTag
    case tooManyVLANTags
    case truncatedARP
    case unsupportedARP
    case truncatedIPv4
    case ipVersionMismatch
    case ipv4BadHeaderLength
    case truncatedIPv4Options
    case ipv4BadTotalLength
    case ipv4TotalLengthExceedsFrame
    case truncatedIPv6
    case ipv6PayloadExceedsFrame
    case truncatedIPv6Extension
    case ipv6ExtensionChainTooLong
    case truncatedTCP
    case tcpBadDataOffset
    case truncatedUDP
    case truncatedICMP
    case truncatedICMPInner
    case malformedICMPInner

    /// The kebab-case word used in `explain`, counters and logs.
    public var name: String {
        switch self {
        case .ok: return "ok"
        case .runtFrame: return "runt-frame"
        case .truncatedVLANTag: return "truncated-vlan-tag"
        case .tooManyVLANTags: return "too-many-vlan-tags"
        case .truncatedARP: return "truncated-arp"
        case .unsupportedARP: return "unsupported-arp"
        case .truncatedIPv4: return "truncated-ipv4"
        case .ipVersionMismatch: return "ip-version-mismatch"
        case .ipv4BadHeaderLength: return "ipv4-bad-header-length"
        case .truncatedIPv4Options: return "truncated-ipv4-options"
        case .ipv4BadTotalLength: return "ipv4-bad-total-length"
        case .ipv4TotalLengthExceedsFrame: return "ipv4-total-length-exceeds-frame"
        case .truncatedIPv6: return "truncated-ipv6"
        case .ipv6PayloadExceedsFrame: return "ipv6-payload-exceeds-frame"
        case .truncatedIPv6Extension: return "truncated-ipv6-extension"
        case .ipv6ExtensionChainTooLong: return "ipv6-extension-chain-too-long"
        case .truncatedTCP: return "truncated-tcp"
        case .tcpBadDataOffset: return "tcp-bad-data-offset"
        case .truncatedUDP: return "truncated-udp"
        case .truncatedICMP: return "truncated-icmp"
        case .truncatedICMPInner: return "truncated-icmp-inner"
        case .malformedICMPInner: return "malformed-icmp-inner"
        }
    }
}

public enum L3Kind: UInt8, Sendable {
    case none
    case ipv4
    case ipv6
    case arp
}

public enum FragmentKind: UInt8, Sendable {
    /// Not a fragment, or an IPv6 atomic fragment (offset 0, no more fragments: RFC 6946).
    case none
    /// Offset 0 with more to come: carries the ports.
    case first
    /// Offset above 0: no transport header, must follow its first fragment.
    case later

    public var name: String {
        switch self {
        case .none: return "none"
        case .first: return "first"
        case .later: return "later"
        }
    }
}

/// An 802.1Q/802.1ad tag as it stood in the frame.
public struct VLANTag: Hashable, Sendable {
    public var tpid: UInt16
    public var tci: UInt16

    @inlinable
    public init(tpid: UInt16, tci: UInt16) {
        self.tpid = tpid
        self.tci = tci
    }

    @inlinable public var id: UInt16 { tci & 0x0fff }
    @inlinable public var priority: UInt8 { UInt8(truncatingIfNeeded: tci >> 13) }
}

/// An Ethernet/IPv4 ARP message (htype 1, ptype 0x0800).
public struct ARPMessage: Hashable, Sendable {
    public static let request: UInt16 = 1
    public static let reply: UInt16 = 2

    public var operation: UInt16
    public var senderMAC: MACAddress
    public var senderIP: IPv4Address
    public var targetMAC: MACAddress
    public var targetIP: IPv4Address

    public init(operation: UInt16, senderMAC: MACAddress, senderIP: IPv4Address, targetMAC: MACAddress, targetIP: IPv4Address) {
        self.operation = operation
        self.senderMAC = senderMAC
        self.senderIP = senderIP
        self.targetMAC = targetMAC
        self.targetIP = targetIP
    }
}

extension L3Kind {
    /// The `l3` word of `explain`; nil when the frame carries no network layer the parser knows.
    public var name: String? {
        switch self {
        case .none: return nil
        case .ipv4: return "ipv4"
        case .ipv6: return "ipv6"
        case .arp: return "arp"
        }
    }
}
