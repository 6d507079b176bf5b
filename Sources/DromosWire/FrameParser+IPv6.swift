extension FrameParser {
    @inlinable static var ipv6HeaderLength: Int { 40 }

    /// Where a walk over an IPv6 header chain stands.
    @usableFromInline
    struct IPv6Chain {
        @usableFromInline var nextHeader: UInt8
        @usableFromInline var offset: Int
        @usableFromInline var fragment: FragmentKind = .none
        @usableFromInline var fragmentID: UInt32 = 0
        @usableFromInline var fragmentNextHeader: UInt8 = 0

        @inlinable
        init(nextHeader: UInt8, offset: Int) {
            self.nextHeader = nextHeader
            self.offset = offset
        }
    }

    @inlinable @inline(always)
    static func parseIPv6(_ bytes: ByteView, _ parsed: inout ParsedFrame) {
        let start = parsed.l3Offset
        parsed.l3 = .ipv6
        guard bytes.contains(ipv6HeaderLength, at: start) else {
            parsed.status = .truncatedIPv6
            return
        }
        guard bytes.u8(start) >> 4 == 6 else {
            parsed.status = .ipVersionMismatch
            return
        }
        // As for IPv4: the fixed header's addresses are known before the lengths are judged.
        parsed.ipProtocol = bytes.u8(start &+ 6)
        parsed.key = FlowKey(sourceHigh: bytes.u64(start &+ 8), sourceLow: bytes.u64(start &+ 16),
                             destinationHigh: bytes.u64(start &+ 24), destinationLow: bytes.u64(start &+ 32),
                             rest: UInt64(parsed.ipProtocol) << 8 | FlowKey.sourceIsIPv6 | FlowKey.destinationIsIPv6)
        parsed.flags |= ParsedFrame.Flags.hasFlow
        var payloadLength = Int(bytes.u16(start &+ 4))
        if payloadLength == 0 && bytes.u8(start &+ 6) == IPProtocolNumber.ipv6HopByHop {
            payloadLength = jumboPayloadLength(bytes, hopByHopAt: start &+ ipv6HeaderLength) ?? 0
        }
        guard ipv6HeaderLength &+ payloadLength <= parsed.wireLength &- start else {
            parsed.status = .ipv6PayloadExceedsFrame
            return
        }
        parsed.l3End = start &+ ipv6HeaderLength &+ payloadLength
        var chain = IPv6Chain(nextHeader: bytes.u8(start &+ 6), offset: start &+ ipv6HeaderLength)
        let status = walkExtensionHeaders(bytes, &chain, end: parsed.l3End)
        parsed.ipProtocol = chain.nextHeader
        parsed.key.ipProtocol = chain.nextHeader
        // At most 22 + 40 + 8 headers of at most 2 KiB (`walkExtensionHeaders`).
        parsed._l4Offset = UInt16(truncatingIfNeeded: chain.offset)
        parsed.fragment = chain.fragment
        parsed.fragmentID = chain.fragmentID
        parsed.fragmentProtocol = chain.fragmentNextHeader
        guard status == .ok else {
            parsed.status = status
            return
        }
        guard parsed.fragment != .later else { return }
        parseTransport(bytes, &parsed)
    }

    /// A jumbogram (RFC 2675) has payload length 0 and its real length in a hop-by-hop option. Linux
    /// builds them for BIG TCP GRO super-frames, which packet sockets see. The walk is bounded by the
    /// header's own length (at most 2 KiB) and the capture.
    @usableFromInline
    static func jumboPayloadLength(_ bytes: ByteView, hopByHopAt header: Int) -> Int? {
        guard bytes.contains(2, at: header) else { return nil }
        let end = header &+ (Int(bytes.u8(header &+ 1)) &+ 1) &* 8
        var option = header &+ 2
        while option < end {
            guard bytes.contains(1, at: option) else { return nil }
            let type = bytes.u8(option)
            if type == 0 {  // Pad1 has no length byte
                option &+= 1
                continue
            }
            guard bytes.contains(2, at: option) else { return nil }
            let length = Int(bytes.u8(option &+ 1))
            // An option that runs past its header is malformed; its "data" would be the next header's.
            guard option &+ 2 &+ length <= end else { return nil }
            if type == 0xc2 && length == 4 {
                guard bytes.contains(6, at: option) else { return nil }
                let jumbo = Int(bytes.u32(option &+ 2))
                return jumbo > 65_535 ? jumbo : nil
            }
            option &+= 2 &+ length
        }
        return nil
    }

    /// Follows hop-by-hop, routing, fragment, destination-options and AH headers up to the upper-layer
    /// header, at most `maxIPv6ExtensionHeaders` of them. Stops at a later fragment: what follows its
    /// fragment header is the middle of a datagram, not a header.
    @usableFromInline
    static func walkExtensionHeaders(_ bytes: ByteView, _ chain: inout IPv6Chain, end: Int) -> ParseStatus {
        var walked = 0
        while true {
            let header = chain.nextHeader
            let length: Int
            switch header {
            case IPProtocolNumber.ipv6HopByHop, IPProtocolNumber.ipv6Routing,
                 IPProtocolNumber.ipv6DestinationOptions, IPProtocolNumber.authenticationHeader,
                 IPProtocolNumber.ipv6Fragment:
                guard walked < maxIPv6ExtensionHeaders else { return .ipv6ExtensionChainTooLong }
                walked &+= 1
                // Every extension header starts with next-header and length and is at least 8 bytes.
                guard bytes.contains(8, at: chain.offset, end: end) else { return .truncatedIPv6Extension }
                switch header {
                case IPProtocolNumber.ipv6Fragment:
                    length = 8
                    let offsetAndFlags = bytes.u16(chain.offset &+ 2)
                    chain.fragmentID = bytes.u32(chain.offset &+ 4)
                    chain.fragmentNextHeader = bytes.u8(chain.offset)
                    if offsetAndFlags & 0xfff8 != 0 {
                        chain.fragment = .later
                    } else if offsetAndFlags & 0x0001 != 0 {
                        chain.fragment = .first
                    }
                case IPProtocolNumber.authenticationHeader:
                    length = (Int(bytes.u8(chain.offset &+ 1)) &+ 2) &* 4
                default:
                    length = (Int(bytes.u8(chain.offset &+ 1)) &+ 1) &* 8
                }
                guard bytes.contains(length, at: chain.offset, end: end) else { return .truncatedIPv6Extension }
                chain.nextHeader = bytes.u8(chain.offset)
                chain.offset &+= length
                if chain.fragment == .later { return .ok }
            default:
                return .ok
            }
        }
    }

    /// The IPv6 header an ICMPv6 error quotes, with its own extension chain.
    @usableFromInline
    static func parseQuotedIPv6(_ bytes: ByteView, _ parsed: inout ParsedFrame, at start: Int) {
        let end = parsed.l3End
        guard bytes.contains(ipv6HeaderLength, at: start, end: end) else {
            parsed.status = .truncatedICMPInner
            return
        }
        guard bytes.u8(start) >> 4 == 6 else {
            parsed.status = .malformedICMPInner
            return
        }
        var chain = IPv6Chain(nextHeader: bytes.u8(start &+ 6), offset: start &+ ipv6HeaderLength)
        switch walkExtensionHeaders(bytes, &chain, end: end) {
        case .ok: break
        case .ipv6ExtensionChainTooLong:
            parsed.status = .malformedICMPInner
            return
        default:
            parsed.status = .truncatedICMPInner
            return
        }
        let quoted = FlowKey(sourceHigh: bytes.u64(start &+ 8), sourceLow: bytes.u64(start &+ 16),
                             destinationHigh: bytes.u64(start &+ 24), destinationLow: bytes.u64(start &+ 32),
                             rest: UInt64(chain.nextHeader) << 8 | FlowKey.sourceIsIPv6 | FlowKey.destinationIsIPv6)
        adoptQuotedFlow(bytes, &parsed, quoted, transportAt: chain.offset, hasTransport: chain.fragment != .later)
    }
}
