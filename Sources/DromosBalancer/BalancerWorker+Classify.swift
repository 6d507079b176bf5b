import DromosWire

extension BalancerWorker {
    /// Every frame's decision but a known flow's (`steerKnownFlow`).
    @inline(always)
    func classify(_ parsed: inout ParsedFrame, now: UInt64) -> Decision {
        guard parsed.hasFlow else {
            if parsed.status != .ok { return Decision(.pass, .malformed, parseStatus: parsed.status) }
            return Decision(.pass, parsed.l3 == .arp ? .arp : .notIP)
        }
        let flow = parsed.key
        // The common case first: a whole, unfragmented TCP/UDP frame to a service, settled by one probe.
        if parsed.status == .ok && parsed.hasPorts && !parsed.isICMPError && !parsed.isCaptureTruncated {
            let service = view.lookupService(destinationOf: flow)
            if service >= 0 { return steerFlow(parsed, flow, service: service, now: now) }
        }
        // Only traffic to a VIP is ours; the rest, broken or not, is the kernel's business. An ICMP error
        // is ours when it was sent to the VIP its quoted reply came from.
        guard view.lookupVIP(destinationOf: flow) >= 0,
              !parsed.isICMPError || parsed.icmpErrorWasSentToFlowDestination else {
            if parsed.status != .ok { return Decision(.pass, .malformed, parseStatus: parsed.status) }
            return Decision(.pass, .noService)
        }
        guard parsed.status == .ok else { return Decision(.drop, .malformed, parseStatus: parsed.status) }
        // A cut frame cannot be sent on whole; the backend would see a corrupt datagram.
        guard !parsed.isCaptureTruncated else { return Decision(.drop, .truncatedCapture) }
        if parsed.fragment == .later { return followFirstFragment(Self.fragmentKey(parsed, flow), flow, now: now) }
        guard flow.ipProtocol == IPProtocolNumber.tcp || flow.ipProtocol == IPProtocolNumber.udp else {
            return Decision(.drop, .unsupportedProtocol)
        }
        let service = view.lookupService(destinationOf: flow)
        guard service >= 0 else { return Decision(.pass, .noService) }
        if parsed.isICMPError { return steerICMPError(flow, service: service, now: now) }
        return steerFlow(parsed, flow, service: service, now: now)
    }

    /// The common frame, decided without a service lookup: a whole TCP/UDP frame of a flow the table
    /// holds, stamped in the current epoch (its service and backend indexes are this table's), not
    /// idle past its timeout, its backend still keeping flows, and not a SYN reopening a closing flow.
    /// Exactly what `classify` and `steerFlow` decide for such a frame, with the same effects (the flow
    /// touched, a first fragment remembered); nil for every other frame, which takes the full path.
    @inline(always)
    func steerKnownFlow(_ parsed: ParsedFrame, now: UInt64) -> Decision? {
        guard parsed.hasFlow, parsed.status == .ok, parsed.hasPorts, !parsed.isICMPError, !parsed.isCaptureTruncated,
              let handle = flows.peek(parsed.key, now: now) else { return nil }
        let flags = parsed.tcpFlags & (TCPFlag.syn | TCPFlag.ack | TCPFlag.fin | TCPFlag.rst)
        if flags == TCPFlag.syn && flows.state(at: handle) == .tcpClosing { return nil }
        let target = flows.target(at: handle)
        guard target.generation == epoch, target.serviceIndex != FlowTarget.unknownService,
              view.backendSlots[Int(target.backendIndex)].keepsFlows else { return nil }
        flows.touch(at: handle, tcpFlags: parsed.tcpFlags, now: now)
        if parsed.fragment == .first { rememberFirstFragment(Self.fragmentKey(parsed, parsed.key), target, now: now) }
        return Decision(.forward, .ok, serviceIndex: Int32(target.serviceIndex), backendIndex: target.backendIndex)
    }

    @inline(always)
    func steerFlow(_ parsed: ParsedFrame, _ flow: FlowKey, service: Int32, now: UInt64) -> Decision {
        switch flows.find(flow, now: now) {
        case .found(let handle):
            // A plain SYN on the four-tuple of a connection that is closing is a client reusing its port
            // for a new connection: scheduled afresh (like IPVS's conn_reuse_mode), not pinned to the old
            // one's backend, which may be draining by now.
            let flags = parsed.tcpFlags & (TCPFlag.syn | TCPFlag.ack | TCPFlag.fin | TCPFlag.rst)
            if flags == TCPFlag.syn && flows.state(at: handle) == .tcpClosing {
                release(flows.remove(handle))
                break
            }
            let stored = flows.target(at: handle)
            var target = stored
            let backend = resolve(&target, service: service)
            if backend >= 0 {
                // `resolve` changes a target only to re-stamp it with the current epoch.
                if target.generation != stored.generation { flows.setTarget(at: handle, target) }
                flows.touch(at: handle, tcpFlags: parsed.tcpFlags, now: now)
                if parsed.fragment == .first { rememberFirstFragment(Self.fragmentKey(parsed, flow), target, now: now) }
                return Decision(.forward, .ok, serviceIndex: service, backendIndex: backend)
            }
            // Its backend left the pool or went down: the flow starts over with a new one.
            release(flows.remove(handle))
        case .expired(let record):
            release(record)
        case .missing:
            break
        }
        return steerNewFlow(flow, tcpFlags: parsed.tcpFlags,
                            firstFragment: parsed.fragment == .first ? Self.fragmentKey(parsed, flow) : nil,
                            service: service, now: now)
    }

