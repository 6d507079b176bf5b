import Testing
import DromosBalancer
import DromosWire

@Suite struct FlowTableTests {
    @Test func insertLookupAndRemove() throws {
        let table = FlowTable(capacity: 16, timeouts: Flows.timeouts)
        let key = Flows.tcp(1)
        #expect(table.lookup(key, now: 0).isMissing)

        let (handle, evicted) = table.insert(key, target: Flows.target(3), tcpFlags: Flags.syn, now: 1_000)
        #expect(evicted == nil)
        #expect(table.count == 1)
        let found = try #require(table.lookup(key, now: 1_500).handle)
        #expect(found == handle)
        #expect(table.target(found) == Flows.target(3))
        #expect(table.state(found) == .tcpSynReceived)
        #expect(table.record(found) == FlowRecord(key: key, target: Flows.target(3), state: .tcpSynReceived, lastSeen: 1_000))

        table.setTarget(found, Flows.target(4, generation: 2))
        #expect(table.target(found) == Flows.target(4, generation: 2))

        #expect(table.lookup(Flows.tcp(1, port: 40_001), now: 1_500).isMissing)
        #expect(table.lookup(key.reversed, now: 1_500).isMissing)

        let removed = table.remove(found)
        #expect(removed == FlowRecord(key: key, target: Flows.target(4, generation: 2), state: .tcpSynReceived, lastSeen: 1_000))
        #expect(table.count == 0)
        #expect(table.lookup(key, now: 1_500).isMissing)
        #expect(table.brokenInvariant() == nil)
    }

    @Test func aTableOfOneHoldsTheNewestFlow() throws {
        let table = FlowTable(capacity: 1, timeouts: Flows.timeouts)
        _ = table.insert(Flows.tcp(1), target: Flows.target(1), tcpFlags: Flags.syn, now: 0)
        let (handle, evicted) = table.insert(Flows.udp(2), target: Flows.target(2), tcpFlags: 0, now: 10)
        #expect(evicted?.key == Flows.tcp(1))
        #expect(table.evictions == 1)
        #expect(table.count == 1)
        #expect(table.lookup(Flows.tcp(1), now: 10).isMissing)
        #expect(table.lookup(Flows.udp(2), now: 10).handle == handle)
        #expect(table.remove(handle).key == Flows.udp(2))
        #expect(table.count == 0)
        #expect(table.expireOne(now: 1_000_000_000) == nil)
        _ = table.insert(Flows.udp(3), target: Flows.target(3), tcpFlags: 0, now: 20)
        #expect(table.lookup(Flows.udp(3), now: 20).handle != nil)
        #expect(table.brokenInvariant() == nil)
    }

    @Test(arguments: [1, 2, 3, 5, 8])
    func smallTablesFillThenEvictTheOldest(capacity: Int) throws {
        let table = FlowTable(capacity: capacity, timeouts: Flows.timeouts)
        for client in 0..<capacity {
            let (_, evicted) = table.insert(Flows.udp(client), target: Flows.target(client), tcpFlags: 0, now: UInt64(client))
            #expect(evicted == nil)
        }
        #expect(table.count == capacity)
        for client in capacity..<(3 * capacity) {
            let (_, evicted) = table.insert(Flows.udp(client), target: Flows.target(client), tcpFlags: 0, now: UInt64(client))
            #expect(evicted?.key == Flows.udp(client - capacity))
            #expect(table.count == capacity)
        }
        for client in 0..<(3 * capacity) {
            #expect(table.lookup(Flows.udp(client), now: UInt64(3 * capacity)).isMissing == (client < 2 * capacity))
        }
        #expect(table.evictions == UInt64(2 * capacity))
        #expect(table.insertions == UInt64(3 * capacity))
        #expect(table.brokenInvariant() == nil)
    }

    /// How each class is reached, and its timeout. Idle exactly the timeout is alive, one ms more is not.
    struct TimeoutCase: Sendable, CustomTestStringConvertible {
        let name: String
        let key: FlowKey
        let flags: [UInt8]
        let state: FlowState
        let timeout: UInt64
        var testDescription: String { name }
    }

