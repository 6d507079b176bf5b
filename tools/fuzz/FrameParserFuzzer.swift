// libFuzzer target for DromosWire: the frame parser, MAC rewrite and the address text parsers.
//
// Built by tools/fuzz/run.sh together with Sources/DromosWire/*.swift as ONE module (so internal API is
// visible), with -sanitize=fuzzer,address. Every check below is an invariant that follows from the parser
// code or its documentation; a violation calls `violation(...)`, which prints the message and traps, so
// libFuzzer records the input as a crash artifact.
//
// Per input:
//   * frames: parse with wireLength nil, == count, < count, > count (derived from the input) and Int.max;
//     parse prefixes of the input (copied to exact-size heap buffers so ASan sees any over-read) with
//     wireLength nil and with the full length; parse an unaligned copy; check per-parse invariants and the
//     metamorphic relations between these parses; round-trip every decoded address through
//     description / init(parsing:); apply MACRewrite to a copy and re-parse it.
//   * text: the input as UTF-8 through MACAddress/IPv4Address/IPv6Address/IPAddress(parsing:); accepted
//     values must round-trip, and acceptance is compared with a small reference MAC parser and with
//     glibc inet_pton (the IPv4 parser is documented as "as inet_pton takes it").
//   * raw addresses: IPv4/IPv6/MAC values built from the input bytes must round-trip through text, and
//     IPv6 text must match glibc inet_ntop (RFC 5952) except for the deprecated IPv4-compatible form.
//
// Run with SWIFT_BACKTRACE=enable=no (run.sh sets it) so that a trap reaches libFuzzer's handler.
// Environment: DROMOS_FUZZ_NO_LIBC=1 turns off the two glibc differential checks (inet_pton/inet_ntop)
// if a known policy difference has to be set aside to keep fuzzing.

import Glibc

// MARK: - Failure reporting

@inline(never)
func violation(_ message: String) -> Never {
    fatalError("DromosWire fuzz invariant violated: \(message)")
}

@inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { violation(message()) }
}

let libcOraclesEnabled: Bool = getenv("DROMOS_FUZZ_NO_LIBC") == nil

// MARK: - Independent byte reads (bounds-checked, do not share code with ByteView)

struct Bytes {
    let buffer: UnsafeRawBufferPointer
    var count: Int { buffer.count }

    init(_ buffer: UnsafeRawBufferPointer) { self.buffer = buffer }

    func u8(_ offset: Int) -> UInt8 {
        require(offset >= 0 && offset < count, "fuzzer read at \(offset) outside \(count) bytes")
        return buffer.load(fromByteOffset: offset, as: UInt8.self)
    }

    func u16(_ offset: Int) -> UInt16 { UInt16(u8(offset)) << 8 | UInt16(u8(offset + 1)) }
    func u32(_ offset: Int) -> UInt32 { UInt32(u16(offset)) << 16 | UInt32(u16(offset + 2)) }
    func u64(_ offset: Int) -> UInt64 { UInt64(u32(offset)) << 32 | UInt64(u32(offset + 4)) }
    func mac(_ offset: Int) -> MACAddress { MACAddress(rawValue: UInt64(u16(offset)) << 32 | UInt64(u32(offset + 2))) }
}

/// Runs `body` on a fresh heap copy of `source[0..<length]` whose last byte is the last byte of the
/// allocation (so an over-read hits ASan's redzone); `shift` bytes of slack before it make the start
/// unaligned.
func withHeapCopy<R>(_ source: UnsafeRawBufferPointer, length: Int, shift: Int = 0,
                     _ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: length + shift, alignment: 1)
    defer { storage.deallocate() }
    let frame = UnsafeMutableRawBufferPointer(rebasing: storage[shift...])
    if length > 0 {
        frame.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[0..<length]))
    }
    return body(frame)
}

// MARK: - Comparing parses

