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

    @Test func rewritingAllocatesNothing() {
        var frame = tcpFrame()
        frame.withUnsafeMutableBytes { bytes in
            let before = dromos_thread_allocation_count()
            for index in 0..<1_000 {
                _ = MACRewrite.apply(to: bytes, destination: MACAddress(rawValue: UInt64(index)), source: .broadcast)
            }
            #expect(dromos_thread_allocation_count() - before == 0)
        }
    }

    @Test func theCounterSeesAllocations() {
        let before = dromos_thread_allocation_count()
        let array = Array(repeating: UInt8(1), count: Int.random(in: 100...200))
        #expect(array.count >= 100)
        #expect(dromos_thread_allocation_count() - before >= 1)
    }
}
