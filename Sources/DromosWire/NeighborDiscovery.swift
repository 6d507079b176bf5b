/// Reads neighbor solicitations and advertisements out of a frame the `FrameParser` has parsed, with the
/// checks RFC 4861 §7.1 asks of a receiver, so a forged or off-link message never becomes an answer or a
/// neighbor entry. Allocation-free, and every read is bounded by the datagram and the capture.
public enum NeighborDiscovery {
    static let messageLength = 24
    static let sourceLinkLayerOption: UInt8 = 1
    static let targetLinkLayerOption: UInt8 = 2

    public static func parse(_ frame: UnsafeRawBufferPointer, _ parsed: ParsedFrame) -> NDPParse {
        guard parsed.status == .ok, parsed.l3 == .ipv6, parsed.ipProtocol == IPProtocolNumber.icmpv6,
              parsed.fragment == .none else { return .notNeighborDiscovery }
        let bytes = ByteView(frame)
        let start = parsed.l4Offset
        let end = parsed.l3End
        // The parser proved the fixed IPv6 header and 8 ICMPv6 bytes; the capture may still end early.
        guard bytes.contains(40, at: parsed.l3Offset), bytes.contains(1, at: start, end: end) else {
            return .notNeighborDiscovery
        }
        let type = bytes.u8(start)
        guard type == NDPMessage.solicitation || type == NDPMessage.advertisement else { return .notNeighborDiscovery }
        guard end <= bytes.count, bytes.contains(messageLength, at: start, end: end) else { return .rejected(.truncated) }
        // A router would have decremented 255: the message came from off-link.
        guard bytes.u8(parsed.l3Offset &+ 7) == 255 else { return .rejected(.hopLimitNot255) }
        guard bytes.u8(start &+ 1) == 0 else { return .rejected(.nonzeroCode) }
        let source = address(bytes, parsed.l3Offset &+ 8)
        let destination = address(bytes, parsed.l3Offset &+ 24)
        let length = end &- start
        var checksum = InternetChecksum()
        checksum.add(source)
        checksum.add(destination)
        checksum.add(UInt32(truncatingIfNeeded: length))
        checksum.add(UInt32(IPProtocolNumber.icmpv6))
        checksum.add(bytes, from: start, count: length)
        guard checksum.value == 0 else { return .rejected(.badChecksum) }
        let target = address(bytes, start &+ 8)
        guard !target.isMulticast else { return .rejected(.multicastTarget) }
        let wanted = type == NDPMessage.solicitation ? sourceLinkLayerOption : targetLinkLayerOption
        var linkLayerAddress: MACAddress? = nil
        var option = start &+ messageLength
        while option < end {
            guard bytes.contains(2, at: option, end: end) else { return .rejected(.badOption) }
            let optionLength = Int(bytes.u8(option &+ 1)) &* 8
            guard optionLength > 0, bytes.contains(optionLength, at: option, end: end) else { return .rejected(.badOption) }
            if bytes.u8(option) == wanted && optionLength >= 8 {
                linkLayerAddress = bytes.mac(option &+ 2)
            }
            option &+= optionLength
        }
        if type == NDPMessage.solicitation && source == .unspecified {
            guard linkLayerAddress == nil else { return .rejected(.linkLayerOptionFromUnspecified) }
            guard destination == target.solicitedNodeMulticast else { return .rejected(.probeNotToSolicitedNode) }
        }
        if type == NDPMessage.advertisement && destination.isMulticast
            && bytes.u8(start &+ 4) & NDPMessage.solicitedFlag != 0 {
            return .rejected(.solicitedToMulticast)
        }
        return .message(NDPMessage(
            type: type, source: source, destination: destination, target: target,
            flags: type == NDPMessage.advertisement ? bytes.u8(start &+ 4) & 0xe0 : 0,
            linkLayerAddress: linkLayerAddress))
    }

    @inline(__always)
    static func address(_ bytes: ByteView, _ offset: Int) -> IPv6Address {
        IPv6Address(high: bytes.u64(offset), low: bytes.u64(offset &+ 8))
    }
}

public enum NDPParse: Hashable, Sendable {
    case message(NDPMessage)
    /// Another kind of frame, or another ICMPv6 type: not for this reader.
    case notNeighborDiscovery
    case rejected(NDPRejection)
}

/// Why a solicitation or advertisement was refused (RFC 4861 §7.1.1, §7.1.2).
public enum NDPRejection: UInt8, Sendable, CaseIterable {
    case truncated
    case hopLimitNot255
    case nonzeroCode
    case badChecksum
    case multicastTarget
    case badOption
    case linkLayerOptionFromUnspecified
    case probeNotToSolicitedNode
    case solicitedToMulticast

    public var name: String {
        switch self {
        case .truncated: return "ndp-truncated"
        case .hopLimitNot255: return "ndp-hop-limit-not-255"
        case .nonzeroCode: return "ndp-nonzero-code"
        case .badChecksum: return "ndp-bad-checksum"
        case .multicastTarget: return "ndp-multicast-target"
        case .badOption: return "ndp-bad-option"
        case .linkLayerOptionFromUnspecified: return "ndp-link-layer-option-from-unspecified"
        case .probeNotToSolicitedNode: return "ndp-probe-not-to-solicited-node"
        case .solicitedToMulticast: return "ndp-solicited-to-multicast"
        }
    }
}
