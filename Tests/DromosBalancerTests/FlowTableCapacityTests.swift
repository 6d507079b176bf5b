import Testing
import DromosBalancer
import DromosWire

/// The default size, filled: what it costs and that the hash still spreads a million real-looking flows.
@Suite struct FlowTableCapacityTests {
    @Test func theDefaultCapacityFillsAndStaysFast() throws {
        let capacity = FlowTableSpec.defaultCapacity
        let table = FlowTable(capacity: capacity, timeouts: Flows.timeouts)
        #expect(table.capacity == 1_048_576)
        #expect(table.slotCount == 2 * capacity)
        let bytesPerEntry = Double(table.reservedBytes) / Double(capacity)
        print("flow table of \(capacity): \(table.reservedBytes) bytes reserved, \(bytesPerEntry) bytes per entry")
        #expect(bytesPerEntry <= 112)

        // Sequential clients and ports, as a load generator or a NAT pool produces them, well inside the SYN timeout.
        for number in 0..<capacity {
            let key = Flows.tcp(number >> 4, port: UInt16(truncatingIfNeeded: 1_024 &+ number & 15))
            let (_, evicted) = table.insert(key, target: Flows.target(number), tcpFlags: Flags.syn, now: UInt64(number >> 6))
            #expect(evicted == nil)
        }
        #expect(table.count == capacity)
        let longest = table.longestProbeDistance()
        print("flow table of \(capacity), full: longest probe distance \(longest)")
        #expect(longest < 200)

        for number in stride(from: 0, to: capacity, by: 97) {
            let key = Flows.tcp(number >> 4, port: UInt16(truncatingIfNeeded: 1_024 &+ number & 15))
            let handle = try #require(table.lookup(key, now: UInt64(capacity >> 6)).handle)
            #expect(table.target(handle) == Flows.target(number))
        }
        let (_, evicted) = table.insert(Flows.udp(1), target: Flows.target(1), tcpFlags: 0, now: UInt64(capacity >> 6))
        #expect(evicted?.lastSeen == 0)
        #expect(table.evictions == 1)
    }
}
