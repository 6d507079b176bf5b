import Testing
import DromosWire

@Suite struct IPv6Tests {
    static let client = ip("2001:db8:100::7")
    static let vip = ip("2001:db8:ffff::10")

    @Test func readsTCP() {
        let parsed = parse(Hex.bytes(Segment.ethernetIPv6, Segment.ipv6TCPHeader, Segment.tcpSYNv6))
        #expect(parsed.status == .ok)
        #expect(parsed.l3 == .ipv6)
        #expect(parsed.l4Offset == 54)
        #expect(parsed.l3End == 74)
        #expect(parsed.tcpFlags == TCPFlag.syn)
        #expect(parsed.flow == FlowKey(source: Self.client, destination: Self.vip, ipProtocol: 6,
                                       sourcePort: 40002, destinationPort: 443))
    }

    /// Hop-by-hop (router alert) then destination options then UDP.
    static let extensionChain = Hex.bytes(Segment.ethernetIPv6, "60 00 00 00 00 1e 00 40", Segment.ipv6Addresses, """
        3c 00 05 02 00 00 01 00
        11 00 01 04 00 00 00 00
        14 e9 00 35 00 0e 4a d8 64 72 6f 6d 6f 73
        """)

    @Test func walksHopByHopAndDestinationOptions() {
        let parsed = parse(Self.extensionChain)
        #expect(parsed.status == .ok)
        #expect(parsed.ipProtocol == IPProtocolNumber.udp)
        #expect(parsed.l4Offset == 70)
        #expect(parsed.flow == FlowKey(source: Self.client, destination: Self.vip, ipProtocol: 17,
                                       sourcePort: 5353, destinationPort: 53))
    }

    @Test func walksARoutingHeader() {
        let parsed = parse(Hex.bytes(Segment.ethernetIPv6, "60 00 00 00 00 2c 2b 40", Segment.ipv6Addresses, """
            06 02 00 00 00 00 00 00 20 01 0d b8 00 01 00 00 00 00 00 00 00 00 00 01
            """, Segment.tcpSYNv6))
        #expect(parsed.status == .ok)
        #expect(parsed.l4Offset == 78)
        #expect(parsed.flow?.destinationPort == 443)
    }

    @Test func walksAnAuthenticationHeaderInFourByteUnits() {
        let parsed = parse(Hex.bytes(Segment.ethernetIPv6, "60 00 00 00 00 2c 33 40", Segment.ipv6Addresses, """
            06 04 00 00 00 00 01 00 00 00 00 01 11 11 11 11 11 11 11 11 11 11 11 11
            """, Segment.tcpSYNv6))
        #expect(parsed.status == .ok)
        #expect(parsed.l4Offset == 78)
        #expect(parsed.flow?.sourcePort == 40002)
    }

    @Test func readsFragments() {
        let first = parse(Hex.bytes(Segment.ethernetIPv6, "60 00 00 00 00 18 2c 40", Segment.ipv6Addresses, """
            11 00 00 01 de ad be ef  14 e9 00 35 00 0e 4a d8 42 42 42 42 42 42 42 42
            """))
        #expect(first.status == .ok)
        #expect(first.fragment == .first)
        #expect(first.fragmentID == 0xdead_beef)
        #expect(first.flow?.sourcePort == 5353)

        let later = parse(Hex.bytes(Segment.ethernetIPv6, "60 00 00 00 00 10 2c 40", Segment.ipv6Addresses, """
            11 00 00 10 de ad be ef  42 42 42 42 42 42 42 42
            """))
        #expect(later.status == .ok)
        #expect(later.fragment == .later)
        #expect(later.fragmentID == 0xdead_beef)
        #expect(later.ipProtocol == IPProtocolNumber.udp)
        #expect(!later.hasPorts)
        #expect(later.flow == FlowKey(source: Self.client, destination: Self.vip, ipProtocol: 17))
    }

    @Test func treatsAnAtomicFragmentAsWhole() {
        let parsed = parse(Hex.bytes(Segment.ethernetIPv6, "60 00 00 00 00 1c 2c 40", Segment.ipv6Addresses,
                                     "06 00 00 00 00 00 00 07", Segment.tcpSYNv6))
        #expect(parsed.status == .ok)
        #expect(parsed.fragment == .none)
        #expect(parsed.flow?.destinationPort == 443)
    }

    @Test func rejectsACutHeader() {
        let frame = Hex.bytes(Segment.ethernetIPv6, Segment.ipv6TCPHeader, Segment.tcpSYNv6)
        #expect(parse(Array(frame.prefix(53))).status == .truncatedIPv6)
    }

    @Test func rejectsAVersionMismatch() {
        var frame = Hex.bytes(Segment.ethernetIPv6, Segment.ipv6TCPHeader, Segment.tcpSYNv6)
        frame[14] = 0x40
        #expect(parse(frame).status == .ipVersionMismatch)
    }

    @Test func rejectsAPayloadLengthBeyondTheFrame() {
        var frame = Hex.bytes(Segment.ethernetIPv6, Segment.ipv6TCPHeader, Segment.tcpSYNv6)
        frame[19] = 0x15
        #expect(parse(frame).status == .ipv6PayloadExceedsFrame)
    }

    @Test func rejectsACutExtensionChain() {
        // The destination-options header claims 16 bytes; the datagram ends after 8.
        var frame = Self.extensionChain
        frame[63] = 1
        frame[19] = 0x10
        let cut = Array(frame.prefix(70))
        let parsed = parse(cut)
        #expect(parsed.status == .truncatedIPv6Extension)
        #expect(parsed.flow?.source == Self.client)
        #expect(parse(Array(Self.extensionChain.prefix(58))).status == .ipv6PayloadExceedsFrame)
        #expect(parse(Array(Self.extensionChain.prefix(58)), wireLength: 84).status == .truncatedIPv6Extension)
    }

    @Test func boundsTheExtensionChain() {
        func chain(_ count: Int) -> [UInt8] {
            let options = (0..<count).map { $0 == count - 1 ? "06 00 01 04 00 00 00 00" : "3c 00 01 04 00 00 00 00" }
            let payloadLength = String(8 * count + 20, radix: 16)
            let length = String(repeating: "0", count: 4 - payloadLength.count) + payloadLength
            return Hex.bytes(Segment.ethernetIPv6, "60 00 00 00 \(length) 3c 40", Segment.ipv6Addresses,
                             options.joined(separator: " "), Segment.tcpSYNv6)
        }
        #expect(parse(chain(FrameParser.maxIPv6ExtensionHeaders)).status == .ok)
        #expect(parse(chain(FrameParser.maxIPv6ExtensionHeaders)).flow?.destinationPort == 443)
        #expect(parse(chain(FrameParser.maxIPv6ExtensionHeaders + 1)).status == .ipv6ExtensionChainTooLong)
    }

    @Test func rejectsCutTransportHeaders() {
        var frame = Array(Hex.bytes(Segment.ethernetIPv6, Segment.ipv6TCPHeader, Segment.tcpSYNv6).prefix(70))
        frame[19] = 16
        #expect(parse(frame).status == .truncatedTCP)
        var udp = Array(Self.extensionChain.prefix(75))
        udp[19] = 0x15
        #expect(parse(udp).status == .truncatedUDP)
    }
}

