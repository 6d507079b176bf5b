public import DromosWire

/// One worker's balancer: its flow table, scheduler state and counters, and the table it forwards by.
///
/// Owned by exactly one thread (a datapath worker, or the replay loop); nothing in it is shared, so
/// the packet path takes no locks. Per-frame work reads the `TableView` and unsafe buffers only.
public final class BalancerWorker {
    // Unchecked exclusivity: one thread owns the worker and nothing re-enters it, so the runtime's
    // access tracking would be a call per property access per frame with nothing to find.
    @exclusivity(unchecked) public private(set) var table: ForwardingTable
    @usableFromInline @exclusivity(unchecked) var view: TableView
    /// Counts adopted tables. Flow targets store it rather than the table's own generation, which the
    /// publisher chooses and could repeat: an index is trusted only within the epoch that stored it.
    @usableFromInline @exclusivity(unchecked) var epoch: UInt32 = 1
    public let flows: FlowTable
    /// First fragments' choices, so that later fragments follow them.
    public let fragments: FlowTable
    /// The source MAC of rewritten frames; nil keeps the address the frame was sent to (in a replay,
    /// that is the balancer's own).
    public let sourceMAC: MACAddress?

    @usableFromInline @exclusivity(unchecked) var schedulerStates: UnsafeMutableBufferPointer<SchedulerState>
    @usableFromInline @exclusivity(unchecked) var backendCounters: UnsafeMutableBufferPointer<BackendCounters>
    @usableFromInline let decisionCounts: UnsafeMutableBufferPointer<UInt64>
    @usableFromInline let malformedCounts: UnsafeMutableBufferPointer<UInt64>

    public init(table: ForwardingTable, flowTable spec: FlowTableSpec = FlowTableSpec(), sourceMAC: MACAddress? = nil) {
        precondition(decisionReasonCount == DecisionReason.allCases.count && parseStatusCount == ParseStatus.allCases.count
                     && verdictCount == Verdict.allCases.count, "a counter dimension is not its enum's last case + 1")
        self.table = table
        view = table.view
        flows = FlowTable(capacity: spec.capacity, timeouts: FlowTimeouts(spec: spec))
        let fragmentTimeout = UInt64(spec.fragmentTimeoutMilliseconds)
        fragments = FlowTable(
            capacity: max(spec.capacity / 16, 1_024),
            timeouts: FlowTimeouts(synReceived: fragmentTimeout, established: fragmentTimeout,
                                   closing: fragmentTimeout, udp: fragmentTimeout))
        self.sourceMAC = sourceMAC
        schedulerStates = .allocate(capacity: max(table.view.serviceCount, 1))
        schedulerStates.initialize(repeating: SchedulerState())
        backendCounters = .allocate(capacity: max(table.view.backendCount, 1))
        backendCounters.initialize(repeating: BackendCounters(keptFlowsSince: 1))
        decisionCounts = .allocate(capacity: verdictCount * decisionReasonCount)
        decisionCounts.initialize(repeating: 0)
        malformedCounts = .allocate(capacity: verdictCount * parseStatusCount)
        malformedCounts.initialize(repeating: 0)
    }

    deinit {
        schedulerStates.deallocate()
        backendCounters.deallocate()
        decisionCounts.deallocate()
        malformedCounts.deallocate()
    }

    /// Switches to a newly published table at a batch boundary. Counters follow each backend by its
    /// address; flows keep their backends lazily (see `resolve`). A backend that could not keep flows in
    /// the previous table (absent, down, unresolved) starts a new life: flows pinned to it before are
    /// not its flows any more, even if it comes back.
    public func adopt(_ newTable: ForwardingTable) {
        guard newTable !== table else { return }
        let old = view
        let new = newTable.view
        epoch &+= 1
        let counters = UnsafeMutableBufferPointer<BackendCounters>.allocate(capacity: max(new.backendCount, 1))
        counters.initialize(repeating: BackendCounters(keptFlowsSince: epoch))
        for index in 0..<new.backendCount {
            let slot = new.backendSlots[index]
            let service = new.serviceSlots[Int(slot.service)]
            let oldService = old.probeService(service.vip, service.transport, service.hasPort ? service.port : nil)
            guard oldService >= 0 else { continue }
            let oldIndex = old.lookupBackend(service: oldService, address: slot.address)
            guard oldIndex >= 0 else { continue }
            counters[index] = backendCounters[Int(oldIndex)]
            if !(old.backendSlots[Int(oldIndex)].keepsFlows && slot.keepsFlows) {
                counters[index].activeFlows = 0
                counters[index].keptFlowsSince = epoch
            }
        }
        backendCounters.deallocate()
        backendCounters = counters
        // Round-robin positions index the old usable lists; IPVS restarts them on an edit too.
        schedulerStates.deallocate()
        schedulerStates = .allocate(capacity: max(new.serviceCount, 1))
        schedulerStates.initialize(repeating: SchedulerState())
        table = newTable
        view = new
    }

