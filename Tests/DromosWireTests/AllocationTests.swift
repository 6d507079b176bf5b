import Testing
import CAllocationCounter
import DromosWire

/// The per-frame path must not touch the heap. The counter sees every malloc of this thread, so a
/// single hidden allocation (a boxed existential, an array, a retained class) fails the test.
@Suite struct AllocationTests {
    static let frames: [[UInt8]] = [
        tcpFrame(),
        Hex.bytes(Segment.macs, "88 a8 00 c8 81 00 07 d1 08 00", Segment.ipv4TCPHeader, Segment.tcpSYN),
        IPv6Tests.extensionChain,
        ICMPTests.fragmentationNeeded,
        ICMPTests.packetTooBig,
        ARPTests.request,
        Array(tcpFrame().prefix(40)),
        [],
    ]

    @Test func parsingAllocatesNothing() {
        var checksum = 0
        for frame in Self.frames {
            frame.withUnsafeBytes { bytes in
                _ = FrameParser.parse(bytes)  // first call may set up runtime metadata
                let before = dromos_thread_allocation_count()
                for _ in 0..<1_000 {
                    let parsed = FrameParser.parse(bytes, wireLength: bytes.count)
                    checksum &+= Int(parsed.status.rawValue) &+ parsed.l4Offset &+ Int(parsed.flow?.sourcePort ?? 0)
                }
                let allocations = dromos_thread_allocation_count() - before
                #expect(allocations == 0, "\(allocations) allocations parsing a \(bytes.count)-byte frame")
            }
        }
        #expect(checksum != 0)
    }

    /// The budget work shrank the parse from 221 bytes; a field added carelessly (an optional, an enum
    /// with a payload) would bring back the copies between the parser and `decide` that it removed.
    @Test func theParseStaysCompact() {
        #expect(MemoryLayout<ParsedFrame>.size == 130)
        #expect(MemoryLayout<FlowKey>.size == 40)
    }

    @Test func rewritingAllocatesNothing() {
        var frame = tcpFrame()
        frame.withUnsafeMutableBytes { bytes in
            _ = MACRewrite.apply(to: bytes, destination: .broadcast, source: .broadcast)  // first call may set up runtime metadata
            let before = dromos_thread_allocation_count()
            for index in 0..<1_000 {
                _ = MACRewrite.apply(to: bytes, destination: MACAddress(rawValue: UInt64(index)), source: .broadcast)
            }
            #expect(dromos_thread_allocation_count() - before == 0)
        }
    }

    @Test func neighborDiscoveryAllocatesNothing() {
        var checksum = 0
        for frame in [CapturedNDP.solicitation, CapturedNDP.advertisement, CapturedNDP.probe, tcpFrame()] {
            frame.withUnsafeBytes { bytes in
                _ = NeighborDiscovery.parse(bytes, FrameParser.parse(bytes))
                let before = dromos_thread_allocation_count()
                for _ in 0..<1_000 {
                    if case .message(let message) = NeighborDiscovery.parse(bytes, FrameParser.parse(bytes)) {
                        checksum &+= Int(message.type)
                    }
                }
                #expect(dromos_thread_allocation_count() - before == 0)
            }
        }
        #expect(checksum != 0)
    }

    /// The responder answers into a preallocated slot: parsing the question and writing the answer.
    @Test func answeringAllocatesNothing() {
        var slot = [UInt8](repeating: 0, count: 128)
        var total = 0
        slot.withUnsafeMutableBytes { slot in
            for frame in [CapturedARP.request, CapturedNDP.solicitation] {
                frame.withUnsafeBytes { bytes in
                    var before = dromos_thread_allocation_count()
                    // The first round uncounted: it may set up runtime metadata (once per process).
                    for round in 0..<1_001 {
                        if round == 1 { before = dromos_thread_allocation_count() }
                        let parsed = FrameParser.parse(bytes)
                        let framing = EthernetFraming(replyingTo: parsed, from: macB)
                        if let request = parsed.arp {
                            total &+= ARPFrame.write(request.reply(from: macB), framing: framing, into: slot)
                        } else if case .message(let solicitation) = NeighborDiscovery.parse(bytes, parsed) {
                            total &+= NDPFrame.write(solicitation.advertisement(from: macB), framing: framing, into: slot)
                        }
                    }
                    #expect(dromos_thread_allocation_count() - before == 0)
                }
            }
            // The test's address globals are parsed (allocating) on first use, so read them once outside the count.
            let (vip4, vip6, backend) = (IPv4Address(203, 0, 113, 10), host1, host2)
            var before = dromos_thread_allocation_count()
            for round in 0..<1_001 {
                if round == 1 { before = dromos_thread_allocation_count() }
                let broadcast = EthernetFraming(destination: .broadcast, source: macA)
                total &+= ARPFrame.write(.announcement(of: vip4, at: macA), framing: broadcast, into: slot)
                total &+= NDPFrame.write(.announcement(of: vip6, at: macA), framing: broadcast, into: slot)
                total &+= NDPFrame.write(.solicitation(for: backend, from: vip6, at: macA), framing: broadcast, into: slot)
            }
            #expect(dromos_thread_allocation_count() - before == 0)
        }
        #expect(total == 1_001 * (42 + 86 + 42 + 86 + 86))
    }

    @Test func theCounterSeesAllocations() {
        let before = dromos_thread_allocation_count()
        let array = Array(repeating: UInt8(1), count: Int.random(in: 100...200))
        #expect(array.count >= 100)
        #expect(dromos_thread_allocation_count() - before >= 1)
    }
}
