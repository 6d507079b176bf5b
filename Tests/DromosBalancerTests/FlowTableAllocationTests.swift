import Testing
import CAllocationCounter
import DromosBalancer
import DromosWire

/// The table sits on the packet path: after `init`, nothing it does may touch the heap.
@Suite struct FlowTableAllocationTests {
    @Test func mixedOperationsAllocateNothing() {
        let capacity = 1_024
        // Established flows outlive the run, so the table fills and evicts; the rest expire within it.
        let table = FlowTable(capacity: capacity, timeouts: FlowTimeouts(synReceived: 50, established: 1_000_000, closing: 100, udp: 200))
        let keys = (0..<(8 * capacity)).map { $0.isMultiple(of: 2) ? Flows.tcp($0) : Flows.tcp6($0) }
        let flags: [UInt8] = [Flags.syn, Flags.ack, Flags.pshAck, Flags.finAck, Flags.rst, Flags.synAck, 0, Flags.ack]
        var random: UInt64 = 0x1234_5678
        var now: UInt64 = 0
        var checksum: UInt64 = 0

        func run(_ operations: Int) {
            keys.withUnsafeBufferPointer { keys in
                flags.withUnsafeBufferPointer { flags in
                    for step in 0..<operations {
                        random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                        let pick = Int(truncatingIfNeeded: random >> 33)
                        let key = keys[pick % keys.count]
                        let tcpFlags = flags[(pick >> 16) & 7]
                        now &+= UInt64(pick >> 20 & 3)
                        switch table.lookup(key, now: now) {
                        case .found(let handle):
                            if pick >> 24 & 7 == 0 {
                                checksum &+= UInt64(truncatingIfNeeded: table.remove(handle).target.backendIndex)
                            } else {
                                table.touch(handle, tcpFlags: tcpFlags, now: now)
                                checksum &+= UInt64(table.state(handle).rawValue)
                            }
                        case .expired(let record):
                            checksum &+= record.lastSeen
                            fallthrough
                        case .missing:
                            let inserted = table.insert(key, target: Flows.target(step), tcpFlags: tcpFlags, now: now)
                            checksum &+= inserted.evicted?.lastSeen ?? 1
                        }
                        if step & 15 == 0, let expired = table.expireOne(now: now) {
                            checksum &+= expired.lastSeen
                        }
                    }
                }
            }
        }

        run(10_000)  // fills the table and sets up any runtime metadata first
        let before = dromos_thread_allocation_count()
        run(100_000)
        let allocations = dromos_thread_allocation_count() - before
        #expect(allocations == 0, "\(allocations) allocations in 100k flow-table operations")
        #expect(checksum != 0)
        #expect(table.evictions > 0 && table.expirations > 0)
    }
}