/// The name of the first field in which the two parses differ, or nil.
func firstDifference(_ a: ParsedFrame, _ b: ParsedFrame,
                     ignoreCapturedLength: Bool = false, ignoreWireLength: Bool = false) -> String? {
    if a.status != b.status { return "status \(a.status.name) vs \(b.status.name)" }
    if !ignoreCapturedLength && a.capturedLength != b.capturedLength { return "capturedLength \(a.capturedLength) vs \(b.capturedLength)" }
    if !ignoreWireLength && a.wireLength != b.wireLength { return "wireLength \(a.wireLength) vs \(b.wireLength)" }
    if a.destinationMAC != b.destinationMAC { return "destinationMAC" }
    if a.sourceMAC != b.sourceMAC { return "sourceMAC" }
    if a.vlanCount != b.vlanCount { return "vlanCount \(a.vlanCount) vs \(b.vlanCount)" }
    if a.outerVLAN != b.outerVLAN { return "outerVLAN" }
    if a.innerVLAN != b.innerVLAN { return "innerVLAN" }
    if a.etherType != b.etherType { return "etherType" }
    if a.l3 != b.l3 { return "l3" }
    if a.l3Offset != b.l3Offset { return "l3Offset \(a.l3Offset) vs \(b.l3Offset)" }
    if a.l3End != b.l3End { return "l3End \(a.l3End) vs \(b.l3End)" }
    if a.ipProtocol != b.ipProtocol { return "ipProtocol \(a.ipProtocol) vs \(b.ipProtocol)" }
    if a.l4Offset != b.l4Offset { return "l4Offset \(a.l4Offset) vs \(b.l4Offset)" }
    if a.fragment != b.fragment { return "fragment \(a.fragment.name) vs \(b.fragment.name)" }
    if a.fragmentID != b.fragmentID { return "fragmentID" }
    if a.flow != b.flow { return "flow \(String(describing: a.flow)) vs \(String(describing: b.flow))" }
    if a.hasPorts != b.hasPorts { return "hasPorts \(a.hasPorts) vs \(b.hasPorts)" }
    if a.isICMPError != b.isICMPError { return "isICMPError \(a.isICMPError) vs \(b.isICMPError)" }
    if a.tcpFlags != b.tcpFlags { return "tcpFlags" }
    if a.arp != b.arp { return "arp" }
    return nil
}

func requireSame(_ a: ParsedFrame, _ b: ParsedFrame, _ context: @autoclosure () -> String,
                 ignoreCapturedLength: Bool = false, ignoreWireLength: Bool = false) {
    if let difference = firstDifference(a, b, ignoreCapturedLength: ignoreCapturedLength, ignoreWireLength: ignoreWireLength) {
        violation("\(context()): parses differ in \(difference)")
    }
}

/// Statuses decided by a value in bytes the parser has already read, never by running out of captured
/// bytes: with more captured bytes (and the same wire length) the parse must end the same way.
func isValueStatus(_ status: ParseStatus) -> Bool {
    switch status {
    case .ok, .tooManyVLANTags, .unsupportedARP, .ipVersionMismatch, .ipv4BadHeaderLength,
         .ipv4BadTotalLength, .ipv4TotalLengthExceedsFrame, .ipv6PayloadExceedsFrame,
         .ipv6ExtensionChainTooLong, .tcpBadDataOffset, .malformedICMPInner:
        return true
    case .runtFrame, .truncatedVLANTag, .truncatedARP, .truncatedIPv4, .truncatedIPv4Options,
         .truncatedIPv6, .truncatedIPv6Extension, .truncatedTCP, .truncatedUDP, .truncatedICMP,
         .truncatedICMPInner:
        return false
    }
}

// MARK: - Invariants of one parse

func isICMPv4ErrorType(_ type: UInt8) -> Bool { type == 3 || type == 4 || type == 11 || type == 12 }
func isICMPv6ErrorType(_ type: UInt8) -> Bool { type >= 1 && type <= 4 }

