import Testing
import DromosBalancer
import DromosWire

/// The flow table's rules restated as plainly as possible: a dictionary, with every choice made by
/// scanning it. Slow, obviously right, and the yardstick for the random runs below.
struct FlowTableModel {
    struct Flow {
        var target: FlowTarget
        var state: FlowState
        var lastSeen: UInt64
        /// When the flow last became the newest of its class: the table's recency lists, as a number.
        var rank: UInt64
    }

    enum Lookup: Equatable {
        case found(FlowRecord)
        case expired(FlowRecord)
        case missing
    }

    let capacity: Int
    let timeouts: FlowTimeouts
    var flows: [FlowKey: Flow] = [:]
    var clock: UInt64 = 0
    var insertions: UInt64 = 0
    var evictions: UInt64 = 0
    var expirations: UInt64 = 0

    func timeLeft(_ flow: Flow, now: UInt64) -> Int64 {
        Int64(timeouts.milliseconds(for: flow.state)) - Int64(now - flow.lastSeen)
    }

    func record(_ key: FlowKey) -> FlowRecord {
        let flow = flows[key]!
        return FlowRecord(key: key, target: flow.target, state: flow.state, lastSeen: flow.lastSeen)
    }

    mutating func lookup(_ key: FlowKey, now: UInt64) -> Lookup {
        guard let flow = flows[key] else { return .missing }
        guard timeLeft(flow, now: now) >= 0 else {
            let expired = record(key)
            flows[key] = nil
            expirations += 1
            return .expired(expired)
        }
        return .found(record(key))
    }

    /// A flow already seen this millisecond keeps its rank unless it changes class: the table leaves it
    /// where it is, and which of several equally old flows goes first is the table's choice to make.
    mutating func touch(_ key: FlowKey, tcpFlags: UInt8, now: UInt64) {
        let state = flows[key]!.state.after(tcpFlags: tcpFlags)
        guard state != flows[key]!.state || now != flows[key]!.lastSeen else { return }
        clock += 1
        flows[key]!.state = state
        flows[key]!.lastSeen = now
        flows[key]!.rank = clock
    }

    /// The least recently ranked flow of each class, then the one of those with the least time left,
    /// the earlier class winning a tie.
    func nearestExpiry(now: UInt64) -> (key: FlowKey, timeLeft: Int64)? {
        var best: (key: FlowKey, timeLeft: Int64)? = nil
        for state in FlowState.allCases {
            let ofState = flows.filter { $0.value.state == state }
            guard let oldest = ofState.min(by: { $0.value.rank < $1.value.rank }) else { continue }
            let left = timeLeft(oldest.value, now: now)
            if best == nil || left < best!.timeLeft { best = (oldest.key, left) }
        }
        return best
    }

    mutating func insert(_ key: FlowKey, target: FlowTarget, tcpFlags: UInt8, now: UInt64) -> FlowRecord? {
        var evicted: FlowRecord? = nil
        if flows.count == capacity, case let (victim, left)? = nearestExpiry(now: now) {
            evicted = record(victim)
            flows[victim] = nil
            if left < 0 { expirations += 1 } else { evictions += 1 }
        }
        clock += 1
        insertions += 1
        flows[key] = Flow(target: target, state: .initial(ipProtocol: key.ipProtocol, tcpFlags: tcpFlags), lastSeen: now, rank: clock)
        return evicted
    }

    mutating func remove(_ key: FlowKey) -> FlowRecord {
        defer { flows[key] = nil }
        return record(key)
    }

    mutating func expireOne(now: UInt64) -> FlowRecord? {
        guard case let (key, left)? = nearestExpiry(now: now), left < 0 else { return nil }
        expirations += 1
        return remove(key)
    }
}

@Suite struct FlowTableModelTests {
    struct Run: Sendable, CustomTestStringConvertible {
        let capacity: Int
        let keys: Int
        let stepsPerTick: Int
        let operations: Int
        let seed: UInt64
        var testDescription: String { "capacity \(capacity), \(keys) keys, \(operations) operations" }
    }

