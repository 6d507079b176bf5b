import Testing
import DromosWire

@Suite struct IPv4Tests {
    @Test func readsATCPSYN() throws {
        let parsed = parse(tcpFrame())
        #expect(parsed.status == .ok)
        #expect(parsed.l3 == .ipv4)
        #expect(parsed.l3Offset == 14)
        #expect(parsed.l3End == 54)
        #expect(parsed.l4Offset == 34)
        #expect(parsed.ipProtocol == IPProtocolNumber.tcp)
        #expect(parsed.fragment == .none)
        #expect(parsed.fragmentID == 0x1c46)
        #expect(parsed.hasPorts)
        #expect(!parsed.isICMPError)
        #expect(parsed.tcpFlags == TCPFlag.syn)
        #expect(parsed.flow == FlowKey(source: ip("198.51.100.7"), destination: ip("203.0.113.10"),
                                       ipProtocol: 6, sourcePort: 40001, destinationPort: 80))
    }

    @Test func readsUDP() {
        let parsed = parse(Hex.bytes(Segment.ethernetIPv4, Segment.ipv4UDP))
        #expect(parsed.status == .ok)
        #expect(parsed.flow == FlowKey(source: ip("198.51.100.7"), destination: ip("203.0.113.10"),
                                       ipProtocol: 17, sourcePort: 5353, destinationPort: 53))
    }

    @Test func skipsOptions() {
        // IHL 6: a router-alert option before the TCP header.
        let parsed = parse(Hex.bytes(Segment.ethernetIPv4, """
            46 00 00 2c 1c 46 40 00 40 06 23 3c c6 33 64 07 cb 00 71 0a 94 04 00 00
            """, Segment.tcpSYN))
        #expect(parsed.status == .ok)
        #expect(parsed.l4Offset == 38)
        #expect(parsed.flow?.sourcePort == 40001)
    }

    @Test func ignoresEthernetPadding() {
        // A 40-byte datagram in a minimum-size 60-byte frame.
        let padded = tcpFrame() + [UInt8](repeating: 0, count: 6)
        let parsed = parse(padded)
        #expect(parsed.status == .ok)
        #expect(parsed.l3End == 54)
    }

    @Test func readsAFirstFragmentWithPorts() {
        let parsed = parse(Hex.bytes(Segment.ethernetIPv4, """
            45 00 00 24 42 42 20 00 40 11 b2 41 c6 33 64 07 cb 00 71 0a
            13 88 00 35 00 18 7b b1 41 41 41 41 41 41 41 41
            """))
        #expect(parsed.status == .ok)
        #expect(parsed.fragment == .first)
        #expect(parsed.fragmentID == 0x4242)
        #expect(parsed.hasPorts)
        #expect(parsed.flow?.sourcePort == 5000)
    }

    @Test func readsALaterFragmentWithoutPorts() {
        let parsed = parse(Hex.bytes(Segment.ethernetIPv4, """
            45 00 00 1c 42 42 00 02 40 11 d2 47 c6 33 64 07 cb 00 71 0a 41 41 41 41 41 41 41 41
            """))
        #expect(parsed.status == .ok)
        #expect(parsed.fragment == .later)
        #expect(parsed.fragmentID == 0x4242)
        #expect(!parsed.hasPorts)
        #expect(parsed.flow == FlowKey(source: ip("198.51.100.7"), destination: ip("203.0.113.10"), ipProtocol: 17))
    }

    @Test func rejectsAVersionMismatch() {
        var frame = tcpFrame()
        frame[14] = 0x65
        #expect(parse(frame).status == .ipVersionMismatch)
    }

    @Test(arguments: [UInt8(0x40), 0x41, 0x44])
    func rejectsHeaderLengthsBelowFive(versionAndLength: UInt8) {
        var frame = tcpFrame()
        frame[14] = versionAndLength
        #expect(parse(frame).status == .ipv4BadHeaderLength)
    }

    @Test func rejectsATotalLengthBeyondTheFrame() {
        var frame = tcpFrame()
        frame[17] = 0x29  // 41 bytes claimed, 40 present
        let parsed = parse(frame)
        #expect(parsed.status == .ipv4TotalLengthExceedsFrame)
        // The addresses are known; the ports are not read from a datagram that lies about its length.
        #expect(parsed.flow?.destination == ip("203.0.113.10"))
        #expect(!parsed.hasPorts)
    }

    @Test func rejectsATotalLengthBelowTheHeader() {
        var frame = tcpFrame()
        frame[17] = 0x13
        #expect(parse(frame).status == .ipv4BadTotalLength)
    }

    @Test func rejectsCutHeadersAndOptions() {
        #expect(parse(Array(tcpFrame().prefix(33))).status == .truncatedIPv4)
        // IHL 15 (60 bytes) in a frame that holds 40 bytes of datagram, total length 60 claimed.
        var frame = tcpFrame()
        frame[14] = 0x4f
        frame[17] = 60
        #expect(parse(frame, wireLength: 74).status == .truncatedIPv4Options)
    }

    @Test func rejectsACutTCPHeader() {
        var frame = Array(tcpFrame().prefix(53))
        frame[17] = 39  // the datagram really ends one byte short of a TCP header
        let parsed = parse(frame)
        #expect(parsed.status == .truncatedTCP)
        #expect(!parsed.hasPorts)
        #expect(parsed.flow?.destination == ip("203.0.113.10"))
    }

    @Test func rejectsABadTCPDataOffset() {
        var frame = tcpFrame()
        frame[46] = 0x40  // 16-byte header
        #expect(parse(frame).status == .tcpBadDataOffset)
        frame[46] = 0x60  // 24-byte header in a 20-byte segment
        #expect(parse(frame).status == .tcpBadDataOffset)
    }

    @Test func rejectsACutUDPHeader() {
        var frame = Array(Hex.bytes(Segment.ethernetIPv4, Segment.ipv4UDP).prefix(41))
        frame[17] = 27
        #expect(parse(frame).status == .truncatedUDP)
    }

    @Test func keepsTheFlowOfACaptureCutBySnaplen() {
        // tcpdump -s 54 of a 1514-byte segment: the headers are there, the payload is not.
        var frame = tcpFrame()
        frame[16] = 0x05
        frame[17] = 0xdc
        let parsed = parse(frame, wireLength: 1514)
        #expect(parsed.status == .ok)
        #expect(parsed.isCaptureTruncated)
        #expect(parsed.flow?.sourcePort == 40001)
        #expect(parse(frame).status == .ipv4TotalLengthExceedsFrame)
        // Cut inside the TCP header: the capture cannot show the ports.
        #expect(parse(Array(frame.prefix(40)), wireLength: 1514).status == .truncatedTCP)
    }
}