/// Checks everything that must hold for `p = FrameParser.parse(buffer, wireLength: wire)`.
func checkParse(_ buffer: UnsafeRawBufferPointer, wire: Int?, _ p: ParsedFrame, _ label: String, roundTrip: Bool) {
    let b = Bytes(buffer)
    let n = b.count
    func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition {
            violation("[\(label), captured \(n), wire \(wire.map(String.init) ?? "nil"), status \(p.status.name)] \(message())")
        }
    }

    // Lengths.
    check(p.capturedLength == n, "capturedLength \(p.capturedLength) != buffer count")
    check(p.wireLength == max(wire ?? n, n), "wireLength \(p.wireLength) != max(wire, captured)")
    check(p.isCaptureTruncated == (p.capturedLength < p.wireLength), "isCaptureTruncated inconsistent")
    check(p.vlanCount >= 0 && p.vlanCount <= FrameParser.maxVLANTags, "vlanCount \(p.vlanCount) out of range")
    if roundTrip {
        check(p.vlanIDs.count == p.vlanCount, "vlanIDs.count != vlanCount")
        check(!p.status.name.isEmpty, "status has no name")
    }

    // Status-independent implications.
    if p.status != .ok {
        check(!p.hasPorts, "hasPorts on a failed parse")
        check(!p.isICMPError, "isICMPError on a failed parse")
        check(p.arp == nil, "arp set on a failed parse")
    }
    if p.hasPorts { check(p.flow != nil, "hasPorts without flow") }
    if p.fragment != .none { check(p.l3 == .ipv4 || p.l3 == .ipv6, "fragment kind without IP") }
    if p.fragment == .later && !p.isICMPError { check(!p.hasPorts, "later fragment has ports") }
    if let flow = p.flow {
        check(p.l3 == .ipv4 || p.l3 == .ipv6, "flow without IP")
        check(flow.source.isIPv4 == (p.l3 == .ipv4) && flow.destination.isIPv4 == (p.l3 == .ipv4),
              "flow address family does not match l3")
        if !p.hasPorts { check(flow.sourcePort == 0 && flow.destinationPort == 0, "ports set but hasPorts false") }
        check(flow.reversed.reversed == flow, "reversed is not an involution")
        if !p.isICMPError { check(flow.ipProtocol == p.ipProtocol, "flow.ipProtocol != ipProtocol") }
    }
    if p.arp != nil { check(p.l3 == .arp, "arp with l3 \(String(describing: p.l3.name))") }

    // Ethernet.
    if n < 14 {
        check(p.status == .runtFrame, "short frame not reported as runt")
        check(p.l3 == .none && p.flow == nil && p.vlanCount == 0 && p.l3Offset == 0, "runt has decoded fields")
        return
    }
    check(p.status != .runtFrame, "runt status on a \(n)-byte frame")
    check(p.destinationMAC == b.mac(0), "destinationMAC does not match bytes 0..<6")
    check(p.sourceMAC == b.mac(6), "sourceMAC does not match bytes 6..<12")
    if p.vlanCount >= 1 {
        check(p.outerVLAN == VLANTag(tpid: b.u16(12), tci: b.u16(14)), "outer VLAN tag does not match bytes")
        check(EtherType.isVLANTag(p.outerVLAN.tpid), "outer tag TPID is not a VLAN TPID")
    }
    if p.vlanCount >= 2 {
        check(p.innerVLAN == VLANTag(tpid: b.u16(16), tci: b.u16(18)), "inner VLAN tag does not match bytes")
        check(EtherType.isVLANTag(p.innerVLAN.tpid), "inner tag TPID is not a VLAN TPID")
    }
    if p.status == .tooManyVLANTags || p.status == .truncatedVLANTag {
        check(p.l3 == .none && p.l3Offset == 0 && p.flow == nil, "VLAN failure but l3 decoded")
        if p.status == .tooManyVLANTags {
            check(p.vlanCount == FrameParser.maxVLANTags, "too many tags with vlanCount \(p.vlanCount)")
            check(EtherType.isVLANTag(b.u16(12 + 4 * p.vlanCount)), "too many tags but no third tag")
        }
        return
    }
    let l3Offset = 14 + 4 * p.vlanCount
    check(p.l3Offset == l3Offset, "l3Offset \(p.l3Offset) != 14 + 4 * vlanCount")
    check(p.etherType == b.u16(l3Offset - 2), "etherType does not match bytes")
    check(!EtherType.isVLANTag(p.etherType), "etherType is still a VLAN TPID")

    switch p.etherType {
    case EtherType.ipv4: check(p.l3 == .ipv4, "etherType 0x0800 but l3 \(String(describing: p.l3.name))")
    case EtherType.ipv6: check(p.l3 == .ipv6, "etherType 0x86dd but l3 \(String(describing: p.l3.name))")
    case EtherType.arp: check(p.l3 == .arp, "etherType 0x0806 but l3 \(String(describing: p.l3.name))")
    default:
        check(p.l3 == .none && p.status == .ok && p.flow == nil && p.l3End == 0 && p.l4Offset == 0,
              "unknown etherType but parser went on")
    }

    switch p.l3 {
    case .none:
        break
    case .arp:
        check(p.flow == nil, "ARP with a flow")
        if p.status == .ok {
            guard let arp = p.arp else { violation("[\(label)] ARP ok without arp message") }
            check(p.l3End == l3Offset + 28 && p.l3End <= n, "ARP l3End \(p.l3End)")
            check(b.u16(l3Offset) == 1 && b.u16(l3Offset + 2) == 0x0800 && b.u8(l3Offset + 4) == 6 && b.u8(l3Offset + 5) == 4,
                  "ARP accepted with unsupported hardware/protocol")
            let expected = ARPMessage(operation: b.u16(l3Offset + 6), senderMAC: b.mac(l3Offset + 8),
                                      senderIP: IPv4Address(rawValue: b.u32(l3Offset + 14)),
                                      targetMAC: b.mac(l3Offset + 18), targetIP: IPv4Address(rawValue: b.u32(l3Offset + 24)))
            check(arp == expected, "ARP fields do not match bytes")
            if roundTrip {
                roundTripMAC(arp.senderMAC); roundTripMAC(arp.targetMAC)
                roundTripIP(.v4(arp.senderIP)); roundTripIP(.v4(arp.targetIP))
            }
        } else {
            check(p.status == .truncatedARP || p.status == .unsupportedARP, "ARP ended with \(p.status.name)")
        }
    case .ipv4, .ipv6:
        checkIP(b, wire: p.wireLength, p, check)
    }

    if roundTrip {
        roundTripMAC(p.destinationMAC)
        roundTripMAC(p.sourceMAC)
        if let flow = p.flow {
            roundTripIP(flow.source)
            roundTripIP(flow.destination)
        }
    }
}

