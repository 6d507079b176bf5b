import Testing
import DromosWire

/// Neighbor discovery a Linux 6.x kernel sent between two namespaces (2001:db8::1 at 02:00:00:00:00:0a,
/// 2001:db8::2 at 02:00:00:00:00:0b), captured with tcpdump, which found every checksum correct.
enum CapturedNDP {
    /// Who has 2001:db8::2? Source link-layer option 02:00:00:00:00:0a.
    static let solicitation = Hex.bytes("""
        33 33 ff 00 00 02 02 00 00 00 00 0a 86 dd 60 00 00 00 00 20 3a ff 20 01 0d b8 00 00 00 00 00 00
        00 00 00 00 00 01 ff 02 00 00 00 00 00 00 00 00 00 01 ff 00 00 02 87 00 1c 1e 00 00 00 00 20 01
        0d b8 00 00 00 00 00 00 00 00 00 00 00 02 01 01 02 00 00 00 00 0a
        """)
    /// 2001:db8::2 is at 02:00:00:00:00:0b; solicited, override.
    static let advertisement = Hex.bytes("""
        02 00 00 00 00 0a 02 00 00 00 00 0b 86 dd 60 00 00 00 00 20 3a ff 20 01 0d b8 00 00 00 00 00 00
        00 00 00 00 00 02 20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 88 00 8a 68 60 00 00 00 20 01
        0d b8 00 00 00 00 00 00 00 00 00 00 00 02 02 01 02 00 00 00 00 0b
        """)
    /// `ndisc_notify` after the MAC changed: 2001:db8::1 is now at 02:00:00:00:00:0c, to all nodes.
    static let unsolicited = Hex.bytes("""
        33 33 00 00 00 01 02 00 00 00 00 0c 86 dd 60 00 00 00 00 20 3a ff 20 01 0d b8 00 00 00 00 00 00
        00 00 00 00 00 01 ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 01 88 00 f9 1f 20 00 00 00 20 01
        0d b8 00 00 00 00 00 00 00 00 00 00 00 01 02 01 02 00 00 00 00 0c
        """)
    /// Duplicate address detection for fe80::ff:fe00:b: unspecified source, a nonce option, no link-layer option.
    static let probe = Hex.bytes("""
        33 33 ff 00 00 0b 02 00 00 00 00 0b 86 dd 60 00 00 00 00 20 3a ff 00 00 00 00 00 00 00 00 00 00
        00 00 00 00 00 00 ff 02 00 00 00 00 00 00 00 00 00 01 ff 00 00 0b 87 00 ee 0c 00 00 00 00 fe 80
        00 00 00 00 00 00 00 00 00 ff fe 00 00 0b 0e 01 ec 4b b3 46 e1 68
        """)
    /// A router solicitation: ICMPv6, but not a neighbor message.
    static let routerSolicitation = Hex.bytes("""
        33 33 00 00 00 02 02 00 00 00 00 0b 86 dd 60 00 00 00 00 10 3a ff fe 80 00 00 00 00 00 00 00 00
        00 ff fe 00 00 0b ff 02 00 00 00 00 00 00 00 00 00 00 00 02 85 00 7b 18 00 00 00 00 01 01 02 00
        00 00 00 0b
        """)
}

let host1 = ip6("2001:db8::1")
let host2 = ip6("2001:db8::2")
let macC = MACAddress(2, 0, 0, 0, 0, 0x0c)

func ip6(_ text: String) -> IPv6Address { try! IPv6Address(parsing: text) }

func neighborMessage(_ frame: [UInt8]) -> NDPParse {
    frame.withUnsafeBytes { NeighborDiscovery.parse($0, FrameParser.parse($0)) }
}

/// Writes `message` with a correct checksum, so a test can show one specific rule refusing it.
func ndpFrame(_ message: NDPMessage, to destination: MACAddress = .broadcast) -> [UInt8] {
    written { NDPFrame.write(message, framing: EthernetFraming(destination: destination, source: macA), into: $0) }
}

