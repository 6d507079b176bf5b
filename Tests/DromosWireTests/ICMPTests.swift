import Testing
import DromosWire

/// ICMP errors about a backend's reply (VIP→client) reach the balancer, addressed to the VIP; they must
/// be steered like the client→VIP flow the reply belongs to.
@Suite struct ICMPTests {
    /// A router (198.51.100.1) says "fragmentation needed, MTU 1400" about 203.0.113.10:80 → 198.51.100.7:40001.
    static let fragmentationNeeded = Hex.bytes(Segment.ethernetIPv4, """
        45 00 00 38 1c 46 40 00 40 01 b8 3f c6 33 64 01 cb 00 71 0a
        03 04 5a f1 00 00 05 78
        45 00 00 28 1c 46 40 00 40 06 b8 44 cb 00 71 0a c6 33 64 07
        00 50 9c 41 00 00 00 01
        """)

    @Test func steersAnICMPErrorByTheQuotedFlowReversed() {
        let parsed = parse(Self.fragmentationNeeded)
        #expect(parsed.status == .ok)
        #expect(parsed.isICMPError)
        #expect(parsed.ipProtocol == IPProtocolNumber.icmp)
        #expect(parsed.hasPorts)
        #expect(parsed.flow == FlowKey(source: ip("198.51.100.7"), destination: ip("203.0.113.10"),
                                       ipProtocol: 6, sourcePort: 40001, destinationPort: 80))
    }

    @Test func steersTimeExceededAboutUDP() {
        let parsed = parse(Hex.bytes(Segment.ethernetIPv4, """
            45 00 00 38 1c 46 40 00 40 01 b8 3f c6 33 64 01 cb 00 71 0a
            0b 00 d3 60 00 00 00 00
            45 00 00 1d 1c 46 40 00 40 11 b8 44 cb 00 71 0a c6 33 64 07
            00 35 14 e9 00 09 0c 78
            """))
        #expect(parsed.status == .ok)
        #expect(parsed.isICMPError)
        #expect(parsed.flow == FlowKey(source: ip("198.51.100.7"), destination: ip("203.0.113.10"),
                                       ipProtocol: 17, sourcePort: 5353, destinationPort: 53))
    }

    @Test func leavesEchoRequestsAsTheirOwnFlow() {
        let parsed = parse(Hex.bytes(Segment.ethernetIPv4, """
            45 00 00 20 1c 46 40 00 40 01 b8 51 c6 33 64 07 cb 00 71 0a 08 00 19 2d 00 01 00 01 70 69 6e 67
            """))
        #expect(parsed.status == .ok)
        #expect(!parsed.isICMPError)
        #expect(!parsed.hasPorts)
        #expect(parsed.flow == FlowKey(source: ip("198.51.100.7"), destination: ip("203.0.113.10"), ipProtocol: 1))
    }

    @Test func rejectsACutICMPHeader() {
        var frame = Array(Self.fragmentationNeeded.prefix(40))
        frame[17] = 26
        #expect(parse(frame).status == .truncatedICMP)
    }

    @Test func rejectsACutQuotedHeader() {
        // The quote stops inside its IPv4 header, then inside the quoted ports.
        for (length, status) in [(61, ParseStatus.truncatedICMPInner), (65, .truncatedICMPInner), (66, .ok)] {
            var frame = Array(Self.fragmentationNeeded.prefix(length))
            frame[17] = UInt8(length - 14)
            let parsed = parse(frame)
            #expect(parsed.status == status, "quote cut at \(length)")
            #expect(parsed.isICMPError == (status == .ok))
        }
    }

    @Test func rejectsAMalformedQuotedHeader() {
        var wrongVersion = Self.fragmentationNeeded
        wrongVersion[42] = 0x65
        #expect(parse(wrongVersion).status == .malformedICMPInner)
        var shortHeader = Self.fragmentationNeeded
        shortHeader[42] = 0x44
        #expect(parse(shortHeader).status == .malformedICMPInner)
    }

    /// "Packet too big, MTU 1280" from 2001:db8:100::1 about [2001:db8:ffff::10]:443 → [2001:db8:100::7]:40002.
    static let packetTooBig = Hex.bytes(Segment.ethernetIPv6, """
        60 00 00 00 00 38 3a 40 20 01 0d b8 01 00 00 00 00 00 00 00 00 00 00 01
        20 01 0d b8 ff ff 00 00 00 00 00 00 00 00 00 10
        02 00 3b 2e 00 00 05 00
        60 00 00 00 00 14 06 40 20 01 0d b8 ff ff 00 00 00 00 00 00 00 00 00 10
        20 01 0d b8 01 00 00 00 00 00 00 00 00 00 00 07
        01 bb 9c 42 00 00 00 01
        """)

    @Test func steersAPacketTooBigByTheQuotedFlowReversed() {
        let parsed = parse(Self.packetTooBig)
        #expect(parsed.status == .ok)
        #expect(parsed.isICMPError)
        #expect(parsed.ipProtocol == IPProtocolNumber.icmpv6)
        #expect(parsed.flow == FlowKey(source: ip("2001:db8:100::7"), destination: ip("2001:db8:ffff::10"),
                                       ipProtocol: 6, sourcePort: 40002, destinationPort: 443))
    }

    @Test func rejectsACutOrMalformedQuotedIPv6Header() {
        var cut = Array(Self.packetTooBig.prefix(100))
        cut[19] = UInt8(100 - 54)
        #expect(parse(cut).status == .truncatedICMPInner)
        var wrongVersion = Self.packetTooBig
        wrongVersion[62] = 0x45
        #expect(parse(wrongVersion).status == .malformedICMPInner)
    }

    @Test func leavesNeighborSolicitationsAsTheirOwnFlow() {
        let parsed = parse(Hex.bytes(Segment.ethernetIPv6, """
            60 00 00 00 00 08 3a ff 20 01 0d b8 01 00 00 00 00 00 00 00 00 00 00 01
            ff 02 00 00 00 00 00 00 00 00 00 01 ff 00 00 10
            87 00 00 00 00 00 00 00
            """))
        #expect(parsed.status == .ok)
        #expect(!parsed.isICMPError)
        #expect(parsed.flow?.ipProtocol == IPProtocolNumber.icmpv6)
    }
}