    static let timeoutCases = [
        TimeoutCase(name: "syn", key: Flows.tcp(1), flags: [Flags.syn], state: .tcpSynReceived, timeout: 60_000),
        TimeoutCase(name: "established", key: Flows.tcp(1), flags: [Flags.syn, Flags.ack], state: .tcpEstablished, timeout: 900_000),
        TimeoutCase(name: "closing after FIN", key: Flows.tcp(1), flags: [Flags.syn, Flags.ack, Flags.finAck], state: .tcpClosing, timeout: 120_000),
        TimeoutCase(name: "closing after RST", key: Flows.tcp(1), flags: [Flags.syn, Flags.ack, Flags.rst], state: .tcpClosing, timeout: 120_000),
        TimeoutCase(name: "udp", key: Flows.udp(1), flags: [0], state: .udp, timeout: 300_000),
        TimeoutCase(name: "ipv6 established", key: Flows.tcp6(1), flags: [Flags.ack], state: .tcpEstablished, timeout: 900_000),
    ]

    @Test(arguments: timeoutCases)
    func eachClassExpiresAfterItsTimeout(_ scenario: TimeoutCase) throws {
        let table = FlowTable(capacity: 4, timeouts: Flows.timeouts)
        let start: UInt64 = 5_000
        var (handle, _) = table.insert(scenario.key, target: Flows.target(1), tcpFlags: scenario.flags[0], now: start)
        var now = start
        for flags in scenario.flags.dropFirst() {
            now += 10
            handle = try #require(table.lookup(scenario.key, now: now).handle)
            table.touch(handle, tcpFlags: flags, now: now)
        }
        #expect(table.state(handle) == scenario.state)
        #expect(table.lookup(scenario.key, now: now + scenario.timeout).handle == handle)
        #expect(table.expireOne(now: now + scenario.timeout) == nil)

        let expired = try #require(table.lookup(scenario.key, now: now + scenario.timeout + 1).expiredRecord)
        #expect(expired == FlowRecord(key: scenario.key, target: Flows.target(1), state: scenario.state, lastSeen: now))
        #expect(table.count == 0)
        #expect(table.expirations == 1)
        #expect(table.lookup(scenario.key, now: now + scenario.timeout + 1).isMissing)
    }

    @Test func expireOneSeesTheSameBoundary() throws {
        let table = FlowTable(capacity: 4, timeouts: Flows.timeouts)
        _ = table.insert(Flows.tcp(1), target: Flows.target(1), tcpFlags: Flags.syn, now: 0)
        #expect(table.expireOne(now: 60_000) == nil)
        #expect(table.expireOne(now: 60_001)?.key == Flows.tcp(1))
        #expect(table.expirations == 1)
    }

    @Test func newFlowsStartInTheClassTheirFirstPacketSays() {
        let cases: [(FlowKey, UInt8, FlowState)] = [
            (Flows.tcp(1), Flags.syn, .tcpSynReceived),
            (Flows.tcp(1), Flags.ecnSyn, .tcpSynReceived),
            (Flows.tcp(1), Flags.synAck, .tcpSynReceived),
            (Flows.tcp(1), 0, .tcpSynReceived),
            (Flows.tcp(1), Flags.ack, .tcpEstablished),
            (Flows.tcp(1), Flags.pshAck, .tcpEstablished),
            (Flows.tcp(1), Flags.finAck, .tcpClosing),
            (Flows.tcp(1), Flags.rst, .tcpClosing),
            (Flows.udp(1), Flags.syn, .udp),
            (Flows.udp(1), Flags.rst, .udp),
            (FlowKey(source: .v4(IPv4Address(198, 18, 0, 1)), destination: Flows.vip, ipProtocol: IPProtocolNumber.icmp), 0, .udp),
        ]
        for (key, flags, state) in cases {
            let table = FlowTable(capacity: 2, timeouts: Flows.timeouts)
            let (handle, _) = table.insert(key, target: Flows.target(1), tcpFlags: flags, now: 0)
            #expect(table.state(handle) == state, "protocol \(key.ipProtocol), flags \(flags)")
            #expect(table.count(in: state) == 1)
        }
    }

    @Test func touchMovesTCPThroughItsClasses() {
        let steps: [(FlowState, UInt8, FlowState)] = [
            (.tcpSynReceived, Flags.syn, .tcpSynReceived),
            (.tcpSynReceived, Flags.ack, .tcpEstablished),
            (.tcpSynReceived, Flags.rst, .tcpClosing),
            (.tcpEstablished, Flags.pshAck, .tcpEstablished),
            (.tcpEstablished, Flags.synAck, .tcpEstablished),
            (.tcpEstablished, 0, .tcpEstablished),
            (.tcpEstablished, Flags.syn, .tcpSynReceived),
            (.tcpEstablished, Flags.finAck, .tcpClosing),
            (.tcpEstablished, Flags.rstAck, .tcpClosing),
            (.tcpClosing, Flags.ack, .tcpClosing),
            (.tcpClosing, Flags.syn, .tcpClosing),
            (.udp, Flags.ack, .udp),
            (.udp, Flags.fin, .udp),
        ]
        for (from, flags, to) in steps {
            #expect(from.after(tcpFlags: flags) == to, "\(from) + flags \(flags)")
        }
    }

