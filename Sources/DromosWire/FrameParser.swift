/// Parses Ethernet frames in place: no copy, no allocation, and no read outside the captured bytes.
///
/// The parser stops at the first check that fails and says why in `ParsedFrame.status`; everything it
/// read before that stays filled in, so `explain` can show how far a bad frame got. Lengths that the
/// headers claim are checked against the wire length (a lie there is malformed input); reads are checked
/// against the captured length (a capture or ring slot may hold less than the wire carried).
///
/// The common path (Ethernet, VLAN tags, IPv4, IPv6's fixed header, TCP, UDP and ICMP's type) is
/// inlinable, so the balancer's decision inlines it and keeps the result in registers; ARP, IPv6's
/// extension-header walk, an ICMP error's quoted header and a jumbogram's length are calls.
public enum FrameParser {
    // Computed, not stored: a stored global read from the balancer's module, which inlines the parser,
    // goes through a lazy initializer's accessor.
    @inlinable public static var maxVLANTags: Int { 2 }
    /// RFC 8200 chains rarely exceed three headers; the bound keeps a hostile chain from costing more.
    public static let maxIPv6ExtensionHeaders = 8
    @inlinable static var ethernetHeaderLength: Int { 14 }

    /// - Parameter wireLength: the frame's original length when the capture holds less; nil means the
    ///   captured bytes are the whole frame.
    @inlinable @inline(always)
    public static func parse(_ frame: UnsafeRawBufferPointer, wireLength: Int? = nil) -> ParsedFrame {
        let bytes = ByteView(frame)
        var parsed = ParsedFrame(capturedLength: bytes.count, wireLength: max(wireLength ?? bytes.count, bytes.count))
        parseEthernet(bytes, &parsed)
        return parsed
    }

    /// `parse`, into a value the caller already holds: for a caller that passes the result on by address,
    /// so it is written where it stays rather than copied there (130 bytes, a `memcpy`).
    @inlinable @inline(always)
    public static func parse(_ frame: UnsafeRawBufferPointer, wireLength: Int? = nil, into parsed: inout ParsedFrame) {
        let bytes = ByteView(frame)
        parsed = ParsedFrame(capturedLength: bytes.count, wireLength: max(wireLength ?? bytes.count, bytes.count))
        parseEthernet(bytes, &parsed)
    }

    // Every stage that can see a frame on the packet path is inlined, and the rest (ARP, IPv6's
    // extension-header walk, an ICMP error's quoted header, a jumbogram's length) takes and returns
    // values: no call takes the result's address, so a caller that inlines the parser keeps the result
    // in registers rather than in 130 bytes of stack.
    @inlinable @inline(always)
    static func parseEthernet(_ bytes: ByteView, _ parsed: inout ParsedFrame) {
        guard bytes.contains(ethernetHeaderLength, at: 0) else {
            parsed.status = .runtFrame
            return
        }
        parsed.destinationMAC = bytes.mac(0)
        parsed.sourceMAC = bytes.mac(6)
        var typeOffset = 12
        var type = bytes.u16(typeOffset)
        while EtherType.isVLANTag(type) {
            guard parsed._vlanCount < maxVLANTags else {
                parsed.status = .tooManyVLANTags
                return
            }
            // The tag's TCI and the EtherType after it.
            guard bytes.contains(4, at: typeOffset &+ 2) else {
                parsed.status = .truncatedVLANTag
                return
            }
            let tag = VLANTag(tpid: type, tci: bytes.u16(typeOffset &+ 2))
            if parsed._vlanCount == 0 { parsed.outerVLAN = tag } else { parsed.innerVLAN = tag }
            parsed._vlanCount &+= 1
            typeOffset &+= 4
            type = bytes.u16(typeOffset)
        }
        parsed.etherType = type
        parsed._l3Offset = UInt16(truncatingIfNeeded: typeOffset &+ 2)
        switch type {
        case EtherType.ipv4: parseIPv4(bytes, &parsed)
        case EtherType.ipv6: parseIPv6(bytes, &parsed)
        case EtherType.arp:
            let arp = parseARP(bytes, at: parsed.l3Offset)
            parsed.l3 = .arp
            parsed.status = arp.status
            if arp.status == .ok {
                parsed.l3End = parsed.l3Offset &+ 28
                parsed.extra0 = arp.words.0
                parsed.extra1 = arp.words.1
                parsed.extra2 = arp.words.2
                parsed.flags |= ParsedFrame.Flags.hasARP
            }
        default: break
        }
    }

    /// An ARP message at `start`: `ParsedFrame.arp`'s three words, or why there is none.
    @usableFromInline
    static func parseARP(_ bytes: ByteView, at start: Int) -> (status: ParseStatus, words: (UInt64, UInt64, UInt64)) {
        guard bytes.contains(8, at: start) else { return (.truncatedARP, (0, 0, 0)) }
        // Ethernet hardware (1), IPv4 protocol, 6-byte and 4-byte addresses: the only ARP a VIP sees.
        guard bytes.u16(start) == 1, bytes.u16(start &+ 2) == EtherType.ipv4,
              bytes.u8(start &+ 4) == 6, bytes.u8(start &+ 5) == 4 else { return (.unsupportedARP, (0, 0, 0)) }
        guard bytes.contains(28, at: start) else { return (.truncatedARP, (0, 0, 0)) }
        return (.ok, (UInt64(bytes.u16(start &+ 6)) << 48 | bytes.mac(start &+ 8).rawValue,
                      bytes.mac(start &+ 18).rawValue,
                      UInt64(bytes.u32(start &+ 14)) << 32 | UInt64(bytes.u32(start &+ 24))))
    }
}
