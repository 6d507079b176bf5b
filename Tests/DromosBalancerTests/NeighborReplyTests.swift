import CAllocationCounter
import Testing
import DromosBalancer
import DromosWire

/// `announce: arp`: the worker answers ARP requests and neighbor solicitations for the VIP in place.
/// The questions are written by the wire builders, which are tested against a kernel's own frames.
@Suite struct NeighborReplyTests {
    static let vip6 = address("2001:db8:ffff::10")
    static let router = mac("02:00:00:00:00:fe")
    static let routerIPv4 = IPv4Address(198, 18, 0, 254)
    static let routerIPv6 = IPv6Address(high: 0x2001_0db8_0000_0000, low: 0xfe)

    static func services(announce: VIPAnnouncement = .arp) -> [ServiceSpec] {
        var web = webService()
        web.announce = announce
        var web6 = webService()
        web6.name = "web6"
        web6.key.vip = vip6
        web6.announce = announce
        web6.backends = [BackendSpec(address: address("2001:db8:1::11"), mac: mac("02:00:00:00:01:21"))]
        // A second service of the same VIP without the field: the VIP is still announced.
        var dns = webService(port: 53, transport: .udp)
        dns.name = "dns"
        return [web, web6, dns]
    }

    static func arpFrame(_ message: ARPMessage, to destination: MACAddress = .broadcast, vlan: Bool = false) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 64)
        var framing = EthernetFraming(destination: destination, source: router)
        if vlan {
            framing.vlanCount = 1
            framing.outerVLAN = VLANTag(tpid: EtherType.vlan, tci: 100)
        }
        let length = buffer.withUnsafeMutableBytes { ARPFrame.write(message, framing: framing, into: $0) }
        // Padded to Ethernet's 60-byte minimum, as most senders' NICs do.
        return Array(buffer.prefix(max(length, 60)))
    }

    static func ndpFrame(_ message: NDPMessage) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 128)
        let framing = EthernetFraming(destination: .ipv6Multicast(message.destination), source: router)
        let length = buffer.withUnsafeMutableBytes { NDPFrame.write(message, framing: framing, into: $0) }
        return Array(buffer.prefix(length))
    }

    static let request = arpFrame(.request(for: IPv4Address(203, 0, 113, 10), from: routerIPv4, at: router))
    static let solicitation = ndpFrame(.solicitation(for: IPv6Address(high: 0x2001_0db8_ffff_0000, low: 0x10), from: routerIPv6, at: router))

    @Test func answersARPForTheVIPWithItsOwnMAC() throws {
        let harness = try Harness(Self.services())
        let (decision, frame) = harness.send(Self.request)
        #expect(decision.verdict == .reply)
        #expect(decision.reasonName == "arp-reply")
        #expect(decision.serviceIndex == 0)
        let parsed = parse(frame)
        #expect(parsed.destinationMAC == Self.router)
        #expect(parsed.sourceMAC == TestFrames.balancerMAC)
        #expect(parsed.arp == ARPMessage(
            operation: ARPMessage.reply, senderMAC: TestFrames.balancerMAC, senderIP: IPv4Address(203, 0, 113, 10),
            targetMAC: Self.router, targetIP: Self.routerIPv4))
        #expect(frame.count == 60)
    }

    @Test func answersOnTheRequestsVLAN() throws {
        let harness = try Harness(Self.services())
        let tagged = Self.arpFrame(.request(for: IPv4Address(203, 0, 113, 10), from: Self.routerIPv4, at: Self.router), vlan: true)
        let (decision, frame) = harness.send(tagged)
        #expect(decision.verdict == .reply)
        #expect(parse(frame).vlanIDs == [100])
        #expect(parse(frame).arp?.operation == ARPMessage.reply)
    }

    @Test func leavesOtherARPToTheKernel() throws {
        let announced = try Harness(Self.services())
        let other = Self.arpFrame(.request(for: IPv4Address(198, 18, 0, 2), from: Self.routerIPv4, at: Self.router))
        #expect(announced.send(other).decision == Decision(.pass, .arp))
        let gratuitous = Self.arpFrame(.announcement(of: IPv4Address(203, 0, 113, 10), at: Self.router))
        #expect(announced.send(gratuitous).decision == Decision(.pass, .arp))
        var reply = ARPMessage.request(for: IPv4Address(203, 0, 113, 10), from: Self.routerIPv4, at: Self.router).reply(from: Self.router)
        reply.targetIP = IPv4Address(203, 0, 113, 10)
        #expect(announced.send(Self.arpFrame(reply, to: TestFrames.balancerMAC)).decision == Decision(.pass, .arp))
        let silent = try Harness(Self.services(announce: .none))
        let untouched = silent.send(Self.request)
        #expect(untouched.decision == Decision(.pass, .arp))
        #expect(untouched.frame == Self.request)
    }

    /// Without a configured MAC a broadcast question cannot be answered: its destination is not ours.
    @Test func needsAMACToAnswerABroadcast() throws {
        let table = try ForwardingTable(generation: 1, services: Self.services())
        let worker = BalancerWorker(table: table)
        var frame = Self.request
        let decision = frame.withUnsafeMutableBytes { worker.decide($0, now: 1) }
        #expect(decision == Decision(.pass, .arp))
        #expect(frame == Self.request)
    }

    @Test func answersASolicitationWithAValidAdvertisement() throws {
        let harness = try Harness(Self.services())
        let (decision, frame) = harness.send(Self.solicitation)
        #expect(decision.verdict == .reply)
        #expect(decision.reasonName == "ndp-reply")
        let parsed = parse(frame)
        #expect(parsed.destinationMAC == Self.router)
        #expect(parsed.sourceMAC == TestFrames.balancerMAC)
        let answer = frame.withUnsafeBytes { NeighborDiscovery.parse($0, FrameParser.parse($0)) }
        let vip6 = IPv6Address(high: 0x2001_0db8_ffff_0000, low: 0x10)
        #expect(answer == .message(NDPMessage(
            type: NDPMessage.advertisement, source: vip6, destination: Self.routerIPv6, target: vip6,
            flags: NDPMessage.solicitedFlag | NDPMessage.overrideFlag, linkLayerAddress: TestFrames.balancerMAC)))
    }

    /// A DAD probe for the VIP is answered to all nodes when it has room (a nonce option makes it as long
    /// as the advertisement); without options it is 8 bytes short and left alone.
    @Test func answersAProbeOnlyWhenTheAnswerFits() throws {
        let harness = try Harness(Self.services())
        let vip6 = IPv6Address(high: 0x2001_0db8_ffff_0000, low: 0x10)
        let probe = NDPMessage(type: NDPMessage.solicitation, source: .unspecified, destination: vip6.solicitedNodeMulticast,
                               target: vip6, linkLayerAddress: nil)
        let bare = Self.ndpFrame(probe)
        #expect(harness.send(bare).decision.verdict != .reply)
        // The same probe with a nonce option (type 14), checksum fixed by writing it through the builder.
        var withNonce = bare
        withNonce[19] = 32  // payload length 24 → 32
        withNonce += [14, 1, 1, 2, 3, 4, 5, 6]
        fixChecksum(&withNonce)
        #expect(withNonce.withUnsafeBytes { NeighborDiscovery.parse($0, FrameParser.parse($0)) } != .rejected(.badChecksum))
        let (decision, frame) = harness.send(withNonce)
        #expect(decision.verdict == .reply)
        #expect(parse(frame).destinationMAC == .ipv6Multicast(.allNodes))
        guard case .message(let answer) = frame.withUnsafeBytes({ NeighborDiscovery.parse($0, FrameParser.parse($0)) }) else {
            Issue.record("the answer to the probe does not parse")
            return
        }
        #expect(answer.destination == .allNodes)
        #expect(answer.flags == NDPMessage.overrideFlag)
    }

    @Test func answeringAllocatesNothing() throws {
        let harness = try Harness(Self.services())
        var scratch = [UInt8](repeating: 0, count: 128)
        var replies = 0
        scratch.withUnsafeMutableBytes { scratch in
            for question in [Self.request, Self.solicitation] {
                let bytes = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<question.count])
                question.withUnsafeBytes { bytes.copyMemory(from: $0) }
                _ = harness.worker.decide(bytes, now: 1)
                let before = dromos_thread_allocation_count()
                for _ in 0..<1_000 {
                    question.withUnsafeBytes { bytes.copyMemory(from: $0) }
                    if harness.worker.decide(bytes, now: 1).verdict == .reply { replies += 1 }
                }
                #expect(dromos_thread_allocation_count() - before == 0)
            }
        }
        #expect(replies == 2_000)
    }

    func parse(_ frame: [UInt8]) -> ParsedFrame { frame.withUnsafeBytes { FrameParser.parse($0) } }

    /// Recomputes the ICMPv6 checksum of an untagged frame (RFC 4443 §2.3 pseudo-header).
    func fixChecksum(_ frame: inout [UInt8]) {
        frame[56] = 0
        frame[57] = 0
        var sum: UInt32 = 0
        let payload = Int(frame[18]) << 8 | Int(frame[19])
        func word(_ offset: Int) -> UInt32 { UInt32(frame[offset]) << 8 | UInt32(offset + 1 < frame.count ? frame[offset + 1] : 0) }
        for offset in stride(from: 22, to: 54, by: 2) { sum += word(offset) }
        sum += UInt32(payload) + 58
        for offset in stride(from: 54, to: 54 + payload, by: 2) { sum += word(offset) }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        let checksum = ~UInt16(sum)
        frame[56] = UInt8(checksum >> 8)
        frame[57] = UInt8(checksum & 0xff)
    }
}
