public import DromosBalancer
public import DromosConfig
import DromosIO
import DromosWire
/// How one service's flows fare when the configuration changes from old to new.
public struct ServiceDisruption: Sendable {
    public var name: String
    public var key: ServiceKey
    public var scheduler: SchedulerKind
    public var flows: Int
    /// The service is gone in the new configuration: all its flows lose their backend.
    public var isRemoved: Bool
    /// Flows that change backend on this balancer, whose flow table keeps them where they are unless
    /// their backend left the pool or went down.
    public var movedKeepingState: Int
    /// Flows that change backend where the flow state is lost (a restart, another balancer taking
    /// over): known only for consistent-hash schedulers, nil for the stateful ones.
    public var movedLosingState: Int?
    /// The fewest flows any scheduler must move to give every backend its new share of the weights.
    public var minimumMoved: Int
}

public struct DisruptionReport: Sendable {
    public var services: [ServiceDisruption]
    /// New services that had no flows before.
    public var addedServices: [String]

    public var text: String {
        var lines: [String] = []
        for service in services {
            lines.append("service \(service.name) (\(service.key), \(service.scheduler.rawValue)): \(service.flows) flows")
            if service.isRemoved {
                lines.append("  removed in the new configuration: all \(service.flows) flows lose their backend")
                continue
            }
            lines.append("  kept on this balancer (flow table): \(describe(service.movedKeepingState, of: service.flows)) move"
                + " (their backend left or went down)")
            if let moved = service.movedLosingState {
                var line = "  after flow state is lost (restart, failover): \(describe(moved, of: service.flows)) move"
                line += "; minimum possible \(describe(service.minimumMoved, of: service.flows))"
                if service.minimumMoved > 0 {
                    line += "; \(String(format2: Double(moved) / Double(service.minimumMoved)))× the minimum"
                }
                lines.append(line)
            } else {
                lines.append("  after flow state is lost: not predictable, \(service.scheduler.rawValue) is not a consistent hash;"
                    + " minimum possible \(describe(service.minimumMoved, of: service.flows))")
            }
        }
        for name in addedServices { lines.append("service \(name): new, no flows before") }
        return lines.joined(separator: "\n")
    }

    public var jsonLines: [String] {
        services.map { service in
            var line = JSONLine()
            line.add("service", .string(service.name))
            line.add("scheduler", .string(service.scheduler.rawValue))
            line.add("flows", .int(service.flows))
            line.add("removed", .bool(service.isRemoved))
            line.add("moved_keeping_state", .int(service.movedKeepingState))
            line.add("moved_losing_state", service.movedLosingState.map { .int($0) } ?? .null)
            line.add("minimum_moved", .int(service.minimumMoved))
            return line.encoded
        } + addedServices.map { name in
            var line = JSONLine()
            line.add("service", .string(name))
            line.add("added", .bool(true))
            return line.encoded
        }
    }

    private func describe(_ count: Int, of total: Int) -> String {
        let percent = total > 0 ? Double(count) * 100 / Double(total) : 0
        return "\(count) (\(String(format2: percent))%)"
    }
}

