import Testing
import DromosWire

@Suite struct EthernetTests {
    @Test func readsMACsAndStopsQuietlyAtUnknownEtherTypes() throws {
        // An LLDP frame: not ours, not malformed.
        let parsed = parse(Hex.bytes("01 80 c2 00 00 0e  02 00 00 00 00 02  88 cc", "02 07 04 02 00 00 00 00 02"))
        #expect(parsed.status == .ok)
        #expect(parsed.destinationMAC == (try MACAddress(parsing: "01:80:c2:00:00:0e")))
        #expect(parsed.sourceMAC == (try MACAddress(parsing: "02:00:00:00:00:02")))
        #expect(parsed.etherType == 0x88cc)
        #expect(parsed.l3 == .none)
        #expect(parsed.l3Offset == 14)
        #expect(parsed.flow == nil)
        #expect(parsed.vlanCount == 0)
    }

    @Test func rejectsRuntFrames() {
        #expect(parse([]).status == .runtFrame)
        #expect(parse(Hex.bytes("02 00 00 00 00 01  02 00 00 00 00 02  08")).status == .runtFrame)
        #expect(parse(Hex.bytes(Segment.ethernetIPv4)).status == .truncatedIPv4)
    }

    @Test func readsOneVLANTag() {
        let parsed = parse(Hex.bytes(Segment.macs, "81 00 a0 64  08 00", Segment.ipv4TCPHeader, Segment.tcpSYN))
        #expect(parsed.status == .ok)
        #expect(parsed.vlanCount == 1)
        #expect(parsed.outerVLAN == VLANTag(tpid: 0x8100, tci: 0xa064))
        #expect(parsed.outerVLAN.id == 100)
        #expect(parsed.outerVLAN.priority == 5)
        #expect(parsed.vlanIDs == [100])
        #expect(parsed.l3Offset == 18)
        #expect(parsed.flow?.destinationPort == 80)
    }

    @Test(arguments: [UInt16(0x88a8), 0x9100, 0x8100])
    func readsTwoTagsOuterFirst(outerTPID: UInt16) {
        let outer = String(outerTPID, radix: 16)
        let parsed = parse(Hex.bytes(Segment.macs, "\(outer) 00 c8  81 00 07 d1  86 dd", Segment.ipv6TCPHeader, Segment.tcpSYNv6))
        #expect(parsed.status == .ok)
        #expect(parsed.vlanIDs == [200, 2001])
        #expect(parsed.outerVLAN.tpid == outerTPID)
        #expect(parsed.innerVLAN.tpid == 0x8100)
        #expect(parsed.l3 == .ipv6)
        #expect(parsed.l3Offset == 22)
    }

    @Test func refusesAThirdTag() {
        let parsed = parse(Hex.bytes(Segment.macs, "88 a8 00 c8  81 00 07 d1  81 00 00 05  08 00", Segment.ipv4TCPHeader, Segment.tcpSYN))
        #expect(parsed.status == .tooManyVLANTags)
        #expect(parsed.vlanIDs == [200, 2001])
        #expect(parsed.flow == nil)
    }

    @Test func rejectsCutVLANTags() {
        #expect(parse(Hex.bytes(Segment.macs, "81 00 00")).status == .truncatedVLANTag)
        #expect(parse(Hex.bytes(Segment.macs, "81 00 00 64")).status == .truncatedVLANTag)
        #expect(parse(Hex.bytes(Segment.macs, "81 00 00 64 08")).status == .truncatedVLANTag)
        let cutInner = parse(Hex.bytes(Segment.macs, "88 a8 00 c8 81 00 07"))
        #expect(cutInner.status == .truncatedVLANTag)
        #expect(cutInner.vlanIDs == [200])
    }

    /// A tag is 4 bytes (TPID, TCI) before the next EtherType: tags that end exactly where the frame
    /// does are whole, and the parser goes on to the missing network header.
    @Test func takesTagsThatEndWithTheFrame() {
        let one = parse(Hex.bytes(Segment.macs, "81 00 00 64 08 00"))
        #expect(one.status == .truncatedIPv4)
        #expect(one.vlanIDs == [100])
        let two = parse(Hex.bytes(Segment.macs, "88 a8 00 c8 81 00 07 d1 08 00"))
        #expect(two.status == .truncatedIPv4)
        #expect(two.vlanIDs == [200, 2001])
        #expect(two.l3Offset == 22)
    }
}

@Suite struct ARPTests {
    /// Who has 203.0.113.10? Tell 198.18.0.1.
    static let request = Hex.bytes(Segment.ethernetARP, """
        00 01 08 00 06 04 00 01 02 00 00 00 00 02 c6 12 00 01 00 00 00 00 00 00 cb 00 71 0a
        """)

    @Test func readsARequest() throws {
        let parsed = parse(Self.request)
        #expect(parsed.status == .ok)
        #expect(parsed.l3 == .arp)
        #expect(parsed.flow == nil)
        let arp = try #require(parsed.arp)
        #expect(arp.operation == ARPMessage.request)
        #expect(arp.senderMAC == (try MACAddress(parsing: "02:00:00:00:00:02")))
        #expect(arp.senderIP == IPv4Address(198, 18, 0, 1))
        #expect(arp.targetMAC == .zero)
        #expect(arp.targetIP == IPv4Address(203, 0, 113, 10))
    }

    @Test func toleratesPaddingAfterTheMessage() {
        let padded = Self.request + [UInt8](repeating: 0, count: 18)
        #expect(parse(padded).status == .ok)
        #expect(parse(padded).l3End == 42)
    }

    @Test func rejectsCutMessages() {
        #expect(parse(Array(Self.request.prefix(20))).status == .truncatedARP)
        #expect(parse(Array(Self.request.prefix(41))).status == .truncatedARP)
        #expect(parse(Array(Self.request.prefix(41))).arp == nil)
    }

    @Test func refusesNonEthernetIPv4ARP() {
        var tokenRing = Self.request
        tokenRing[15] = 6  // hardware type IEEE 802
        #expect(parse(tokenRing).status == .unsupportedARP)
        var longHardwareAddress = Self.request
        longHardwareAddress[18] = 8
        #expect(parse(longHardwareAddress).status == .unsupportedARP)
    }
}

@Suite struct MACRewriteTests {
    @Test func rewritesOnlyTheAddresses() throws {
        var frame = tcpFrame()
        let original = frame
        let backend = try MACAddress(parsing: "02:00:00:00:01:11")
        let balancer = try MACAddress(parsing: "02:00:00:00:00:01")
        let done = frame.withUnsafeMutableBytes { MACRewrite.apply(to: $0, destination: backend, source: balancer) }
        #expect(done)
        #expect(Array(frame[0..<12]) == Hex.bytes("02 00 00 00 01 11  02 00 00 00 00 01"))
        #expect(Array(frame[12...]) == Array(original[12...]))
        #expect(parse(frame).destinationMAC == backend)
        #expect(parse(frame).flow == parse(original).flow)
    }

    @Test func leavesShortFramesAlone() {
        var frame: [UInt8] = Array(repeating: 0xaa, count: 11)
        let done = frame.withUnsafeMutableBytes { MACRewrite.apply(to: $0, destination: .broadcast, source: .zero) }
        #expect(!done)
        #expect(frame == Array(repeating: 0xaa, count: 11))
    }
}
