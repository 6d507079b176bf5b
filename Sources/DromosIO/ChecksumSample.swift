public import DromosWire

/// The check of forwarded frames' TCP/UDP checksums for ports without a vnet header (libpcap, AF_XDP),
/// which cannot know that a sender's offload left a checksum for a NIC to finish: a sample, often enough
/// to notice within a second at any useful rate, rare enough to cost nothing measurable (a parse and a
/// sum of one frame in 64).
public enum ChecksumSample {
    public static let interval: UInt64 = 64

    /// Checks `bytes` when it is its turn: among the first 64 frames every one until one could be checked
    /// (the first might be an ARP reply or an ICMP error), so a link that leaves checksums unfinished is
    /// noticed at its first TCP/UDP frame; then one in 64, also on a link whose frames can never be checked.
    /// `sent`: frames the port sent or tried to before this one.
    @inlinable
    public static func check(_ bytes: UnsafeRawBufferPointer, sent: UInt64, sampled: inout UInt64, bad: inout UInt64) {
        guard (sampled == 0 && sent < interval) || sent % interval == 0,
              let holds = TransportChecksum.holds(bytes, FrameParser.parse(bytes)) else { return }
        sampled &+= 1
        if !holds { bad &+= 1 }
    }
}
