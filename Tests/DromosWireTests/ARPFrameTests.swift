import Testing
import DromosWire

/// ARP frames a Linux 6.x kernel sent between two namespaces (veth, 02:00:00:00:00:0a is 198.18.0.1,
/// 02:00:00:00:00:0b is 198.18.0.2), captured with tcpdump; the builders must write the same bytes.
enum CapturedARP {
    /// `arp_notify`: who has 198.18.0.1, tell 198.18.0.1.
    static let gratuitous = Hex.bytes("""
        ff ff ff ff ff ff 02 00 00 00 00 0a 08 06 00 01 08 00 06 04 00 01 02 00 00 00 00 0a c6 12 00 01
        00 00 00 00 00 00 c6 12 00 01
        """)
    /// Who has 198.18.0.2, tell 198.18.0.1.
    static let request = Hex.bytes("""
        ff ff ff ff ff ff 02 00 00 00 00 0a 08 06 00 01 08 00 06 04 00 01 02 00 00 00 00 0a c6 12 00 01
        00 00 00 00 00 00 c6 12 00 02
        """)
    /// 198.18.0.2 is at 02:00:00:00:00:0b.
    static let reply = Hex.bytes("""
        02 00 00 00 00 0a 02 00 00 00 00 0b 08 06 00 01 08 00 06 04 00 02 02 00 00 00 00 0b c6 12 00 02
        02 00 00 00 00 0a c6 12 00 01
        """)
}

let macA = MACAddress(2, 0, 0, 0, 0, 0x0a)
let macB = MACAddress(2, 0, 0, 0, 0, 0x0b)

func written(capacity: Int = 128, _ body: (UnsafeMutableRawBufferPointer) -> Int) -> [UInt8] {
    var buffer = [UInt8](repeating: 0xee, count: capacity)
    let length = buffer.withUnsafeMutableBytes(body)
    return Array(buffer.prefix(length))
}

@Suite struct ARPFrameTests {
    @Test func readsTheKernelsFrames() throws {
        let request = try #require(parse(CapturedARP.request).arp)
        #expect(request == ARPMessage(
            operation: ARPMessage.request, senderMAC: macA, senderIP: IPv4Address(198, 18, 0, 1), targetMAC: .zero,
            targetIP: IPv4Address(198, 18, 0, 2)))
        #expect(!request.isGratuitous)
        let reply = try #require(parse(CapturedARP.reply).arp)
        #expect(reply.operation == ARPMessage.reply)
        #expect(reply.senderMAC == macB)
        #expect(reply.senderIP == IPv4Address(198, 18, 0, 2))
        #expect(reply.targetMAC == macA)
        #expect(try #require(parse(CapturedARP.gratuitous).arp).isGratuitous)
    }

    @Test func writesARequestAsTheKernelDoes() {
        let message = ARPMessage.request(for: IPv4Address(198, 18, 0, 2), from: IPv4Address(198, 18, 0, 1), at: macA)
        let frame = written { ARPFrame.write(message, framing: EthernetFraming(destination: .broadcast, source: macA), into: $0) }
        #expect(frame == CapturedARP.request)
    }

    @Test func answersTheRequestWithTheKernelsReply() throws {
        let parsed = parse(CapturedARP.request)
        let answer = try #require(parsed.arp).reply(from: macB)
        let frame = written { ARPFrame.write(answer, framing: EthernetFraming(replyingTo: parsed, from: macB), into: $0) }
        #expect(frame == CapturedARP.reply)
    }

    @Test func announcesAsArpNotifyDoes() {
        let message = ARPMessage.announcement(of: IPv4Address(198, 18, 0, 1), at: macA)
        let frame = written { ARPFrame.write(message, framing: EthernetFraming(destination: .broadcast, source: macA), into: $0) }
        #expect(frame == CapturedARP.gratuitous)
    }

    /// A request on VLAN 100 inside service tag 200 is answered inside the same two tags.
    @Test func answersOnTheRequestsVLANs() throws {
        let tagged = Array(CapturedARP.request[0..<12]) + Hex.bytes("88 a8 00 c8 81 00 00 64") + Array(CapturedARP.request[12...])
        let parsed = parse(tagged)
        #expect(parsed.status == .ok)
        let answer = try #require(parsed.arp).reply(from: macB)
        let frame = written { ARPFrame.write(answer, framing: EthernetFraming(replyingTo: parsed, from: macB), into: $0) }
        let expected = Array(CapturedARP.reply[0..<12]) + Hex.bytes("88 a8 00 c8 81 00 00 64") + Array(CapturedARP.reply[12...])
        #expect(frame == expected)
        #expect(parse(frame).vlanIDs == [200, 100])
    }

    @Test func writesNothingIntoTooSmallABuffer() {
        let message = ARPMessage.announcement(of: IPv4Address(198, 18, 0, 1), at: macA)
        var buffer = [UInt8](repeating: 0xee, count: 41)
        let length = buffer.withUnsafeMutableBytes {
            ARPFrame.write(message, framing: EthernetFraming(destination: .broadcast, source: macA), into: $0)
        }
        #expect(length == 0)
        #expect(buffer == [UInt8](repeating: 0xee, count: 41))
    }
}
