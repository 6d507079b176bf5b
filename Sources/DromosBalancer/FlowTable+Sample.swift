public import DromosWire

/// A copy of one flow entry, for the control plane's `flows` answer.
public struct FlowSample: Hashable, Sendable {
    public var key: FlowKey
    public var backend: IPAddress
    public var state: FlowState
    public var idleMilliseconds: UInt64
}

extension FlowTable {
    /// Up to `limit` flows that `matches` accepts, newest first within each timeout class, looking at no
    /// more than `scanLimit` entries: the owner thread calls this at a batch boundary, so its cost must be
    /// bounded whatever the table holds. Allocates; never on the packet path.
    public func sample(limit: Int, scanLimit: Int, now: UInt64, where matches: (FlowKey) -> Bool) -> (flows: [FlowSample], scanned: Int) {
        var flows: [FlowSample] = []
        var scanned = 0
        for state in FlowState.allCases {
            var entry = lists[Int(state.rawValue)].newest
            while entry != Entry.none, flows.count < limit, scanned < scanLimit {
                let stored = entries[Int(entry)]
                scanned += 1
                let key = stored.key
                if matches(key) {
                    let idle = Int64(bitPattern: now &- stored.lastSeen)
                    flows.append(FlowSample(key: key, backend: stored.target.backend, state: stored.state,
                                            idleMilliseconds: idle > 0 ? UInt64(idle) : 0))
                }
                entry = stored.older
            }
        }
        return (flows, scanned)
    }
}

extension BalancerWorker {
    /// Flows of the service `key` names in this worker's current table (bounded as `FlowTable.sample`).
    public func sampleFlows(of key: ServiceKey, limit: Int, scanLimit: Int, now: UInt64) -> (flows: [FlowSample], scanned: Int) {
        guard let service = table.services.firstIndex(where: { $0.key == key }) else { return ([], 0) }
        let table = self.table
        return flows.sample(limit: limit, scanLimit: scanLimit, now: now) { flow in
            flow.destination == key.vip && flow.ipProtocol == key.transport.rawValue
                && table.lookupService(vip: flow.destination, transport: flow.ipProtocol, port: flow.destinationPort) == Int32(service)
        }
    }
}