func checkIP(_ b: Bytes, wire: Int, _ p: ParsedFrame, _ check: (Bool, @autoclosure () -> String) -> Void) {
    let n = b.count
    let start = p.l3Offset
    let isV4 = p.l3 == .ipv4
    let minimum = isV4 ? 20 : 40
    let isEarlyStatus: Bool
    switch p.status {
    case .truncatedIPv4, .ipv4BadHeaderLength, .ipv4BadTotalLength, .ipv4TotalLengthExceedsFrame, .truncatedIPv4Options:
        check(isV4, "IPv4 header status on IPv6")
        isEarlyStatus = true
    case .truncatedIPv6, .ipv6PayloadExceedsFrame:
        check(!isV4, "IPv6 header status on IPv4")
        isEarlyStatus = true
    case .ipVersionMismatch:
        isEarlyStatus = true
    default:
        isEarlyStatus = false
    }
    if isEarlyStatus {
        check(p.l4Offset == 0 && p.l3End == 0 && !p.hasPorts, "IP header rejected but offsets/ports set")
        switch p.status {
        case .truncatedIPv4, .truncatedIPv6, .ipVersionMismatch:
            check(p.flow == nil, "no usable fixed IP header but a flow")
        default:
            // The fixed header is captured and has the right version; whether the parser already fills
            // in its addresses when a length check fails is a choice (Sources changed it), but if it
            // does, they must be the header's.
            if let flow = p.flow {
                let expected = isV4
                    ? FlowKey(source: .v4(IPv4Address(rawValue: b.u32(start + 12))),
                              destination: .v4(IPv4Address(rawValue: b.u32(start + 16))), ipProtocol: b.u8(start + 9))
                    : FlowKey(source: .v6(IPv6Address(high: b.u64(start + 8), low: b.u64(start + 16))),
                              destination: .v6(IPv6Address(high: b.u64(start + 24), low: b.u64(start + 32))), ipProtocol: b.u8(start + 6))
                check(flow == expected, "rejected IP header has a flow that is not the header's")
            }
        }
        switch p.status {
        case .truncatedIPv4, .truncatedIPv6:
            check(n - start < minimum, "truncated IP header but \(n - start) bytes present")
        case .ipVersionMismatch:
            check(Int(b.u8(start) >> 4) != (isV4 ? 4 : 6), "version mismatch but version nibble is right")
        case .ipv4BadHeaderLength:
            check(b.u8(start) & 0x0f < 5, "bad IHL but IHL >= 5")
        case .ipv4BadTotalLength:
            check(Int(b.u16(start + 2)) < Int(b.u8(start) & 0x0f) * 4, "bad total length but total >= IHL")
        case .ipv4TotalLengthExceedsFrame:
            check(Int(b.u16(start + 2)) > wire - start, "total length exceeds frame but fits the wire")
        case .ipv6PayloadExceedsFrame:
            let payload = ipv6PayloadLength(b, start)
            check(40 + payload > wire - start, "payload length \(payload) exceeds frame but fits the wire")
        case .truncatedIPv4Options:
            check(Int(b.u8(start) & 0x0f) * 4 > n - start, "options truncated but all captured")
        default:
            break
        }
        return
    }
    if isV4 {
        check(p.status != .truncatedIPv6Extension && p.status != .ipv6ExtensionChainTooLong, "IPv6 status on IPv4")
    }
    // From here the fixed header was accepted.
    guard let flow = p.flow else { violation("IP header accepted (\(p.status.name)) without a flow") }
    check(n - start >= minimum, "IP header accepted with \(n - start) captured bytes")
    check(p.l3End <= wire, "l3End \(p.l3End) beyond wire length \(wire)")
    check(p.l4Offset >= start + minimum, "l4Offset \(p.l4Offset) inside the fixed IP header")
    check(p.l4Offset <= n, "l4Offset \(p.l4Offset) beyond captured \(n)")
    check(p.l4Offset <= p.l3End, "l4Offset \(p.l4Offset) beyond l3End \(p.l3End)")
    if isV4 {
        let ihl = Int(b.u8(start) & 0x0f) * 4
        check(b.u8(start) >> 4 == 4, "accepted IPv4 with version \(b.u8(start) >> 4)")
        check(p.l4Offset == start + ihl, "l4Offset != l3Offset + IHL")
        check(p.l3End == start + Int(b.u16(start + 2)), "l3End != l3Offset + total length")
        check(p.ipProtocol == b.u8(start + 9), "ipProtocol != header protocol")
        check(p.fragmentID == UInt32(b.u16(start + 4)), "fragmentID != identification")
        let flags = b.u16(start + 6)
        let kind: FragmentKind = flags & 0x1fff != 0 ? .later : (flags & 0x2000 != 0 ? .first : .none)
        check(p.fragment == kind, "fragment kind \(p.fragment.name) != \(kind.name)")
    } else {
        check(b.u8(start) >> 4 == 6, "accepted IPv6 with version \(b.u8(start) >> 4)")
        let payload = ipv6PayloadLength(b, start)
        check(p.l3End == start + 40 + payload, "l3End \(p.l3End) != l3Offset + 40 + payload length \(payload)")
        if p.l4Offset == start + 40 { check(p.ipProtocol == b.u8(start + 6), "no extension walked but ipProtocol != next header") }
        if p.status == .ok {
            let isExtensionHeader = switch p.ipProtocol {
            case 0, 43, 44, 51, 60: true
            default: false
            }
            check(p.fragment == .later || !isExtensionHeader,
                  "ok parse stopped at extension header \(p.ipProtocol)")
        }
    }
    if !p.isICMPError {
        if isV4 {
            check(flow.source == .v4(IPv4Address(rawValue: b.u32(start + 12))), "IPv4 source does not match bytes")
            check(flow.destination == .v4(IPv4Address(rawValue: b.u32(start + 16))), "IPv4 destination does not match bytes")
        } else {
            check(flow.source == .v6(IPv6Address(high: b.u64(start + 8), low: b.u64(start + 16))), "IPv6 source does not match bytes")
            check(flow.destination == .v6(IPv6Address(high: b.u64(start + 24), low: b.u64(start + 32))), "IPv6 destination does not match bytes")
        }
    }

    let l4 = p.l4Offset
    let limit = min(p.l3End, n)
    if p.hasPorts && !p.isICMPError {
        check(p.status == .ok, "ports on failed parse")
        check(p.ipProtocol == 6 || p.ipProtocol == 17, "ports for protocol \(p.ipProtocol)")
        check(p.fragment != .later, "ports on a later fragment")
        check(l4 + (p.ipProtocol == 6 ? 20 : 8) <= limit, "transport header not within datagram and capture")
        check(flow.sourcePort == b.u16(l4) && flow.destinationPort == b.u16(l4 + 2), "ports do not match bytes")
        if p.ipProtocol == 6 {
            let dataOffset = Int(b.u8(l4 + 12) >> 4) * 4
            check(dataOffset >= 20 && l4 + dataOffset <= p.l3End, "accepted TCP data offset \(dataOffset)")
            check(p.tcpFlags == b.u8(l4 + 13), "tcpFlags do not match bytes")
        }
    }
    if p.status == .ok && p.fragment != .later && !p.isICMPError && (p.ipProtocol == 6 || p.ipProtocol == 17) {
        check(p.hasPorts, "ok TCP/UDP first segment without ports")
    }
    if p.isICMPError {
        check(p.status == .ok, "ICMP error on failed parse")
        check(p.fragment != .later, "ICMP error decoded from a later fragment")
        check(p.ipProtocol == (isV4 ? 1 : 58), "ICMP error with ipProtocol \(p.ipProtocol)")
        check(l4 + 8 <= limit, "ICMP header not within datagram and capture")
        check(isV4 ? isICMPv4ErrorType(b.u8(l4)) : isICMPv6ErrorType(b.u8(l4)), "ICMP type \(b.u8(l4)) is not an error")
        // The quoted header: the flow is its reversed tuple.
        let inner = l4 + 8
        check(inner + minimum <= limit, "quoted header not within datagram and capture")
        if isV4 {
            check(flow.destination == .v4(IPv4Address(rawValue: b.u32(inner + 12))), "ICMP flow destination != quoted source")
            check(flow.source == .v4(IPv4Address(rawValue: b.u32(inner + 16))), "ICMP flow source != quoted destination")
        } else {
            check(flow.destination == .v6(IPv6Address(high: b.u64(inner + 8), low: b.u64(inner + 16))), "ICMPv6 flow destination != quoted source")
            check(flow.source == .v6(IPv6Address(high: b.u64(inner + 24), low: b.u64(inner + 32))), "ICMPv6 flow source != quoted destination")
        }
        if p.hasPorts {
            check(flow.ipProtocol == 6 || flow.ipProtocol == 17, "quoted ports for protocol \(flow.ipProtocol)")
        }
    }
    if p.status == .ok && p.fragment != .later && (p.ipProtocol == 6 || p.ipProtocol == 17 || p.ipProtocol == 1 || p.ipProtocol == 58) {
        if p.ipProtocol == 1 && isV4 || p.ipProtocol == 58 && !isV4 {
            check(l4 + 8 <= limit, "ok ICMP without a full ICMP header")
            let isError = isV4 ? isICMPv4ErrorType(b.u8(l4)) : isICMPv6ErrorType(b.u8(l4))
            check(p.isICMPError == isError, "isICMPError \(p.isICMPError) but type \(b.u8(l4))")
        }
    }
    switch p.status {
    case .truncatedTCP, .tcpBadDataOffset:
        check(p.ipProtocol == 6, "TCP status for protocol \(p.ipProtocol)")
    case .truncatedUDP:
        check(p.ipProtocol == 17, "UDP status for protocol \(p.ipProtocol)")
    case .truncatedICMP, .truncatedICMPInner, .malformedICMPInner:
        check(p.ipProtocol == (isV4 ? 1 : 58), "ICMP status for protocol \(p.ipProtocol)")
    case .truncatedIPv6Extension, .ipv6ExtensionChainTooLong:
        check(!isV4, "IPv6 extension status on IPv4")
    default:
        break
    }
}

