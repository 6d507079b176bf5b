import CAllocationCounter
import Testing
import DromosBalancer
import DromosWire

/// `decide` runs once per frame: after warm-up it must not touch the heap, for every scheduler and for
/// new flows as much as for known ones.
@Suite struct DecideAllocationTests {
    @Test(arguments: SchedulerKind.allCases)
    func decidingAllocatesNothing(scheduler: SchedulerKind) throws {
        var udp = webService(scheduler: scheduler, transport: .udp)
        udp.name = "udp"
        let harness = try Harness([webService(scheduler: scheduler, weights: [1, 2, 3]), udp], flows: FlowTableSpec(capacity: 1_024))
        let udpFlow = FlowKey(source: address("198.51.100.9"), destination: vip, ipProtocol: 17, sourcePort: 53, destinationPort: 80)
        let fragments = TestFrames.udpFragments(udpFlow, id: 9)
        let frames = (0..<4_096).map { TestFrames.tcp(clientFlow($0)) } + [fragments.first, fragments.later]
        var buffer = [UInt8](repeating: 0, count: 2_048)
        var forwarded = 0
        buffer.withUnsafeMutableBytes { scratch in
            var before = dromos_thread_allocation_count()
            // 4096 flows through a 1024-entry table: inserts, hits, evictions, expiry and fragments. Round 0
            // is uncounted: the first pass down each path may set up runtime metadata (once per process, on
            // whichever thread of the parallel tests gets there first).
            for round in 0..<4 {
                if round == 1 { before = dromos_thread_allocation_count() }
                // By index: in a debug build, `for frame in frames` over a captured array of arrays
                // allocates per element itself, which would hide what `decide` does.
                for index in 0..<frames.count {
                    frames[index].withUnsafeBytes { scratch.copyMemory(from: $0) }
                    let bytes = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<frames[index].count])
                    if harness.worker.decide(bytes, now: harness.now + UInt64(round) * 70_000).verdict == .forward {
                        forwarded += 1
                    }
                }
                _ = harness.worker.expire(now: harness.now + UInt64(round) * 70_000, budget: 4_096)
            }
            #expect(dromos_thread_allocation_count() - before == 0)
        }
        #expect(forwarded == 4 * (4_096 + 2))
        #expect(harness.worker.flows.evictions > 0)
    }
}
