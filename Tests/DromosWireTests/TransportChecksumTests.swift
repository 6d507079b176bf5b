import CAllocationCounter
import DromosWire
import Testing

/// The sample the libpcap port checks forwarded frames with: a finished checksum holds, an unfinished
/// one (a sender's offload left the pseudo-header's sum for the NIC) does not, and what cannot be told
/// says so.
struct TransportChecksumTests {
    static let client = IPv4Address(198, 18, 0, 1), vip = IPv4Address(203, 0, 113, 10)

    /// A SYN with finished checksums, from the `dsr` probe's builder.
    static func syn(_ source: IPAddress, _ destination: IPAddress) -> [UInt8] {
        TCPControlFrame.bytes(TCPControlFrame.Segment(source: source, destination: destination, sourcePort: 40_000, destinationPort: 80,
                                                      sequence: 7, flags: TCPControlFrame.syn),
                              from: MACAddress(rawValue: 0x0200_0000_0001), to: MACAddress(rawValue: 0x0200_0000_0002))
    }

    static func holds(_ frame: [UInt8]) -> Bool? {
        frame.withUnsafeBytes { TransportChecksum.holds($0, FrameParser.parse($0)) }
    }

    /// What a sender with checksum offload hands on: the folded pseudo-header sum, not complemented.
    static func unfinished(_ frame: [UInt8], checksumAt offset: Int, pseudoHeader: [UInt8]) -> [UInt8] {
        var sum: UInt32 = 0
        for index in stride(from: 0, to: pseudoHeader.count, by: 2) { sum += UInt32(pseudoHeader[index]) << 8 | UInt32(pseudoHeader[index + 1]) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        var frame = frame
        frame[offset] = UInt8(sum >> 8)
        frame[offset + 1] = UInt8(sum & 0xff)
        return frame
    }

    @Test func aFinishedChecksumHoldsAndAnUnfinishedOneDoesNot() throws {
        let frame = Self.syn(.v4(Self.client), .v4(Self.vip))
        #expect(Self.holds(frame) == true)
        let pseudo = Array(frame[26..<34]) + [0, 6, 0, UInt8(frame.count - 34)]
        #expect(Self.holds(Self.unfinished(frame, checksumAt: 34 + 16, pseudoHeader: pseudo)) == false)
        var flipped = frame
        flipped[frame.count - 1] ^= 0x01
        #expect(Self.holds(flipped) == false, "a damaged byte")

        let six = Self.syn(.v6(try IPv6Address(parsing: "2001:db8:18::1")), .v6(try IPv6Address(parsing: "2001:db8:ffff::10")))
        #expect(Self.holds(six) == true)
        let pseudo6 = Array(six[22..<54]) + [0, 0, 0, UInt8(six.count - 54), 0, 0, 0, 6]
        #expect(Self.holds(Self.unfinished(six, checksumAt: 54 + 16, pseudoHeader: pseudo6)) == false)
    }

    @Test func whatCannotBeToldIsNil() {
        let frame = Self.syn(.v4(Self.client), .v4(Self.vip))
        #expect(Self.holds(Array(frame.prefix(frame.count - 4))) == nil, "a capture cut short of the datagram")
        var udp = frame
        udp[23] = 17  // protocol UDP, with the checksum field (offset 6 of the header) zero: none sent
        udp[34 + 6] = 0
        udp[34 + 7] = 0
        #expect(Self.holds(udp) == nil)
        var fragment = frame
        fragment[20] = 0x20  // more fragments
        #expect(Self.holds(fragment) == nil)
        #expect(Self.holds(Array(frame.prefix(14))) == nil)
    }

    /// The libpcap port runs it on the forwarding path (a sample): the parse and the sum allocate nothing.
    @Test func checkingAllocatesNothing() throws {
        let frames = [Self.syn(.v4(Self.client), .v4(Self.vip)),
                      Self.syn(.v6(try IPv6Address(parsing: "2001:db8:18::1")), .v6(try IPv6Address(parsing: "2001:db8:ffff::10")))]
        var held = 0
        for frame in frames {
            frame.withUnsafeBytes { bytes in
                var before = dromos_thread_allocation_count()
                for round in 0..<1_001 {
                    if round == 1 { before = dromos_thread_allocation_count() }  // the first may set up runtime metadata
                    if TransportChecksum.holds(bytes, FrameParser.parse(bytes)) == true { held += 1 }
                }
                #expect(dromos_thread_allocation_count() - before == 0)
            }
        }
        #expect(held == 2 * 1_001)
    }
}
