public import DromosBalancer
public import DromosConfig
public import DromosWire

/// What two balancer instances behind one ECMP router must agree on, per service: the lookup table and
/// the backend picked for each flow. A router may move a flow to another instance at any time (one
/// withdrew, one came back); that instance has no state for it and must pick the same backend, or the
/// connection is reset. `dromos check-config --fingerprint` prints these digests, so that two hosts'
/// configurations can be compared without the hosts (and the test compares two processes).
public struct ServiceFingerprint: Sendable {
    public var name: String
    public var scheduler: SchedulerKind
    /// FNV-1a over the backend address of every lookup-table slot, in slot order; nil without a table.
    public var tableDigest: UInt64?
    public var tableSlots: Int
    public var flows: Int
    /// FNV-1a over the backend address picked for each synthetic flow, in order (none picked: no bytes).
    public var choiceDigest: UInt64
    /// How many of the flows each backend got, in address order.
    public var choices: [(address: IPAddress, flows: Int)]

    /// One line: `service web (maglev): table 65537 slots a1b2…; 100000 flows c3d4… (198.18.0.11 33412, …)`.
    public var text: String {
        let table = tableDigest.map { "table \(tableSlots) slots \(Self.hex($0))" } ?? "no lookup table (\(scheduler.rawValue) keeps no consistent hash)"
        let shares = choices.map { "\($0.address) \($0.flows)" }.joined(separator: ", ")
        return "service \(name) (\(scheduler.rawValue)): \(table); \(flows) flows \(Self.hex(choiceDigest)) (\(shares))"
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

public enum TableFingerprint {
    /// The services in name order (the file's order is not something instances must share), each with
    /// `flowsPerService` seeded synthetic flows, as `whatif` makes them.
    public static func compute(_ config: DromosConfig, flowsPerService: Int, seed: UInt64 = 1) throws -> [ServiceFingerprint] {
        let table = try ForwardingTable.resolved(generation: 1, services: config.balancer.services)
        let worker = BalancerWorker(table: table, flowTable: FlowTableSpec(capacity: 1))
        return table.services.indices.sorted { table.services[$0].name < table.services[$1].name }.map { index in
            let service = table.services[index]
            var random = SplitMix64(seed: seed)
            var digest = Digest()
            var counts: [IPAddress: Int] = [:]
            for _ in 0..<flowsPerService {
                let backend = worker.placeNewFlow(service: Int32(index), flow: DisruptionAnalysis.syntheticFlow(to: service.key, &random))
                guard backend >= 0 else { continue }
                let address = table.backendAddress(backend)
                digest.add(address)
                counts[address, default: 0] += 1
            }
            let lookup = table.lookupTable(service: index)
            var tableDigest = Digest()
            lookup?.forEach { tableDigest.add($0) }
            return ServiceFingerprint(
                name: service.name, scheduler: service.scheduler, tableDigest: lookup.map { _ in tableDigest.value },
                tableSlots: lookup?.count ?? 0, flows: flowsPerService, choiceDigest: digest.value,
                choices: counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        }
    }
}

/// FNV-1a, 64 bits: a fingerprint to compare, not a defence against anyone forging one.
struct Digest {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ address: IPAddress) {
        switch address {
        case .v4(let v4): add(UInt64(v4.rawValue), bytes: 4)
        case .v6(let v6):
            add(v6.high, bytes: 8)
            add(v6.low, bytes: 8)
        }
    }

    private mutating func add(_ word: UInt64, bytes: Int) {
        for index in (0..<bytes).reversed() {
            value = (value ^ (word >> (8 * UInt64(index)) & 0xff)) &* 0x0000_0100_0000_01b3
        }
    }
}