    /// A flow the table does not hold (or no longer may keep): scheduled and remembered.
    @inline(never)
    func steerNewFlow(_ flow: FlowKey, tcpFlags: UInt8, firstFragment: FlowKey?, service: Int32, now: UInt64) -> Decision {
        let backend = schedule(service: service, flow: flow)
        guard backend >= 0 else { return Decision(.drop, .noBackend, serviceIndex: service) }
        let target = FlowTarget(backend: view.backendSlots[Int(backend)].address, backendIndex: backend,
                                generation: epoch, servicePort: flow.destinationPort, serviceTransport: flow.ipProtocol,
                                serviceIndex: Self.storedServiceIndex(service))
        let inserted = flows.insert(flow, target: target, tcpFlags: tcpFlags, now: now)
        if let evicted = inserted.evicted { release(evicted) }
        backendCounters[Int(backend)].activeFlows &+= 1
        backendCounters[Int(backend)].newFlows &+= 1
        if let firstFragment { rememberFirstFragment(firstFragment, target, now: now) }
        return Decision(.forward, .ok, serviceIndex: service, backendIndex: backend, isNewFlow: true)
    }

    /// An ICMP error follows the flow it quotes and never creates or refreshes one: a stream of errors
    /// must not keep a dead flow alive.
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
    func followFirstFragment(_ key: FlowKey, _ flow: FlowKey, now: UInt64) -> Decision {
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

    /// A first fragment's choice, under its datagram's key (`fragmentKey`), for the later fragments.
    @inline(never)
    func rememberFirstFragment(_ key: FlowKey, _ target: FlowTarget, now: UInt64) {
        switch fragments.lookup(key, now: now) {
        case .found(let handle):
            fragments.setTarget(handle, target)
        case .expired, .missing:
            _ = fragments.insert(key, target: target, tcpFlags: 0, now: now)
        }
    }

    /// A datagram is named by its addresses, protocol and IP identification; the id rides in the
    /// port fields so the fragment table can be an ordinary flow table.
    @inline(always)
    static func fragmentKey(_ parsed: borrowing ParsedFrame, _ flow: FlowKey) -> FlowKey {
        var key = flow
        key.rest = FlowKey.rest(ipProtocol: parsed.fragmentProtocol,
                                sourcePort: UInt16(truncatingIfNeeded: parsed.fragmentID >> 16),
                                destinationPort: UInt16(truncatingIfNeeded: parsed.fragmentID))
            | flow.rest & (FlowKey.sourceIsIPv6 | FlowKey.destinationIsIPv6)
        return key
    }

    /// The backend a remembered flow still may use in the current table, updating the target when the
    /// table changed since it was stored; -1 when the backend left, cannot keep flows, or left and came
    /// back since (its old flows were given up then).
    @inline(always)
    func resolve(_ target: inout FlowTarget, service: Int32) -> Int32 {
        if target.generation == epoch {
            return view.backendSlots[Int(target.backendIndex)].keepsFlows ? target.backendIndex : -1
        }
        return resolveAfterAdoption(&target, service: service)
    }

    /// A target stored under an earlier table: found again by its backend's address.
    @inline(never)
    func resolveAfterAdoption(_ target: inout FlowTarget, service: Int32) -> Int32 {
        let backend = ownerInCurrentTable(target, service: service)
        guard backend >= 0, view.backendSlots[Int(backend)].keepsFlows else { return -1 }
        target.backendIndex = backend
        target.generation = epoch
        target.serviceIndex = Self.storedServiceIndex(service)
        return backend
    }

    /// `service` as `FlowTarget.serviceIndex` keeps it: `unknownService` when it does not fit.
    @inline(always)
    static func storedServiceIndex(_ service: Int32) -> UInt16 {
        service >= 0 && service < Int32(FlowTarget.unknownService) ? UInt16(truncatingIfNeeded: service) : FlowTarget.unknownService
    }

    /// The current table's index of the backend a target was pinned to, if that backend has been keeping
    /// flows without a break since; -1 otherwise.
    func ownerInCurrentTable(_ target: FlowTarget, service: Int32) -> Int32 {
        guard service >= 0 else { return -1 }
        let backend = view.lookupBackend(service: service, address: target.backend)
        guard backend >= 0, target.generation >= backendCounters[Int(backend)].keptFlowsSince else { return -1 }
        return backend
    }

    /// A flow left the table: its backend has one active flow fewer, if the flow still counted there.
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
