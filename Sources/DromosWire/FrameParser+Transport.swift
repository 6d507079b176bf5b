extension FrameParser {
    static let tcpMinimumHeaderLength = 20
    static let udpHeaderLength = 8
    static let icmpHeaderLength = 8

    /// Reads the transport header at `l4Offset`, bounded by the datagram's end and the capture.
    @inline(__always)
    static func parseTransport(_ bytes: ByteView, _ parsed: inout ParsedFrame) {
        let start = parsed.l4Offset
        let end = parsed.l3End
        switch parsed.ipProtocol {
        case IPProtocolNumber.tcp:
            guard bytes.contains(tcpMinimumHeaderLength, at: start, end: end) else {
                parsed.status = .truncatedTCP
                return
            }
            let headerLength = Int(bytes.u8(start &+ 12) >> 4) &* 4
            guard headerLength >= tcpMinimumHeaderLength, headerLength <= end &- start else {
                parsed.status = .tcpBadDataOffset
                return
            }
            parsed.tcpFlags = bytes.u8(start &+ 13)
            setPorts(bytes, &parsed, at: start)
        case IPProtocolNumber.udp:
            guard bytes.contains(udpHeaderLength, at: start, end: end) else {
                parsed.status = .truncatedUDP
                return
            }
            setPorts(bytes, &parsed, at: start)
        case IPProtocolNumber.icmp where parsed.l3 == .ipv4:
            guard bytes.contains(icmpHeaderLength, at: start, end: end) else {
                parsed.status = .truncatedICMP
                return
            }
            if isICMPv4Error(type: bytes.u8(start)) {
                parseQuotedIPv4(bytes, &parsed, at: start &+ icmpHeaderLength)
            }
        case IPProtocolNumber.icmpv6 where parsed.l3 == .ipv6:
            guard bytes.contains(icmpHeaderLength, at: start, end: end) else {
                parsed.status = .truncatedICMP
                return
            }
            if isICMPv6Error(type: bytes.u8(start)) {
                parseQuotedIPv6(bytes, &parsed, at: start &+ icmpHeaderLength)
            }
        default:
            break
        }
    }

    @inline(__always)
    static func setPorts(_ bytes: ByteView, _ parsed: inout ParsedFrame, at start: Int) {
        parsed.flow?.sourcePort = bytes.u16(start)
        parsed.flow?.destinationPort = bytes.u16(start &+ 2)
        parsed.hasPorts = true
    }

    /// Destination unreachable, source quench, time exceeded (the types IPVS steers to the flow's real
    /// server) and parameter problem: all quote the offending datagram (RFC 792).
    @inline(__always)
    static func isICMPv4Error(type: UInt8) -> Bool {
        type == 3 || type == 4 || type == 11 || type == 12
    }

    /// Destination unreachable, packet too big, time exceeded, parameter problem (RFC 4443).
    @inline(__always)
    static func isICMPv6Error(type: UInt8) -> Bool {
        type >= 1 && type <= 4
    }

    /// Makes the quoted datagram's flow, reversed, the frame's flow: the quote is the backend's reply
    /// (VIP→client), so its reverse is the client→VIP flow the balancer has already placed.
    static func adoptQuotedFlow(
        _ bytes: ByteView, _ parsed: inout ParsedFrame, _ quoted: FlowKey, transportAt start: Int, hasTransport: Bool
    ) {
        var quoted = quoted
        var hasPorts = false
        if hasTransport && (quoted.ipProtocol == IPProtocolNumber.tcp || quoted.ipProtocol == IPProtocolNumber.udp) {
            // RFC 792 promises 8 bytes of the quoted transport header; the ports are the first 4.
            guard bytes.contains(4, at: start, end: parsed.l3End) else {
                parsed.status = .truncatedICMPInner
                return
            }
            quoted.sourcePort = bytes.u16(start)
            quoted.destinationPort = bytes.u16(start &+ 2)
            hasPorts = true
        }
        parsed.icmpErrorDestination = parsed.flow?.destination
        parsed.flow = quoted.reversed
        parsed.hasPorts = hasPorts
        parsed.isICMPError = true
    }
}