@Suite struct NDPParseTests {
    @Test func readsASolicitation() {
        #expect(neighborMessage(CapturedNDP.solicitation) == .message(NDPMessage(
            type: NDPMessage.solicitation, source: host1, destination: ip6("ff02::1:ff00:2"), target: host2,
            linkLayerAddress: macA)))
    }

    @Test func readsAnAdvertisement() {
        #expect(neighborMessage(CapturedNDP.advertisement) == .message(NDPMessage(
            type: NDPMessage.advertisement, source: host2, destination: host1, target: host2,
            flags: NDPMessage.solicitedFlag | NDPMessage.overrideFlag, linkLayerAddress: macB)))
        #expect(neighborMessage(CapturedNDP.unsolicited) == .message(NDPMessage(
            type: NDPMessage.advertisement, source: host1, destination: .allNodes, target: host1,
            flags: NDPMessage.overrideFlag, linkLayerAddress: macC)))
    }

    /// The nonce option is skipped, and a probe has no link-layer address to learn.
    @Test func readsADuplicateAddressProbe() {
        #expect(neighborMessage(CapturedNDP.probe) == .message(NDPMessage(
            type: NDPMessage.solicitation, source: .unspecified, destination: ip6("ff02::1:ff00:b"),
            target: ip6("fe80::ff:fe00:b"), linkLayerAddress: nil)))
    }

    @Test func leavesOtherFramesAlone() {
        #expect(neighborMessage(CapturedNDP.routerSolicitation) == .notNeighborDiscovery)
        #expect(neighborMessage(tcpFrame()) == .notNeighborDiscovery)
        #expect(neighborMessage(CapturedARP.request) == .notNeighborDiscovery)
        #expect(neighborMessage([]) == .notNeighborDiscovery)
    }

    @Test func refusesAForwardedMessage() {
        var frame = CapturedNDP.solicitation
        frame[21] = 64  // hop limit: not in the checksum
        #expect(neighborMessage(frame) == .rejected(.hopLimitNot255))
    }

    @Test func refusesANonzeroCode() {
        var frame = CapturedNDP.solicitation
        frame[55] = 1
        #expect(neighborMessage(frame) == .rejected(.nonzeroCode))
    }

    @Test func refusesABadChecksum() {
        var frame = CapturedNDP.advertisement
        frame[77] = 0x03  // the target, as if a bit flipped
        #expect(neighborMessage(frame) == .rejected(.badChecksum))
    }

    @Test func refusesAMessageShorterThanItsFixedPart() {
        // The IPv6 payload length says 16: the parser accepts the datagram, the NDP reader does not.
        var frame = Array(CapturedNDP.solicitation.prefix(70))
        frame[19] = 16
        #expect(parse(frame).status == .ok)
        #expect(neighborMessage(frame) == .rejected(.truncated))
    }

    @Test func refusesAMulticastTarget() {
        let message = NDPMessage(
            type: NDPMessage.solicitation, source: host1, destination: ip6("ff02::1:ff00:1"), target: ip6("ff02::1"),
            linkLayerAddress: macA)
        #expect(neighborMessage(ndpFrame(message)) == .rejected(.multicastTarget))
    }

    @Test func refusesAZeroLengthOption() {
        var frame = CapturedNDP.solicitation
        frame[79] = 0  // option length; the checksum is fixed up by the same amount
        frame[57] = 0x1f
        #expect(neighborMessage(frame) == .rejected(.badOption))
        var overrun = CapturedNDP.solicitation
        overrun[79] = 2  // 16 bytes claimed, 8 present
        overrun[57] = 0x1d
        #expect(neighborMessage(overrun) == .rejected(.badOption))
    }

    @Test func refusesAProbeWithALinkLayerAddress() {
        let probe = NDPMessage(
            type: NDPMessage.solicitation, source: .unspecified, destination: host2.solicitedNodeMulticast, target: host2,
            linkLayerAddress: macA)
        #expect(neighborMessage(ndpFrame(probe)) == .rejected(.linkLayerOptionFromUnspecified))
        var misdirected = probe
        misdirected.linkLayerAddress = nil
        misdirected.destination = .allNodes
        #expect(neighborMessage(ndpFrame(misdirected)) == .rejected(.probeNotToSolicitedNode))
    }

    @Test func refusesASolicitedAdvertisementToAGroup() {
        let message = NDPMessage(
            type: NDPMessage.advertisement, source: host1, destination: .allNodes, target: host1,
            flags: NDPMessage.solicitedFlag, linkLayerAddress: macA)
        #expect(neighborMessage(ndpFrame(message)) == .rejected(.solicitedToMulticast))
    }

    @Test func everyRejectionHasAName() {
        let names = Set(NDPRejection.allCases.map(\.name))
        #expect(names.count == NDPRejection.allCases.count)
        #expect(names.allSatisfy { $0.hasPrefix("ndp-") && !$0.contains(" ") })
    }
}