    /// Parses the frame, decides, counts, and on `forward` rewrites its MACs in place.
    ///
    /// Not inlinable, on purpose: compiled here, the parser's common path and the flow table's lookup
    /// and touch inline into this one function, which keeps the fields of the parse it reads in
    /// registers. (Inlined into the caller's module, as it was, it called the parser, the service probe
    /// and each flow-table method, and copied the 221-byte parse result between them.) A known flow's
    /// frame is settled by `steerKnownFlow`, without a service lookup; any other frame is parsed again
    /// and takes the full path, out of line. Keeping the whole parse alive for that path cost the known
    /// flow about 30 instructions of spills; parsing again costs the other frames about 90.
    public func decide(_ frame: UnsafeMutableRawBufferPointer, wireLength: Int? = nil, now: UInt64) -> Decision {
        let parsed = FrameParser.parse(UnsafeRawBufferPointer(frame), wireLength: wireLength)
        if let decision = steerKnownFlow(parsed, now: now) { return forward(decision, parsed, frame: frame) }
        return decideReparsing(frame, wireLength: wireLength, now: now)
    }

    @inline(never)
    func decideReparsing(_ frame: UnsafeMutableRawBufferPointer, wireLength: Int?, now: UInt64) -> Decision {
        var parsed = ParsedFrame(capturedLength: 0, wireLength: 0)
        FrameParser.parse(UnsafeRawBufferPointer(frame), wireLength: wireLength, into: &parsed)
        return decideInFull(&parsed, frame: frame, now: now)
    }

    /// The same for a frame parsed already (explain shows the parse and the decision together).
    public func decide(_ parsed: ParsedFrame, frame: UnsafeMutableRawBufferPointer, now: UInt64) -> Decision {
        if let decision = steerKnownFlow(parsed, now: now) { return forward(decision, parsed, frame: frame) }
        var copy = parsed
        return decideInFull(&copy, frame: frame, now: now)
    }

    /// Every frame `steerKnownFlow` leaves. The parse comes by `inout`, though nothing changes it, to be
    /// passed by address: by value, the compiler copies its 130 bytes for the functions it calls.
    @inline(never)
    func decideInFull(_ parsed: inout ParsedFrame, frame: UnsafeMutableRawBufferPointer, now: UInt64) -> Decision {
        if parsed.l3 == .arp || parsed.ipProtocol == IPProtocolNumber.icmpv6, let reply = answerNeighbor(&parsed, frame: frame) {
            count(reply, bytes: parsed.wireLength)
            return reply
        }
        let decision = classify(&parsed, now: now)
        count(decision, bytes: parsed.wireLength)
        if decision.verdict == .forward {
            let backend = view.backendSlots[Int(decision.backendIndex)]
            _ = MACRewrite.apply(to: frame, destination: backend.mac, source: sourceMAC ?? parsed.destinationMAC)
        }
        return decision
    }

    /// Counts a forward decision and rewrites the frame's MACs, as `decideInFull` does.
    @inline(always)
    func forward(_ decision: Decision, _ parsed: ParsedFrame, frame: UnsafeMutableRawBufferPointer) -> Decision {
        count(decision, bytes: parsed.wireLength)
        let backend = view.backendSlots[Int(decision.backendIndex)]
        _ = MACRewrite.apply(to: frame, destination: backend.mac, source: sourceMAC ?? parsed.destinationMAC)
        return decision
    }

    /// Ends idle flows, at most `budget` of them, so that a worker spreads the work over its batches.
    public func expire(now: UInt64, budget: Int) -> Int {
        var expired = 0
        while expired < budget, let record = flows.expireOne(now: now) {
            release(record)
            expired += 1
        }
        while expired < budget, fragments.expireOne(now: now) != nil {
            expired += 1
        }
        return expired
    }

    @inline(always)
    func count(_ decision: Decision, bytes: Int) {
        decisionCounts[Int(decision.verdict.rawValue) &* decisionReasonCount &+ Int(decision.reason.rawValue)] &+= 1
        if decision.reason == .malformed {
            malformedCounts[Int(decision.verdict.rawValue) &* parseStatusCount &+ Int(decision.parseStatus.rawValue)] &+= 1
        }
        if decision.verdict == .forward {
            backendCounters[Int(decision.backendIndex)].packets &+= 1
            backendCounters[Int(decision.backendIndex)].bytes &+= UInt64(bytes)
        }
    }
}

/// Per-service scheduler position: where round robin stands, and wrr's current weight.
@usableFromInline
struct SchedulerState {
    @usableFromInline var cursor: Int32 = -1
    @usableFromInline var currentWeight: Int32 = 0
    @usableFromInline init() {}
}

@usableFromInline
struct BackendCounters {
    @usableFromInline var packets: UInt64 = 0
    @usableFromInline var bytes: UInt64 = 0
    @usableFromInline var newFlows: UInt64 = 0
    /// Flows in this worker's table that point at the backend: what lc and wlc weigh.
    @usableFromInline var activeFlows: Int64 = 0
    /// The epoch from which flows pinned to this backend are still its own (see `adopt`).
    @usableFromInline var keptFlowsSince: UInt32
    @usableFromInline init(keptFlowsSince: UInt32 = 1) { self.keptFlowsSince = keptFlowsSince }
}
