public import DromosWire

extension BalancerWorker {
    @inlinable
    func classify(_ parsed: ParsedFrame, now: UInt64) -> Decision {
        guard let flow = parsed.flow else {
            if parsed.status != .ok { return Decision(.pass, .malformed, parseStatus: parsed.status) }
            return Decision(.pass, parsed.l3 == .arp ? .arp : .notIP)
        }
        // The common case first: a whole, unfragmented TCP/UDP frame to a service, settled by one probe.
        if parsed.status == .ok && parsed.hasPorts && !parsed.isICMPError && !parsed.isCaptureTruncated {
            let service = view.lookupService(vip: flow.destination, transport: flow.ipProtocol, port: flow.destinationPort)
            if service >= 0 { return steerFlow(parsed, flow, service: service, now: now) }
        }
        // Only traffic to a VIP is ours; the rest, broken or not, is the kernel's business. An ICMP error
        // is ours when it was sent to the VIP its quoted reply came from.
        guard view.lookupVIP(flow.destination) >= 0,
              !parsed.isICMPError || parsed.icmpErrorDestination == flow.destination else {
            if parsed.status != .ok { return Decision(.pass, .malformed, parseStatus: parsed.status) }
            return Decision(.pass, .noService)
        }
        guard parsed.status == .ok else { return Decision(.drop, .malformed, parseStatus: parsed.status) }
        // A cut frame cannot be sent on whole; the backend would see a corrupt datagram.
        guard !parsed.isCaptureTruncated else { return Decision(.drop, .truncatedCapture) }
        if parsed.fragment == .later { return followFirstFragment(parsed, flow, now: now) }
        guard flow.ipProtocol == IPProtocolNumber.tcp || flow.ipProtocol == IPProtocolNumber.udp else {
            return Decision(.drop, .unsupportedProtocol)
        }
        let service = view.lookupService(vip: flow.destination, transport: flow.ipProtocol, port: flow.destinationPort)
        guard service >= 0 else { return Decision(.pass, .noService) }
        if parsed.isICMPError { return steerICMPError(flow, service: service, now: now) }
        return steerFlow(parsed, flow, service: service, now: now)
    }

    @inlinable
    func steerFlow(_ parsed: ParsedFrame, _ flow: FlowKey, service: Int32, now: UInt64) -> Decision {
        switch flows.lookup(flow, now: now) {
        case .found(let handle):
            // A plain SYN on the four-tuple of a connection that is closing is a client reusing its port
            // for a new connection: scheduled afresh (like IPVS's conn_reuse_mode), not pinned to the old
            // one's backend, which may be draining by now.
            let flags = parsed.tcpFlags & (TCPFlag.syn | TCPFlag.ack | TCPFlag.fin | TCPFlag.rst)
            if flags == TCPFlag.syn && flows.state(handle) == .tcpClosing {
                release(flows.remove(handle))
                break
            }
            var target = flows.target(handle)
            let backend = resolve(&target, service: service)
            if backend >= 0 {
                flows.setTarget(handle, target)
                flows.touch(handle, tcpFlags: parsed.tcpFlags, now: now)
                rememberFirstFragment(parsed, flow, target, now: now)
                return Decision(.forward, .ok, serviceIndex: service, backendIndex: backend)
            }
            // Its backend left the pool or went down: the flow starts over with a new one.
            release(flows.remove(handle))
        case .expired(let record):
            release(record)
        case .missing:
            break
        }
        let backend = schedule(service: service, flow: flow)
        guard backend >= 0 else { return Decision(.drop, .noBackend, serviceIndex: service) }
        let target = FlowTarget(backend: view.backendSlots[Int(backend)].address, backendIndex: backend,
                                generation: epoch, servicePort: flow.destinationPort, serviceTransport: flow.ipProtocol)
        let inserted = flows.insert(flow, target: target, tcpFlags: parsed.tcpFlags, now: now)
        if let evicted = inserted.evicted { release(evicted) }
        backendCounters[Int(backend)].activeFlows &+= 1
        backendCounters[Int(backend)].newFlows &+= 1
        rememberFirstFragment(parsed, flow, target, now: now)
        return Decision(.forward, .ok, serviceIndex: service, backendIndex: backend, isNewFlow: true)
    }