/// The IPv6 payload length: the header field, or for a jumbogram (field 0, hop-by-hop header first,
/// RFC 2675) the Jumbo Payload option's value when it is above 65535. Options are looked for only
/// inside the hop-by-hop header's own length and the capture; anything else counts as no jumbo option
/// (payload length 0).
func ipv6PayloadLength(_ b: Bytes, _ start: Int) -> Int {
    let field = Int(b.u16(start + 4))
    guard field == 0, b.u8(start + 6) == 0 else { return field }
    let header = start + 40
    guard header + 2 <= b.count else { return 0 }
    let end = min(header + (Int(b.u8(header + 1)) + 1) * 8, b.count)
    var option = header + 2
    while option < end {
        let type = b.u8(option)
        if type == 0 { option += 1; continue }                     // Pad1
        guard option + 2 <= end else { return 0 }
        let length = Int(b.u8(option + 1))
        guard option + 2 + length <= end else { return 0 }        // the option must lie inside the header
        if type == 0xc2 && length == 4 {
            let jumbo = Int(b.u32(option + 2))
            return jumbo > 65_535 ? jumbo : 0
        }
        option += 2 + length
    }
    return 0
}

// MARK: - Address round trips

func roundTripMAC(_ mac: MACAddress) {
    let text = mac.description
    require(text.utf8.count == 17, "MAC description '\(text)' is not 17 characters")
    do {
        let again = try MACAddress(parsing: text)
        require(again == mac, "MAC \(text) parses back as \(again)")
    } catch {
        violation("MAC description '\(text)' does not parse: \(error)")
    }
    let octets = mac.octets
    require(octets.count == 6 && MACAddress(octets[0], octets[1], octets[2], octets[3], octets[4], octets[5]) == mac,
            "MAC octets do not rebuild \(text)")
}