    @Test func touchRefreshesTheIdleClock() throws {
        let table = FlowTable(capacity: 4, timeouts: Flows.timeouts)
        let (handle, _) = table.insert(Flows.udp(1), target: Flows.target(1), tcpFlags: 0, now: 0)
        table.touch(handle, tcpFlags: 0, now: 200_000)
        #expect(table.record(handle).lastSeen == 200_000)
        #expect(table.lookup(Flows.udp(1), now: 500_000).handle == handle)
        #expect(table.expireOne(now: 500_000) == nil)
        #expect(table.lookup(Flows.udp(1), now: 500_001).expiredRecord?.lastSeen == 200_000)
    }

    @Test func aFullTableEvictsTheFlowNearestItsDeadline() throws {
        let table = FlowTable(capacity: 3, timeouts: Flows.timeouts)
        _ = table.insert(Flows.tcp(1), target: Flows.target(1), tcpFlags: Flags.ack, now: 0)    // due 900_000
        _ = table.insert(Flows.udp(2), target: Flows.target(2), tcpFlags: 0, now: 50)           // due 300_050
        _ = table.insert(Flows.tcp(3), target: Flows.target(3), tcpFlags: Flags.syn, now: 100)  // due 60_100

        // The SYN is the newest flow but the first to run out of time.
        let first = table.insert(Flows.udp(4), target: Flows.target(4), tcpFlags: 0, now: 1_000)  // due 301_000
        #expect(first.evicted == FlowRecord(key: Flows.tcp(3), target: Flows.target(3), state: .tcpSynReceived, lastSeen: 100))
        let second = table.insert(Flows.udp(5), target: Flows.target(5), tcpFlags: 0, now: 2_000)
        #expect(second.evicted?.key == Flows.udp(2))
        #expect(table.evictions == 2)
        #expect(table.expirations == 0)

        // Touching the older udp flow makes the other one the nearer deadline.
        table.touch(try #require(table.lookup(Flows.udp(4), now: 3_000).handle), tcpFlags: 0, now: 3_000)
        #expect(table.insert(Flows.udp(6), target: Flows.target(6), tcpFlags: 0, now: 3_000).evicted?.key == Flows.udp(5))
        #expect(table.brokenInvariant() == nil)
    }

    /// Packets of one batch share a `now`: a flow touched again within it keeps its place among the newest.
    @Test func touchesWithinOneMillisecondKeepTheOrder() throws {
        let table = FlowTable(capacity: 2, timeouts: Flows.timeouts)
        let first = table.insert(Flows.udp(1), target: Flows.target(1), tcpFlags: 0, now: 0).handle
        _ = table.insert(Flows.udp(2), target: Flows.target(2), tcpFlags: 0, now: 0)
        table.touch(first, tcpFlags: 0, now: 0)
        #expect(table.insert(Flows.udp(3), target: Flows.target(3), tcpFlags: 0, now: 0).evicted?.key == Flows.udp(1))

        let third = try #require(table.lookup(Flows.udp(3), now: 1).handle)
        table.touch(third, tcpFlags: 0, now: 1)
        #expect(table.insert(Flows.udp(4), target: Flows.target(4), tcpFlags: 0, now: 1).evicted?.key == Flows.udp(2))
        #expect(table.brokenInvariant() == nil)
    }

    @Test func freeingAnAlreadyExpiredFlowCountsAsExpiry() {
        let table = FlowTable(capacity: 1, timeouts: Flows.timeouts)
        _ = table.insert(Flows.tcp(1), target: Flows.target(1), tcpFlags: Flags.syn, now: 0)
        let (_, evicted) = table.insert(Flows.tcp(2), target: Flows.target(2), tcpFlags: Flags.syn, now: 60_001)
        #expect(evicted?.key == Flows.tcp(1))
        #expect(table.evictions == 0)
        #expect(table.expirations == 1)
    }

    @Test func expireOneDrainsOnlyExpiredFlowsMostOverdueFirst() {
        let table = FlowTable(capacity: 16, timeouts: Flows.timeouts)
        _ = table.insert(Flows.udp(1), target: Flows.target(1), tcpFlags: 0, now: 0)              // due 300_000
        _ = table.insert(Flows.tcp(2), target: Flows.target(2), tcpFlags: Flags.syn, now: 0)      // due 60_000
        _ = table.insert(Flows.tcp(3), target: Flows.target(3), tcpFlags: Flags.finAck, now: 10)  // due 120_010
        _ = table.insert(Flows.tcp(4), target: Flows.target(4), tcpFlags: Flags.syn, now: 20)     // due 60_020
        _ = table.insert(Flows.tcp(5), target: Flows.target(5), tcpFlags: Flags.ack, now: 30)     // due 900_030
        _ = table.insert(Flows.udp(6), target: Flows.target(6), tcpFlags: 0, now: 200_000)        // due 500_000

        var drained: [FlowKey] = []
        while let record = table.expireOne(now: 400_000) { drained.append(record.key) }
        #expect(drained == [Flows.tcp(2), Flows.tcp(4), Flows.tcp(3), Flows.udp(1)])
        #expect(table.count == 2)
        #expect(table.expirations == 4)
        #expect(table.count(in: .tcpEstablished) == 1)
        #expect(table.count(in: .udp) == 1)
        #expect(table.count(in: .tcpSynReceived) == 0)
        #expect(table.brokenInvariant() == nil)
    }

    @Test func countersAddUp() throws {
        let table = FlowTable(capacity: 4, timeouts: Flows.timeouts)
        for client in 0..<6 {
            _ = table.insert(Flows.udp(client), target: Flows.target(client), tcpFlags: 0, now: UInt64(client))
        }
        _ = table.remove(try #require(table.lookup(Flows.udp(5), now: 10).handle))
        _ = table.lookup(Flows.udp(4), now: 400_000)
        _ = table.expireOne(now: 400_000)
        #expect(table.insertions == 6)
        #expect(table.evictions == 2)
        #expect(table.expirations == 2)
        #expect(table.count == 1)
        #expect(table.count(in: .udp) == 1)
        #expect(table.insertions - table.evictions - table.expirations - 1 == UInt64(table.count))
    }

    @Test func forEachRecordVisitsEveryFlowAndCanStop() {
        let table = FlowTable(capacity: 32, timeouts: Flows.timeouts)
        for client in 0..<10 {
            let flags = client.isMultiple(of: 2) ? Flags.syn : Flags.ack
            _ = table.insert(Flows.tcp(client), target: Flows.target(client), tcpFlags: flags, now: UInt64(client))
        }
        for client in 0..<5 {
            _ = table.insert(Flows.udp(client), target: Flows.target(client), tcpFlags: 0, now: 100)
        }
        var seen: Set<FlowKey> = []
        table.forEachRecord { record in
            seen.insert(record.key)
            return true
        }
        #expect(seen == Set((0..<10).map { Flows.tcp($0) } + (0..<5).map { Flows.udp($0) }))

        var visited = 0
        table.forEachRecord { _ in
            visited += 1
            return visited < 3
        }
        #expect(visited == 3)
    }

    @Test func timeoutsComeFromTheSpec() {
        let timeouts = FlowTimeouts(spec: FlowTableSpec(tcpEstablishedTimeoutMilliseconds: 1, tcpClosingTimeoutMilliseconds: 2,
                                                         udpTimeoutMilliseconds: 3))
        #expect(timeouts == FlowTimeouts(synReceived: 60_000, established: 1, closing: 2, udp: 3))
        #expect(Flows.timeouts == FlowTimeouts(synReceived: 60_000, established: 900_000, closing: 120_000, udp: 300_000))
        #expect(FlowTimeouts(spec: FlowTableSpec(udpTimeoutMilliseconds: -5)).udp == 0)
    }

    /// Only differences of timestamps matter, so a clock near the top of UInt64 wraps without effect.
    @Test func timeWrapsAroundUInt64() throws {
        let table = FlowTable(capacity: 4, timeouts: Flows.timeouts)
        let start = UInt64.max - 30_000
        _ = table.insert(Flows.tcp(1), target: Flows.target(1), tcpFlags: Flags.syn, now: start)
        #expect(table.lookup(Flows.tcp(1), now: start &+ 60_000).handle != nil)
        #expect(table.expireOne(now: start &+ 60_000) == nil)
        #expect(table.expireOne(now: start &+ 60_001)?.key == Flows.tcp(1))
    }
}