@Suite struct IPv6JumbogramTests {
    /// A BIG TCP GRO frame as a packet socket sees it: payload length 0, the length in a jumbo option.
    static func jumbogram(payload: Int, jumboLength: Int) -> [UInt8] {
        let length = String(jumboLength, radix: 16)
        let padded = String(repeating: "0", count: 8 - length.count) + length
        return Hex.bytes(Segment.ethernetIPv6, "60 00 00 00 00 00 00 40", Segment.ipv6Addresses,
                         "06 00 c2 04 \(padded)", Segment.tcpSYNv6)
            + [UInt8](repeating: 0x61, count: payload)
    }

    @Test func takesTheLengthFromTheJumboOption() {
        let frame = Self.jumbogram(payload: 70_000, jumboLength: 8 + 20 + 70_000)
        let parsed = parse(frame)
        #expect(parsed.status == .ok)
        #expect(parsed.l3End == 14 + 40 + 8 + 20 + 70_000)
        #expect(parsed.flow?.destinationPort == 443)
    }

    /// Found by the fuzzer: a jumbo option straddling the end of its hop-by-hop header must not take its
    /// length from the bytes after the header.
    @Test func ignoresAJumboOptionThatRunsPastItsHeader() {
        let frame = Hex.bytes("""
            00 13 c4 c7 84 66 66 66 66 ae 22 f7 86 dd 60 00 00 00 00 00 00 e3 4f 70 74 69 6e 61 6c 65 71 75
            65 00 00 3a 00 04 00 e0 a6 f0 ea 5c 44 3a 00 00 00 00 06 06 04 00 00 00 00 c2 04 a6 ea 44 3a
            """)
        let parsed = parse(frame)
        #expect(parsed.status == .truncatedIPv6Extension)
        #expect(parsed.l3End == 54)
    }

    @Test func refusesAJumboLengthBeyondTheFrameOrBelowTheLimit() {
        #expect(parse(Self.jumbogram(payload: 70_000, jumboLength: 8 + 20 + 70_001)).status == .ipv6PayloadExceedsFrame)
        // RFC 2675: a jumbo length that would fit the ordinary field is invalid; the payload length 0 stands.
        #expect(parse(Self.jumbogram(payload: 100, jumboLength: 8 + 20 + 100)).status == .truncatedIPv6Extension)
    }
}