func roundTripIP(_ address: IPAddress) {
    let text = address.description
    do {
        let again = try IPAddress(parsing: text)
        require(again == address, "IP \(text) parses back as \(again)")
        require(again.description == text, "IP \(text) re-prints as \(again.description)")
    } catch {
        violation("IP description '\(text)' does not parse: \(error)")
    }
    switch address {
    case .v4(let v4):
        require((try? IPv4Address(parsing: text)) == v4, "IPv4Address(parsing: \(text)) differs")
        require(!text.utf8.contains(UInt8(ascii: ":")), "IPv4 text contains ':'")
    case .v6(let v6):
        require((try? IPv6Address(parsing: text)) == v6, "IPv6Address(parsing: \(text)) differs")
        require(text.utf8.contains(UInt8(ascii: ":")), "IPv6 text without ':'")
        if libcOraclesEnabled { compareWithInetNtop(v6, text) }
    }
}

/// glibc's inet_ntop follows RFC 5952 except that it also prints the deprecated IPv4-compatible form
/// (`::a.b.c.d`); that case is skipped.
func compareWithInetNtop(_ address: IPv6Address, _ text: String) {
    var raw = in6_addr()
    withUnsafeMutableBytes(of: &raw) { bytes in
        for index in 0..<8 {
            bytes[index] = UInt8(truncatingIfNeeded: address.high >> UInt64(56 - 8 * index))
            bytes[8 + index] = UInt8(truncatingIfNeeded: address.low >> UInt64(56 - 8 * index))
        }
    }
    var output = [CChar](repeating: 0, count: 64)
    let ok = output.withUnsafeMutableBufferPointer { out in
        inet_ntop(AF_INET6, &raw, out.baseAddress, socklen_t(out.count)) != nil
    }
    require(ok, "inet_ntop failed")
    let libc = output.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    if libc.utf8.contains(UInt8(ascii: ".")) && !address.isIPv4Mapped { return }
    require(libc == text, "IPv6 description '\(text)' != inet_ntop '\(libc)'")
}

// MARK: - Text parsers

/// The documented MAC grammar, written independently: six octets of one or two hex digits, separated
/// all by ':' or all by '-'.
func referenceMAC(_ text: String) -> MACAddress? {
    let bytes = Array(text.utf8)
    guard let separator = bytes.first(where: { $0.hexDigitValue == nil }) else { return nil }
    guard separator == UInt8(ascii: ":") || separator == UInt8(ascii: "-") else { return nil }
    let parts = bytes.split(separator: separator, omittingEmptySubsequences: false)
    guard parts.count == 6 else { return nil }
    var raw: UInt64 = 0
    for part in parts {
        guard part.count >= 1 && part.count <= 2 else { return nil }
        var octet: UInt64 = 0
        for byte in part {
            guard let digit = byte.hexDigitValue else { return nil }
            octet = octet << 4 | UInt64(digit)
        }
        raw = raw << 8 | octet
    }
    return MACAddress(rawValue: raw)
}

