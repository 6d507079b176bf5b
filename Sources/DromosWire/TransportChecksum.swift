/// Whether a frame's TCP or UDP checksum holds. A sender whose checksum offload is on hands its frames
/// on with the checksum unfinished (the pseudo-header's sum only, for the NIC to complete); a reader
/// without the kernel's vnet header (libpcap) cannot tell, forwards them as they are, and every backend
/// drops them. Sampled on the forwarding path to make that loud; allocation-free, every read inside the
/// capture.
public enum TransportChecksum {
    /// Nil when it cannot be told: not TCP or UDP, a fragment, a datagram the capture cut short, a UDP
    /// datagram sent without a checksum (0), and a datagram with IPv4 options or IPv6 extension headers
    /// (a source route changes the destination the checksum covers; rare enough to leave unsampled).
    @inlinable
    public static func holds(_ frame: UnsafeRawBufferPointer, _ parsed: ParsedFrame) -> Bool? {
        guard parsed.status == .ok, parsed.fragment == .none, parsed.l3 == .ipv4 || parsed.l3 == .ipv6 else { return nil }
        let transport = parsed.ipProtocol
        guard transport == IPProtocolNumber.tcp || transport == IPProtocolNumber.udp else { return nil }
        let start = parsed.l4Offset, end = parsed.l3End
        let minimum = transport == IPProtocolNumber.tcp ? 20 : 8
        // The transport header right after a plain IP header: the addresses read below lie inside the
        // frame once the segment does.
        let plainHeader = parsed.l3 == .ipv4 ? 20 : 40
        guard start == parsed.l3Offset &+ plainHeader, end <= frame.count, end &- start >= minimum else { return nil }
        let bytes = ByteView(frame)
        if transport == IPProtocolNumber.udp && bytes.u16(start &+ 6) == 0 { return nil }
        // UDP covers its own length, which may be shorter than the IP payload.
        var length = end &- start
        if transport == IPProtocolNumber.udp {
            let udpLength = Int(bytes.u16(start &+ 4))
            guard udpLength >= 8, udpLength <= length else { return nil }
            length = udpLength
        }
        var sum = InternetChecksum()
        if parsed.l3 == .ipv4 {
            sum.add(bytes.u32(parsed.l3Offset &+ 12))
            sum.add(bytes.u32(parsed.l3Offset &+ 16))
            sum.add(UInt16(transport))
            sum.add(UInt16(truncatingIfNeeded: length))
        } else {
            sum.add(bytes, from: parsed.l3Offset &+ 8, count: 32)
            sum.add(UInt32(truncatingIfNeeded: length))
            sum.add(UInt16(transport))
        }
        sum.add(bytes, from: start, count: length)
        return sum.value == 0
    }
}