extension String {
    /// Two decimals without Foundation's formatter.
    init(format2 value: Double) {
        let hundredths = Int((value * 100).rounded())
        let fraction = abs(hundredths % 100)
        self = "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}

/// `dromos whatif`: what a configuration change does to flows, before it is applied.
public enum DisruptionAnalysis {
    /// Synthetic flows: `flowsPerService` random clients (seeded, so runs repeat) for each old service.
    public static func compare(old: DromosConfig, new: DromosConfig, flowsPerService: Int, seed: UInt64 = 1) throws -> DisruptionReport {
        var random = SplitMix64(seed: seed)
        let flows = old.balancer.services.map { service in
            (0..<flowsPerService).map { _ in syntheticFlow(to: service.key, &random) }
        }
        return try compare(old: ForwardingTable.resolved(generation: 1, services: old.balancer.services), new: new, flows: flows)
    }

    /// The flows of a capture: every distinct TCP/UDP flow to an old service.
    public static func compare(old: DromosConfig, new: DromosConfig, capture path: String) throws -> DisruptionReport {
        let table = try ForwardingTable.resolved(generation: 1, services: old.balancer.services)
        var seen = Set<FlowKey>()
        var flows = Array(repeating: [FlowKey](), count: old.balancer.services.count)
        let reader = try PcapFileReader(path: path)
        try reader.requireEthernet()
        try reader.forEachFrame { frame in
            let parsed = FrameParser.parse(frame.bytes, wireLength: frame.wireLength)
            guard parsed.status == .ok, parsed.hasPorts, !parsed.isICMPError, let flow = parsed.flow else { return }
            let service = table.lookupService(vip: flow.destination, transport: flow.ipProtocol, port: flow.destinationPort)
            if service >= 0 && seen.insert(flow).inserted { flows[Int(service)].append(flow) }
        }
        return try compare(old: table, new: new, flows: flows)
    }

    static func compare(old oldTable: ForwardingTable, new: DromosConfig, flows: [[FlowKey]]) throws -> DisruptionReport {
        let newTable = try ForwardingTable.resolved(generation: 2, services: new.balancer.services)
        let oldWorker = BalancerWorker(table: oldTable, flowTable: FlowTableSpec(capacity: 1))
        let newWorker = BalancerWorker(table: newTable, flowTable: FlowTableSpec(capacity: 1))
        var report = DisruptionReport(services: [], addedServices: [])
        for (index, service) in oldTable.services.enumerated() {
            let newIndex = newTable.view.lookupServiceExactly(service.key)
            var disruption = ServiceDisruption(
                name: service.name, key: service.key, scheduler: service.scheduler, flows: flows[index].count,
                isRemoved: newIndex < 0, movedKeepingState: 0, movedLosingState: nil, minimumMoved: flows[index].count)
            if newIndex >= 0 {
                measure(&disruption, flows[index], old: (oldWorker, Int32(index)), new: (newWorker, newIndex),
                        consistent: service.scheduler.isConsistentHash && new.balancer.services[Int(newIndex)].scheduler.isConsistentHash)
            }
            report.services.append(disruption)
        }
        let oldKeys = Set(oldTable.services.map(\.key))
        report.addedServices = new.balancer.services.filter { !oldKeys.contains($0.key) }.map(\.name)
        return report
    }

    private static func measure(
        _ disruption: inout ServiceDisruption, _ flows: [FlowKey], old: (BalancerWorker, Int32), new: (BalancerWorker, Int32),
        consistent: Bool
    ) {
        let oldTable = old.0.table
        let newTable = new.0.table
        var movedLosingState = 0
        var movedKeepingState = 0
        for flow in flows {
            let before = old.0.placeNewFlow(service: old.1, flow: flow)
            guard before >= 0 else { continue }
            let address = oldTable.backendAddress(before)
            let kept = newTable.lookupBackend(service: new.1, address: address)
            if kept < 0 || !newTable.view.keepsFlows(kept) { movedKeepingState += 1 }
            let after = new.0.placeNewFlow(service: new.1, flow: flow)
            if after < 0 || newTable.backendAddress(after) != address { movedLosingState += 1 }
        }
        disruption.movedKeepingState = movedKeepingState
        disruption.movedLosingState = consistent ? movedLosingState : nil
        // The fewest moves that turn the old shares into the new ones: whatever share a backend loses
        // (all of it when it leaves) must go elsewhere, and nothing else need move.
        let oldShares = weightShares(oldTable, service: old.1)
        let newShares = weightShares(newTable, service: new.1)
        let lost = oldShares.reduce(0.0) { sum, entry in sum + max(0, entry.value - (newShares[entry.key] ?? 0)) }
        disruption.minimumMoved = Int((lost * Double(flows.count)).rounded())
    }

    /// Each backend's share of new flows by weight (0 for one that takes none).
    private static func weightShares(_ table: ForwardingTable, service: Int32) -> [IPAddress: Double] {
        let usable = table.usableBackends(service: Int(service))
        let total = usable.reduce(0.0) { $0 + Double(table.backends[Int($1)].spec.weight) }
        guard total > 0 else { return [:] }
        var shares: [IPAddress: Double] = [:]
        for backend in usable {
            shares[table.backendAddress(backend)] = Double(table.backends[Int(backend)].spec.weight) / total
        }
        return shares
    }

    static func syntheticFlow(to key: ServiceKey, _ random: inout SplitMix64) -> FlowKey {
        let client: IPAddress
        switch key.vip {
        case .v4:
            client = .v4(IPv4Address(rawValue: UInt32(truncatingIfNeeded: random.next())))
        case .v6:
            client = .v6(IPv6Address(high: 0x2001_0db8_0000_0000 | random.next() >> 32, low: random.next()))
        }
        let sourcePort = UInt16(1_024 + random.next() % 64_512)
        let destinationPort = key.port ?? UInt16(1 + random.next() % 65_535)
        return FlowKey(source: client, destination: key.vip, ipProtocol: key.transport.rawValue,
                       sourcePort: sourcePort, destinationPort: destinationPort)
    }
}