func inetPton(_ family: Int32, _ text: String) -> [UInt8]? {
    var output = [UInt8](repeating: 0, count: 16)
    let result = text.withCString { cText in
        output.withUnsafeMutableBytes { inet_pton(family, cText, $0.baseAddress) }
    }
    return result == 1 ? output : nil
}

func fuzzText(_ input: UnsafeRawBufferPointer) {
    let text = String(decoding: input, as: UTF8.self)
    let hasNUL = text.utf8.contains(0)

    // MAC.
    let mac = try? MACAddress(parsing: text)
    let reference = referenceMAC(text)
    require(mac == reference, "MACAddress(parsing: \(String(reflecting: text))) = \(String(describing: mac)), reference grammar says \(String(describing: reference))")
    if let mac {
        require(text.utf8.count >= 11 && text.utf8.count <= 17, "accepted MAC text of \(text.utf8.count) bytes")
        roundTripMAC(mac)
    }

    // IPv4: strict dotted quad, so an accepted text is already the canonical description.
    let v4 = try? IPv4Address(parsing: text)
    require(v4 == IPv4Address.parse(text.utf8[...]), "IPv4Address init and parse disagree on \(String(reflecting: text))")
    if let v4 {
        require(v4.description == text, "accepted IPv4 \(String(reflecting: text)) prints as \(v4.description)")
        roundTripIP(.v4(v4))
    }
    if libcOraclesEnabled && !hasNUL {
        let libc = inetPton(AF_INET, text).map { IPv4Address($0[0], $0[1], $0[2], $0[3]) }
        require(v4 == libc, "IPv4Address(parsing: \(String(reflecting: text))) = \(String(describing: v4)), inet_pton says \(String(describing: libc))")
    }

    // IPv6.
    let v6 = try? IPv6Address(parsing: text)
    if let v6 {
        roundTripIP(.v6(v6))
        let again = try? IPv6Address(parsing: v6.description)
        require(again?.description == v6.description, "IPv6 description is not a fixed point")
    }
    if libcOraclesEnabled && !hasNUL {
        let libc = inetPton(AF_INET6, text).map { bytes -> IPv6Address in
            var high: UInt64 = 0, low: UInt64 = 0
            for index in 0..<8 { high = high << 8 | UInt64(bytes[index]); low = low << 8 | UInt64(bytes[8 + index]) }
            return IPv6Address(high: high, low: low)
        }
        require(v6 == libc, "IPv6Address(parsing: \(String(reflecting: text))) = \(String(describing: v6)), inet_pton says \(String(describing: libc))")
    }

    // Either family: the same answer as the family parser the text's shape selects.
    let any = try? IPAddress(parsing: text)
    switch any {
    case .v4(let address)?: require(address == v4, "IPAddress accepted v4 \(address) that IPv4Address did not")
    case .v6(let address)?: require(address == v6, "IPAddress accepted v6 \(address) that IPv6Address did not")
    case nil: break
    }
    if let v4 { require(any == .v4(v4), "IPv4Address accepted \(String(reflecting: text)) but IPAddress gave \(String(describing: any))") }
    if let v6 { require(any == .v6(v6), "IPv6Address accepted \(String(reflecting: text)) but IPAddress gave \(String(describing: any))") }

    // Errors must describe themselves without trapping.
    do { _ = try IPAddress(parsing: text) } catch { _ = error.description }
    do { _ = try MACAddress(parsing: text) } catch { _ = error.description }
}

// MARK: - Addresses built from raw bytes

func fuzzRawAddresses(_ input: UnsafeRawBufferPointer) {
    let b = Bytes(input)
    // The first and the last 16 bytes.
    for offset in (b.count > 16 ? [0, b.count - 16] : [0]) where offset + 16 <= b.count {
        let high = b.u64(offset), low = b.u64(offset + 8)
        roundTripIP(.v6(IPv6Address(high: high, low: low)))
        // Also the shapes the description special-cases: IPv4-mapped and long zero runs.
        roundTripIP(.v6(IPv6Address(high: 0, low: 0xffff_0000_0000 | low & 0xffff_ffff)))
        roundTripIP(.v6(IPv6Address(high: high & 0xffff_0000_ffff_0000, low: low & 0x0000_ffff_0000_ffff)))
        roundTripIP(.v4(IPv4Address(rawValue: b.u32(offset))))
        roundTripMAC(b.mac(offset))
    }
}

// MARK: - Frames