@Suite struct NDPFrameTests {
    @Test func writesASolicitationAsTheKernelDoes() {
        let message = NDPMessage.solicitation(for: host2, from: host1, at: macA)
        let framing = EthernetFraming(destination: .ipv6Multicast(message.destination), source: macA)
        #expect(written { NDPFrame.write(message, framing: framing, into: $0) } == CapturedNDP.solicitation)
    }

    @Test func answersTheSolicitationWithTheKernelsAdvertisement() throws {
        let parsed = parse(CapturedNDP.solicitation)
        guard case .message(let solicitation) = neighborMessage(CapturedNDP.solicitation) else {
            Issue.record("the captured solicitation did not parse")
            return
        }
        let answer = solicitation.advertisement(from: macB)
        let frame = written { NDPFrame.write(answer, framing: EthernetFraming(replyingTo: parsed, from: macB), into: $0) }
        #expect(frame == CapturedNDP.advertisement)
    }

    @Test func announcesAsNdiscNotifyDoes() {
        let message = NDPMessage.announcement(of: host1, at: macC)
        let framing = EthernetFraming(destination: .ipv6Multicast(.allNodes), source: macC)
        #expect(written { NDPFrame.write(message, framing: framing, into: $0) } == CapturedNDP.unsolicited)
    }

    /// RFC 4861 §7.2.4: a probe's sender has no address yet, so the answer goes to all nodes, unsolicited.
    @Test func answersAProbeToAllNodes() {
        guard case .message(let probe) = neighborMessage(CapturedNDP.probe) else {
            Issue.record("the captured probe did not parse")
            return
        }
        let answer = probe.advertisement(from: macA)
        #expect(answer.destination == .allNodes)
        #expect(answer.flags == NDPMessage.overrideFlag)
        #expect(answer.source == probe.target)
        #expect(neighborMessage(ndpFrame(answer, to: .ipv6Multicast(.allNodes))) == .message(answer))
    }

    @Test func writesNothingIntoTooSmallABuffer() {
        let message = NDPMessage.announcement(of: host1, at: macC)
        let framing = EthernetFraming(destination: .ipv6Multicast(.allNodes), source: macC)
        #expect(NDPFrame.length(of: message, framing: framing) == 86)
        var buffer = [UInt8](repeating: 0xee, count: 85)
        #expect(buffer.withUnsafeMutableBytes { NDPFrame.write(message, framing: framing, into: $0) } == 0)
        #expect(buffer == [UInt8](repeating: 0xee, count: 85))
    }

    @Test func derivesMulticastAddresses() {
        #expect(ip6("2001:db8::12:3456").solicitedNodeMulticast == ip6("ff02::1:ff12:3456"))
        #expect(MACAddress.ipv6Multicast(ip6("ff02::1:ff12:3456")) == MACAddress(0x33, 0x33, 0xff, 0x12, 0x34, 0x56))
    }
}
