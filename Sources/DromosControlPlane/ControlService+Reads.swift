import DromosBalancer
import DromosConfig
import DromosDatapath
import DromosHealth
import DromosHost
import DromosSystem
import DromosWire
import Glibc

/// The read commands' answers: the running pool's snapshot, and the workers' figures via their mailboxes.
extension ControlService {
    func status(into response: inout ResponseLine) {
        let running = plane.running
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        response.add("pid", .int(Int(getpid())))
        response.add("interface", .string(interface))
        response.add("io", .string(io))
        response.add("workers", .int(datapath.workerCount))
        response.add("generation", .int(Int(running.generation)))
        response.add("services", .int(running.pool.services.count))
        response.add("backends", .int(running.pool.services.reduce(0) { $0 + $1.backends.count }))
        response.add("draining", .int(running.pool.drained.count))
        response.add("health_down", .int(running.healthDown.count))
        response.add("forced", .int(running.pool.forced.count))
        response.add("accepted_changes", .int(Int(running.acceptedChanges)))
        response.add("refused_changes", .int(Int(running.refusedChanges)))
        response.add("uptime_seconds", .int(Int(UInt64(now.tv_sec) &- startedAt)))
        response.add("state_file", .optionalString(plane.stateFile?.path))
        response.add("advertise", advertiser.map { advertisement($0.snapshot) } ?? .null)
    }

    /// Where the routes are, which VIPs have one, and which could.
    func advertisement(_ snapshot: RouteAdvertiser.Snapshot) -> JSONValue {
        var line = JSONLine()
        line.add("table", .int(Int(snapshot.table)))
        line.add("state", .string(!snapshot.isActive ? "stopped" : snapshot.isWithdrawn ? "withdrawn" : "advertising"))
        line.add("advertised", .array(snapshot.advertised.map { .string($0.description) }))
        line.add("servable", .array(snapshot.servable.map { .string($0.description) }))
        line.add("problem", .optionalString(snapshot.problem))
        return .object(line)
    }

    func serviceSummary(_ service: ServiceSpec, _ pool: RuntimePool) -> JSONValue {
        var line = JSONLine()
        line.add("name", .string(service.name))
        line.add("vip", .string(service.key.vip.description))
        line.add("port", service.key.port.map { .int(Int($0)) } ?? .null)
        line.add("protocol", .string(service.key.transport.description))
        line.add("scheduler", .string(service.scheduler.rawValue))
        line.add("backends", .int(service.backends.count))
        line.add("draining", .int(service.backends.count { pool.drained.contains(.init(service: service.name, address: $0.address)) }))
        return .object(line)
    }

    func backendSummary(_ backend: BackendSpec, service: ServiceSpec, _ running: RunningPool, up: Set<IPAddress>,
                        checks: [BackendKey: HealthBoard.Entry], now: Clock.Reading) -> JSONValue {
        let draining = running.pool.drained.contains(.init(service: service.name, address: backend.address))
        let serviceIndex = running.table.services.firstIndex { $0.key == service.key }
        let slot = serviceIndex.map { running.table.lookupBackend(service: Int32($0), address: backend.address) } ?? -1
        let mac = slot >= 0 ? running.table.backendMAC(slot) : backend.mac
        let forced = running.pool.forced(service, backend.address)
        let check = checks[BackendKey(service: service.key, address: backend.address)]
        var line = JSONLine()
        line.add("address", .string(backend.address.description))
        line.add("weight", .int(backend.weight))
        let state = !up.contains(backend.address) ? "down" : draining || backend.weight == 0 ? "draining" : mac == nil ? "unresolved" : "active"
        line.add("state", .string(state))
        line.add("mac", .optionalString(mac?.description))
        line.add("health", .string(check.map { $0.health.isUp ? "up" : "down" } ?? "unchecked"))
        line.add("forced", .optionalString(forced?.rawValue))
        if let check {
            let health = check.health
            line.add("check", .string(check.target.check.type.rawValue))
            line.add("last_result", .optionalString(health.lastOutcome?.text))
            line.add("last_result_age_ms", health.lastProbeAt.map { .int(Int(now.monotonicMilliseconds &- $0)) } ?? .null)
            line.add("successes", .int(health.successes))
            line.add("failures", .int(health.failures))
            line.add("probes", .int(health.probes))
            line.add("last_change", .string(now.wallClockText(atMonotonicMilliseconds: health.changedAt)))
            line.add("last_change_age_ms", .int(Int(now.monotonicMilliseconds &- health.changedAt)))
        }
        return .object(line)
    }

    func stats(into response: inout ResponseLine) {
        let report = datapath.report()
        let counters = report.counters
        var totals = JSONLine()
        for (name, value) in [("received", counters.received), ("forwarded", counters.forwarded), ("passed", counters.passed),
                              ("dropped", counters.dropped), ("outgoing", counters.outgoing), ("expired", counters.expired),
                              ("batches", counters.batches), ("adoptions", counters.adoptions), ("ring_drops", report.ringDrops),
                              ("bad_checksums", counters.badChecksums)] {
            totals.add(name, .int(Int(truncatingIfNeeded: value)))
        }
        totals.add("active_flows", .int(report.activeFlows))
        response.add("workers", .int(report.workers))
        response.add("workers_answered", .int(report.workersAnswered))
        response.add("totals", .object(totals))
        response.add("decisions", .array(report.decisions.map { decision in
            var line = JSONLine()
            line.add("verdict", .string(decision.verdict.name))
            line.add("reason", .string(decision.reason))
            line.add("frames", .int(Int(truncatingIfNeeded: decision.frames)))
            return .object(line)
        }))
        response.add("backends", .array(report.backends.map { backend in
            var line = JSONLine()
            line.add("service", .string(backend.service))
            line.add("address", .string(backend.address.description))
            line.add("packets", .int(Int(truncatingIfNeeded: backend.packets)))
            line.add("bytes", .int(Int(truncatingIfNeeded: backend.bytes)))
            line.add("new_flows", .int(Int(truncatingIfNeeded: backend.newFlows)))
            line.add("active_flows", .int(Int(truncatingIfNeeded: backend.activeFlows)))
            return .object(line)
        }))
    }

    func flows(of service: ServiceSpec, limit: Int, into response: inout ResponseLine) {
        let report = datapath.report(flowsOf: service.key, flowLimit: limit)
        response.add("service", .string(service.name))
        response.add("workers_answered", .int(report.workersAnswered))
        response.add("truncated", .bool(report.flowsTruncated))
        response.add("flows", .array(report.flows.map { worker, flow in
            var line = JSONLine()
            line.add("src", .string(flow.key.source.description))
            line.add("sport", .int(Int(flow.key.sourcePort)))
            line.add("dst", .string(flow.key.destination.description))
            line.add("dport", .int(Int(flow.key.destinationPort)))
            line.add("proto", .int(Int(flow.key.ipProtocol)))
            line.add("backend", .string(flow.backend.description))
            line.add("state", .string(Self.stateName(flow.state)))
            line.add("idle_ms", .int(Int(truncatingIfNeeded: flow.idleMilliseconds)))
            line.add("worker", .int(worker))
            return .object(line)
        }))
    }

    static func stateName(_ state: FlowState) -> String {
        switch state {
        case .tcpSynReceived: return "syn-received"
        case .tcpEstablished: return "established"
        case .tcpClosing: return "closing"
        case .udp: return "udp"
        }
    }
}
