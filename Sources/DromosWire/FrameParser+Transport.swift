extension FrameParser {
    @inlinable static var tcpMinimumHeaderLength: Int { 20 }
    @inlinable static var udpHeaderLength: Int { 8 }
    @inlinable static var icmpHeaderLength: Int { 8 }

    /// Reads the transport header at `l4Offset`, bounded by the datagram's end and the capture.
    @inlinable @inline(always)
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
        // ICMP over IPv4 and ICMPv6 over IPv6, not across: an ICMP header in IPv6 is nothing the parser reads.
        case IPProtocolNumber.icmp where parsed.l3 == .ipv4, IPProtocolNumber.icmpv6 where parsed.l3 == .ipv6:
            guard bytes.contains(icmpHeaderLength, at: start, end: end) else {
                parsed.status = .truncatedICMP
                return
            }
            let type = bytes.u8(start)
            if parsed.l3 == .ipv4 ? isICMPv4Error(type: type) : isICMPv6Error(type: type) {
                parsed = parseQuotedHeader(bytes, parsed, at: start &+ icmpHeaderLength)
            }
        default:
            break
        }
    }

    @inlinable @inline(always)
    static func setPorts(_ bytes: ByteView, _ parsed: inout ParsedFrame, at start: Int) {
        // Source port in the high half, destination in the low, as `FlowKey.setPorts` takes them.
        parsed.key.setPorts(bytes.u32(start))
        parsed.flags |= ParsedFrame.Flags.hasPorts
    }

    /// An ICMP/ICMPv6 error's quoted header, which gives the flow. By value, so that only ICMP errors
    /// pay for the copies (see `parseEthernet`).
    @usableFromInline
    static func parseQuotedHeader(_ bytes: ByteView, _ frame: ParsedFrame, at start: Int) -> ParsedFrame {
        var parsed = frame
        if parsed.l3 == .ipv4 {
            parseQuotedIPv4(bytes, &parsed, at: start)
        } else {
            parseQuotedIPv6(bytes, &parsed, at: start)
        }
        return parsed
    }

    /// Destination unreachable, source quench, time exceeded (the types IPVS steers to the flow's real
    /// server) and parameter problem: all quote the offending datagram (RFC 792).
    @inlinable @inline(always)
    static func isICMPv4Error(type: UInt8) -> Bool {
        type == 3 || type == 4 || type == 11 || type == 12
    }

    /// Destination unreachable, packet too big, time exceeded, parameter problem (RFC 4443).
    @inlinable @inline(always)
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
            quoted.setPorts(bytes.u32(start))
            hasPorts = true
        }
        // Where the error was sent: the outer header's destination, which the quoted flow replaces.
        parsed.extra0 = parsed.key.destinationHigh
        parsed.extra1 = parsed.key.destinationLow
        parsed.flags |= ParsedFrame.Flags.hasErrorDestination
            | (parsed.key.destinationIsIPv6 ? ParsedFrame.Flags.errorDestinationIsIPv6 : 0)
        parsed.key = quoted.reversed
        parsed.flags = parsed.flags & ~ParsedFrame.Flags.hasPorts | (hasPorts ? ParsedFrame.Flags.hasPorts : 0)
            | ParsedFrame.Flags.isICMPError
    }
}