    /// About 200k operations in all. The clock ticks one millisecond every `stepsPerTick` operations on
    /// average, with a rare jump that expires nearly everything. Pools larger than the table keep it full
    /// and evicting; the pool below capacity churns through expiry instead. Ticks coarse enough that many
    /// operations share a millisecond give ties between deadlines.
    static let runs = [
        Run(capacity: 1, keys: 3, stepsPerTick: 1, operations: 10_000, seed: 1),
        Run(capacity: 2, keys: 5, stepsPerTick: 2, operations: 10_000, seed: 2),
        Run(capacity: 7, keys: 20, stepsPerTick: 1, operations: 30_000, seed: 3),
        Run(capacity: 64, keys: 48, stepsPerTick: 1, operations: 50_000, seed: 4),
        Run(capacity: 64, keys: 200, stepsPerTick: 4, operations: 50_000, seed: 5),
        Run(capacity: 300, keys: 900, stepsPerTick: 8, operations: 50_000, seed: 6),
    ]

    static let timeouts = FlowTimeouts(synReceived: 40, established: 300, closing: 80, udp: 150)
    static let flagChoices: [UInt8] = [Flags.syn, Flags.ecnSyn, Flags.synAck, Flags.ack, Flags.pshAck, Flags.finAck,
                                       Flags.rst, Flags.rstAck, 0]

    static func keyPool(_ count: Int) -> [FlowKey] {
        (0..<count).map { number in
            switch number % 3 {
            case 0: return Flows.tcp(number)
            case 1: return Flows.udp(number)
            default: return Flows.tcp6(number)
            }
        }
    }

    @Test(arguments: runs)
    func randomOperationsMatchTheModel(_ run: Run) throws {
        var generator = SplitMix64(seed: run.seed)
        let table = FlowTable(capacity: run.capacity, timeouts: Self.timeouts, hashSeed: run.seed)
        var model = FlowTableModel(capacity: run.capacity, timeouts: Self.timeouts)
        let keys = Self.keyPool(run.keys)
        var now: UInt64 = 1_000

        for step in 0..<run.operations {
            if Int.random(in: 0..<run.stepsPerTick, using: &generator) == 0 { now += 1 }
            if Int.random(in: 0..<2_000, using: &generator) == 0 { now += UInt64.random(in: 0...400, using: &generator) }
            let key = keys[Int.random(in: 0..<keys.count, using: &generator)]
            let flags = Self.flagChoices[Int.random(in: 0..<Self.flagChoices.count, using: &generator)]
            let context = "step \(step), \(key), now \(now)"

            switch Int.random(in: 0..<20, using: &generator) {
            case 0..<2:
                let expired = table.expireOne(now: now)
                #expect(expired == model.expireOne(now: now), "\(context)")
            default:
                let actual = table.lookup(key, now: now)
                let expected = model.lookup(key, now: now)
                switch (actual, expected) {
                case (.found(let handle), .found(let record)):
                    #expect(table.record(handle) == record, "\(context)")
                    switch Int.random(in: 0..<10, using: &generator) {
                    case 0:
                        #expect(table.remove(handle) == model.remove(key), "\(context)")
                    case 1:
                        let target = Flows.target(step, generation: UInt32(truncatingIfNeeded: step))
                        table.setTarget(handle, target)
                        model.flows[key]!.target = target
                    default:
                        table.touch(handle, tcpFlags: flags, now: now)
                        model.touch(key, tcpFlags: flags, now: now)
                        #expect(table.state(handle) == model.flows[key]!.state, "\(context)")
                    }
                case (.expired(let record), .expired(let expectedRecord)):
                    #expect(record == expectedRecord, "\(context)")
                case (.missing, .missing):
                    break
                default:
                    Issue.record("\(context): table says \(actual), model says \(expected)")
                    return
                }
                if table.lookup(key, now: now).isMissing {
                    let target = Flows.target(step)
                    let (handle, evicted) = table.insert(key, target: target, tcpFlags: flags, now: now)
                    #expect(evicted == model.insert(key, target: target, tcpFlags: flags, now: now), "\(context)")
                    #expect(table.record(handle) == model.record(key), "\(context)")
                }
            }
            #expect(table.count == model.flows.count, "\(context)")
            #expect(table.insertions == model.insertions && table.evictions == model.evictions
                        && table.expirations == model.expirations, "\(context)")
            if step % 2_000 == 0, let broken = table.brokenInvariant() {
                Issue.record("\(context): \(broken)")
                return
            }
        }
        // A run that never evicted or never expired would have compared little.
        #expect(table.expirations > 0)
        #expect(table.evictions > 0 || run.keys < run.capacity)
        #expect(table.brokenInvariant() == nil)
        for state in FlowState.allCases {
            #expect(table.count(in: state) == model.flows.values.filter { $0.state == state }.count)
        }
    }
}