    /// An ICMP error follows the flow it quotes and never creates or refreshes one: a stream of errors
    /// must not keep a dead flow alive.
    @inlinable
    func steerICMPError(_ flow: FlowKey, service: Int32, now: UInt64) -> Decision {
        switch flows.lookup(flow, now: now) {
        case .found(let handle):
            var target = flows.target(handle)
            let backend = resolve(&target, service: service)
            if backend >= 0 {
                flows.setTarget(handle, target)
                return Decision(.forward, .icmpError, serviceIndex: service, backendIndex: backend)
            }
        case .expired(let record):
            release(record)
        case .missing:
            break
        }
        // Without an entry only a consistent hash knows where the flow went.
        let scheduler = view.serviceSlots[Int(service)].scheduler
        if scheduler.isConsistentHash {
            let backend = schedule(service: service, flow: flow)
            if backend >= 0 { return Decision(.forward, .icmpError, serviceIndex: service, backendIndex: backend) }
        }
        return Decision(.drop, .icmpNoFlow, serviceIndex: service)
    }

    /// Later fragments carry no ports; they go where their datagram's first fragment went. One that
    /// comes before its first fragment is dropped and counted: without ports no scheduler can place it,
    /// and guessing would split the datagram across backends.
    @inlinable
    func followFirstFragment(_ parsed: ParsedFrame, _ flow: FlowKey, now: UInt64) -> Decision {
        let key = Self.fragmentKey(parsed, flow)
        guard case .found(let handle) = fragments.lookup(key, now: now) else {
            return Decision(.drop, .fragmentBeforeFirst)
        }
        var target = fragments.target(handle)
        let service = view.lookupService(vip: flow.destination, transport: target.serviceTransport, port: target.servicePort)
        guard service >= 0 else { return Decision(.drop, .fragmentBeforeFirst) }
        let backend = resolve(&target, service: service)
        guard backend >= 0 else { return Decision(.drop, .noBackend, serviceIndex: service) }
        fragments.setTarget(handle, target)
        return Decision(.forward, .fragment, serviceIndex: service, backendIndex: backend)
    }

    @inlinable
    func rememberFirstFragment(_ parsed: ParsedFrame, _ flow: FlowKey, _ target: FlowTarget, now: UInt64) {
        guard parsed.fragment == .first else { return }
        let key = Self.fragmentKey(parsed, flow)
        switch fragments.lookup(key, now: now) {
        case .found(let handle):
            fragments.setTarget(handle, target)
        case .expired, .missing:
            _ = fragments.insert(key, target: target, tcpFlags: 0, now: now)
        }
    }

    /// A datagram is named by its addresses, protocol and IP identification; the id rides in the
    /// port fields so the fragment table can be an ordinary flow table.
    @inlinable
    static func fragmentKey(_ parsed: ParsedFrame, _ flow: FlowKey) -> FlowKey {
        FlowKey(source: flow.source, destination: flow.destination, ipProtocol: parsed.fragmentProtocol,
                sourcePort: UInt16(truncatingIfNeeded: parsed.fragmentID >> 16),
                destinationPort: UInt16(truncatingIfNeeded: parsed.fragmentID))
    }

    /// The backend a remembered flow still may use in the current table, updating the target when the
    /// table changed since it was stored; -1 when the backend left, cannot keep flows, or left and came
    /// back since (its old flows were given up then).
    @inlinable
    func resolve(_ target: inout FlowTarget, service: Int32) -> Int32 {
        if target.generation == epoch {
            return view.backendSlots[Int(target.backendIndex)].keepsFlows ? target.backendIndex : -1
        }
        let backend = ownerInCurrentTable(target, service: service)
        guard backend >= 0, view.backendSlots[Int(backend)].keepsFlows else { return -1 }
        target.backendIndex = backend
        target.generation = epoch
        return backend
    }

    /// The current table's index of the backend a target was pinned to, if that backend has been keeping
    /// flows without a break since; -1 otherwise.
    @inlinable
    func ownerInCurrentTable(_ target: FlowTarget, service: Int32) -> Int32 {
        guard service >= 0 else { return -1 }
        let backend = view.lookupBackend(service: service, address: target.backend)
        guard backend >= 0, target.generation >= backendCounters[Int(backend)].keptFlowsSince else { return -1 }
        return backend
    }

    /// A flow left the table: its backend has one active flow fewer, if the flow still counted there.
    @inlinable
    func release(_ record: FlowRecord) {
        var backend = record.target.backendIndex
        if record.target.generation != epoch {
            let service = view.lookupService(vip: record.key.destination, transport: record.key.ipProtocol,
                                             port: record.key.destinationPort)
            backend = ownerInCurrentTable(record.target, service: service)
        }
        if backend >= 0 && backendCounters[Int(backend)].activeFlows > 0 {
            backendCounters[Int(backend)].activeFlows &-= 1
        }
    }
}