func fuzzFrame(_ input: UnsafeRawBufferPointer) {
    let n = input.count
    let b = Bytes(input)

    // The whole input is the frame.
    let full = FrameParser.parse(input)
    checkParse(input, wire: nil, full, "full", roundTrip: true)

    // wireLength == count, or below it, changes nothing.
    requireSame(FrameParser.parse(input, wireLength: n), full, "wireLength == count vs nil")
    let below = n > 0 ? -Int(b.u8(0)) : -1
    requireSame(FrameParser.parse(input, wireLength: below), full, "wireLength \(below) vs nil")

    // A longer wire only relaxes the two "exceeds frame" checks; every other outcome stays.
    let extra = n > 0 ? 1 + (Int(b.u8(0)) << 8 | Int(b.u8(n - 1))) : 1
    for wire in [n + extra, Int.max] {
        let long = FrameParser.parse(input, wireLength: wire)
        checkParse(input, wire: wire, long, "wire \(wire)", roundTrip: false)
        if full.status != .ipv4TotalLengthExceedsFrame && full.status != .ipv6PayloadExceedsFrame {
            requireSame(long, full, "wireLength \(wire) vs nil (status \(full.status.name))", ignoreWireLength: true)
        }
    }

    // Prefixes: the capture cut short. Same wire length as the full frame: a prefix that ends for a
    // reason other than running out of bytes must end the same way (with the same fields) as the whole.
    // Cut just at and one byte short of each header boundary the whole frame reached, plus one cut the
    // input chooses (libFuzzer's own mutations supply the rest).
    var cuts: [Int] = []
    let marks = [14, 18, 22, full.l3Offset + 8, full.l3Offset + 20, full.l3Offset + 28, full.l3Offset + 40,
                 full.l4Offset, full.l4Offset + 4, full.l4Offset + 8, full.l4Offset + 20, full.l4Offset + 28,
                 full.l4Offset + 48, full.l3End]
    for mark in marks {
        for cut in [mark - 1, mark] where cut >= 0 && cut < n && !cuts.contains(cut) { cuts.append(cut) }
    }
    if n >= 2 {
        let chosen = Int(b.u8(n - 1)) % n
        if !cuts.contains(chosen) { cuts.append(chosen) }
    }
    for cut in cuts {
        withHeapCopy(input, length: cut) { copy in
            let prefix = UnsafeRawBufferPointer(copy)
            let own = FrameParser.parse(prefix)
            checkParse(prefix, wire: nil, own, "prefix \(cut)", roundTrip: false)
            let cutShort = FrameParser.parse(prefix, wireLength: n)
            checkParse(prefix, wire: n, cutShort, "prefix \(cut) of wire \(n)", roundTrip: false)
            if isValueStatus(cutShort.status) {
                requireSame(cutShort, full, "prefix \(cut) of wire \(n) vs whole frame", ignoreCapturedLength: true)
            }
        }
    }

    // An empty buffer with no base address.
    requireSame(FrameParser.parse(UnsafeRawBufferPointer(start: nil, count: 0)),
                FrameParser.parse(UnsafeRawBufferPointer(rebasing: input[0..<0])), "nil base vs empty")

    // Unaligned start: same result.
    withHeapCopy(input, length: n, shift: 1) { copy in
        requireSame(FrameParser.parse(UnsafeRawBufferPointer(copy)), full, "unaligned copy vs original")
    }

    // MAC rewrite on a copy: bytes 0..<12 become the MACs, the rest stays, and the parse changes in
    // the MACs only.
    let destination = MACAddress(rawValue: n >= 6 ? ~b.mac(0).rawValue : 0x0200_5e00_0001)
    let source = MACAddress(rawValue: n >= 12 ? b.mac(6).rawValue ^ 0x0102_0304_0506 : 0x0600_0000_00fe)
    withHeapCopy(input, length: n) { copy in
        let applied = MACRewrite.apply(to: copy, destination: destination, source: source)
        require(applied == (n >= 12), "MACRewrite.apply returned \(applied) for \(n) bytes")
        let out = Bytes(UnsafeRawBufferPointer(copy))
        if applied {
            require(out.mac(0) == destination, "rewritten destination MAC is \(out.mac(0)), expected \(destination)")
            require(out.mac(6) == source, "rewritten source MAC is \(out.mac(6)), expected \(source)")
            for index in 12..<n where out.u8(index) != b.u8(index) {
                violation("MACRewrite changed byte \(index) of \(n)")
            }
        } else {
            for index in 0..<n where out.u8(index) != b.u8(index) {
                violation("MACRewrite refused a \(n)-byte frame but changed byte \(index)")
            }
        }
        var expected = full
        if n >= 14 {
            expected.destinationMAC = destination
            expected.sourceMAC = source
        }
        requireSame(FrameParser.parse(UnsafeRawBufferPointer(copy)), expected, "re-parse after MACRewrite")
    }
}

// MARK: - Entry point

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    fuzzFrame(input)
    fuzzText(input)
    fuzzRawAddresses(input)
    return 0
}
