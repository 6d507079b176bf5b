@testable import DromosHealth
import DromosWire
import Testing

/// The `dsr` probe's frames and its reading of answers: checksums a receiver accepts, and only a
/// SYN-ACK taken for one.
struct DSRFrameTests {
    static let balancerMAC = MACAddress(rawValue: 0x0200_0000_0002)
    static let backendMAC = MACAddress(rawValue: 0x0200_0000_0111)

    /// The ones'-complement sum of 16-bit words, as a receiver checks it (0xffff over a correct message).
    static func sum(_ bytes: [UInt8]) -> UInt16 {
        var total: UInt32 = 0
        for index in stride(from: 0, to: bytes.count, by: 2) {
            total += UInt32(bytes[index]) << 8 | UInt32(index + 1 < bytes.count ? bytes[index + 1] : 0)
        }
        while total > 0xffff { total = (total & 0xffff) + (total >> 16) }
        return UInt16(total)
    }

    static func segment(_ source: IPAddress, _ destination: IPAddress, flags: UInt8) -> TCPControlFrame.Segment {
        TCPControlFrame.Segment(source: source, destination: destination, sourcePort: 40_001, destinationPort: 80,
                                sequence: 0x1234_5678, acknowledgment: 0x9abc_def0, flags: flags)
    }

    @Test func anIPv4SYNIsFramedToTheBackendWithChecksumsThatHold() throws {
        let source = IPv4Address(198, 18, 0, 2), vip = IPv4Address(203, 0, 113, 10)
        let frame = TCPControlFrame.bytes(Self.segment(.v4(source), .v4(vip), flags: TCPControlFrame.syn), from: Self.balancerMAC, to: Self.backendMAC)
        #expect(frame.count == 14 + 20 + 24)
        #expect(Array(frame[0..<6]) == [0x02, 0, 0, 0, 0x01, 0x11] && Array(frame[6..<12]) == [0x02, 0, 0, 0, 0, 0x02])
        #expect(Self.sum(Array(frame[14..<34])) == 0xffff, "IPv4 header checksum")
        let tcp = Array(frame[34...])
        let pseudo = Array(frame[26..<34]) + [0, 6, 0, UInt8(tcp.count)]
        #expect(Self.sum(pseudo + tcp) == 0xffff, "TCP checksum over the pseudo-header")
        #expect(tcp[13] == TCPControlFrame.syn && Array(tcp[20..<24]) == [2, 4, 0x05, 0xb4], "a SYN with an MSS option")
        try frame.withUnsafeBytes { bytes in
            let parsed = FrameParser.parse(bytes)
            try #require(parsed.status == .ok)
            #expect(parsed.flow?.destination == .v4(vip) && parsed.flow?.destinationPort == 80 && parsed.flow?.sourcePort == 40_001)
        }
    }

    @Test func anIPv6RSTHasAChecksumThatHolds() throws {
        let source = try IPv6Address(parsing: "2001:db8:18::2"), vip = try IPv6Address(parsing: "2001:db8:ffff::10")
        let frame = TCPControlFrame.bytes(Self.segment(.v6(source), .v6(vip), flags: TCPControlFrame.rst), from: Self.balancerMAC, to: Self.backendMAC)
        #expect(frame.count == 14 + 40 + 24 && frame[12] == 0x86 && frame[13] == 0xdd)
        let tcp = Array(frame[54...])
        let pseudo = Array(frame[22..<54]) + [0, 0, 0, UInt8(tcp.count), 0, 0, 0, 6]
        #expect(Self.sum(pseudo + tcp) == 0xffff)
        #expect(tcp[13] == TCPControlFrame.rst)
        #expect(TCPControlFrame.bytes(Self.segment(.v6(source), .v4(IPv4Address(203, 0, 113, 10)), flags: TCPControlFrame.rst),
                                      from: Self.balancerMAC, to: Self.backendMAC).isEmpty, "families must match")
    }

    /// What the raw socket hands over: the IP packet (IPv4) or the TCP segment (IPv6).
    static func packet(flags: UInt8, options: Int = 0) -> [UInt8] {
        let frame = TCPControlFrame.bytes(segment(.v4(IPv4Address(203, 0, 113, 10)), .v4(IPv4Address(198, 18, 0, 2)), flags: flags),
                                          from: balancerMAC, to: backendMAC)
        var ip = Array(frame[14..<34])
        ip[0] = 0x45 + UInt8(options / 4)
        return ip + [UInt8](repeating: 1, count: options) + Array(frame[34...])
    }

    @Test func onlyASYNACKIsAnAnswer() {
        let synACK = Self.packet(flags: TCPControlFrame.syn | TCPControlFrame.ack)
        let answer = synACK.withUnsafeBytes { RawTCPListener.parseIPv4($0) }
        #expect(answer?.source == .v4(IPv4Address(203, 0, 113, 10)) && answer?.sourcePort == 40_001 && answer?.destinationPort == 80)
        #expect(answer?.acknowledgment == 0x9abc_def0)
        let withOptions = Self.packet(flags: TCPControlFrame.syn | TCPControlFrame.ack, options: 8)
        #expect(withOptions.withUnsafeBytes { RawTCPListener.parseIPv4($0) }?.acknowledgment == 0x9abc_def0, "IHL > 5")
        for flags in [TCPControlFrame.rst | TCPControlFrame.ack, TCPControlFrame.syn, TCPControlFrame.ack,
                      TCPControlFrame.syn | TCPControlFrame.ack | TCPControlFrame.rst] {
            #expect(Self.packet(flags: flags).withUnsafeBytes { RawTCPListener.parseIPv4($0) } == nil, "flags \(flags)")
        }
        for cut in [0, 10, 19, 20, 39] {
            #expect(Array(synACK.prefix(cut)).withUnsafeBytes { RawTCPListener.parseIPv4($0) } == nil, "cut at \(cut)")
        }
        let segment = Array(synACK[20...])
        #expect(segment.withUnsafeBytes { RawTCPListener.parseTCP($0, source: .v4(IPv4Address(203, 0, 113, 10))) }?.destinationPort == 80)
    }
}
