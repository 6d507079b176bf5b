public import DromosWire

extension BalancerWorker {
    /// Picks a backend for a new flow by the service's scheduler; -1 when none takes new flows.
    func schedule(service: Int32, flow: FlowKey) -> Int32 {
        let slot = view.serviceSlots[Int(service)]
        guard slot.usableCount > 0 else { return -1 }
        switch slot.scheduler {
        case .maglev:
            return maglevPick(slot, hash: StableHash.hash(flow, seed: ForwardingTable.flowHashSeed))
        case .sh:
            // The source alone; the other fields are fixed so the hash sees only the client.
            let client = FlowKey(source: flow.source, destination: .v4(IPv4Address(rawValue: 0)), ipProtocol: 0)
            return maglevPick(slot, hash: StableHash.hash(client, seed: ForwardingTable.sourceHashSeed))
        case .rr:
            return roundRobin(service: service, slot)
        case .wrr:
            return weightedRoundRobin(service: service, slot)
        case .lc:
            return leastConnections(slot, weighted: false)
        case .wlc:
            return leastConnections(slot, weighted: true)
        }
    }

    /// Lemire's multiply-shift instead of a modulo: the same slot on every balancer, without a division.
    func maglevPick(_ slot: ServiceSlot, hash: UInt64) -> Int32 {
        let index = Int(truncatingIfNeeded: ((hash >> 32) &* UInt64(slot.maglevSize)) >> 32)
        return Int32(truncatingIfNeeded: view.maglev[slot.maglevOffset &+ index])
    }

    func roundRobin(service: Int32, _ slot: ServiceSlot) -> Int32 {
        var cursor = schedulerStates[Int(service)].cursor &+ 1
        if cursor >= slot.usableCount { cursor = 0 }
        schedulerStates[Int(service)].cursor = cursor
        return view.usable[Int(slot.firstUsable &+ cursor)]
    }

    /// IPVS's wrr: walk the list, lowering the bar by the weights' gcd at each wrap; a backend is picked
    /// when its weight reaches the bar, so heavier backends come up more often, interleaved.
    func weightedRoundRobin(service: Int32, _ slot: ServiceSlot) -> Int32 {
        var state = schedulerStates[Int(service)]
        while true {
            state.cursor &+= 1
            if state.cursor >= slot.usableCount { state.cursor = 0 }
            if state.cursor == 0 {
                state.currentWeight &-= slot.weightGCD
                if state.currentWeight <= 0 { state.currentWeight = slot.maxWeight }
            }
            let backend = view.usable[Int(slot.firstUsable &+ state.cursor)]
            if view.backendSlots[Int(backend)].weight >= state.currentWeight {
                schedulerStates[Int(service)] = state
                return backend
            }
        }
    }

    /// lc: fewest active flows; wlc: fewest per unit of weight (compared by cross-multiplying, as IPVS
    /// does, to stay in integers). Ties go to the first in address order.
    func leastConnections(_ slot: ServiceSlot, weighted: Bool) -> Int32 {
        var best: Int32 = -1
        var bestLoad: Int64 = 0
        var bestWeight: Int64 = 1
        for position in 0..<Int(slot.usableCount) {
            let backend = view.usable[Int(slot.firstUsable) &+ position]
            let load = backendCounters[Int(backend)].activeFlows
            let weight = weighted ? Int64(view.backendSlots[Int(backend)].weight) : 1
            if best < 0 || load &* bestWeight < bestLoad &* weight {
                best = backend
                bestLoad = load
                bestWeight = weight
            }
        }
        return best
    }
}

extension BalancerWorker {
    /// Places a new flow of `service` as `decide` would, without a flow-table entry: for reports such as
    /// `whatif`. Advances round-robin positions and counts the flow as active on its backend, so `lc`
    /// and `wlc` spread a series of placements as they would spread real flows.
    public func placeNewFlow(service: Int32, flow: FlowKey) -> Int32 {
        let backend = schedule(service: service, flow: flow)
        if backend >= 0 { backendCounters[Int(backend)].activeFlows &+= 1 }
        return backend
    }
}
