extension FrameParser {
    @inlinable static var ipv4MinimumHeaderLength: Int { 20 }

    @inlinable @inline(always)
    static func parseIPv4(_ bytes: ByteView, _ parsed: inout ParsedFrame) {
        let start = parsed.l3Offset
        parsed.l3 = .ipv4
        guard bytes.contains(ipv4MinimumHeaderLength, at: start) else {
            parsed.status = .truncatedIPv4
            return
        }
        let versionAndLength = bytes.u8(start)
        guard versionAndLength >> 4 == 4 else {
            parsed.status = .ipVersionMismatch
            return
        }
        // The addresses sit at fixed offsets of the 20 bytes just checked: known even when a later check
        // fails, so a broken frame to a VIP can be told from one that is not ours.
        let ipProtocol = bytes.u8(start &+ 9)
        parsed.ipProtocol = ipProtocol
        parsed.key = FlowKey(sourceHigh: 0, sourceLow: UInt64(bytes.u32(start &+ 12)),
                             destinationHigh: 0, destinationLow: UInt64(bytes.u32(start &+ 16)),
                             rest: UInt64(ipProtocol) << 8)
        parsed.flags |= ParsedFrame.Flags.hasFlow
        let headerLength = Int(versionAndLength & 0x0f) &* 4
        guard headerLength >= ipv4MinimumHeaderLength else {
            parsed.status = .ipv4BadHeaderLength
            return
        }
        let totalLength = Int(bytes.u16(start &+ 2))
        guard totalLength >= headerLength else {
            parsed.status = .ipv4BadTotalLength
            return
        }
        guard totalLength <= parsed.wireLength &- start else {
            parsed.status = .ipv4TotalLengthExceedsFrame
            return
        }
        guard bytes.contains(headerLength, at: start) else {
            parsed.status = .truncatedIPv4Options
            return
        }
        parsed.fragmentID = UInt32(bytes.u16(start &+ 4))
        parsed.fragmentProtocol = ipProtocol
        parsed.fragment = ipv4FragmentKind(bytes.u16(start &+ 6))
        parsed.l3End = start &+ totalLength
        // At most 22 + 60.
        parsed._l4Offset = UInt16(truncatingIfNeeded: start &+ headerLength)
        guard parsed.fragment != .later else { return }
        parseTransport(bytes, &parsed)
    }

    /// The flags-and-offset word: a non-zero offset is a later fragment, MF alone a first one.
    @inlinable @inline(always)
    static func ipv4FragmentKind(_ flagsAndOffset: UInt16) -> FragmentKind {
        if flagsAndOffset & 0x1fff != 0 { return .later }
        return flagsAndOffset & 0x2000 != 0 ? .first : .none
    }

    /// The IPv4 header an ICMP error quotes. Only its own header length is checked: the quote is cut
    /// by design, so its total length says nothing about what follows.
    @usableFromInline
    static func parseQuotedIPv4(_ bytes: ByteView, _ parsed: inout ParsedFrame, at start: Int) {
        let end = parsed.l3End
        guard bytes.contains(ipv4MinimumHeaderLength, at: start, end: end) else {
            parsed.status = .truncatedICMPInner
            return
        }
        let versionAndLength = bytes.u8(start)
        let headerLength = Int(versionAndLength & 0x0f) &* 4
        guard versionAndLength >> 4 == 4, headerLength >= ipv4MinimumHeaderLength else {
            parsed.status = .malformedICMPInner
            return
        }
        guard bytes.contains(headerLength, at: start, end: end) else {
            parsed.status = .truncatedICMPInner
            return
        }
        let quoted = FlowKey(sourceHigh: 0, sourceLow: UInt64(bytes.u32(start &+ 12)),
                             destinationHigh: 0, destinationLow: UInt64(bytes.u32(start &+ 16)),
                             rest: UInt64(bytes.u8(start &+ 9)) << 8)
        let isLaterFragment = ipv4FragmentKind(bytes.u16(start &+ 6)) == .later
        adoptQuotedFlow(bytes, &parsed, quoted, transportAt: start &+ headerLength, hasTransport: !isLaterFragment)
    }
}
