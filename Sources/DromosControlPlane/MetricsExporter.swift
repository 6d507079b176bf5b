import DromosBalancer
import DromosConfig
import DromosDatapath
public import DromosHealth
import DromosHost
import DromosSystem
import DromosWire
import Prometheus
import Synchronization

/// The Prometheus text for one scrape. The figures live in the workers (summed on read), so each scrape
/// sets swift-prometheus's counters and gauges to the current totals and lets it do the encoding; series
/// of services and backends that are gone are unregistered, so they disappear rather than freeze.
public final class MetricsExporter: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let plane: ControlPlane
    private let datapath: DatapathReader
    private let series = Mutex<Series>(Series())

    private let health: HealthBoard?
    /// Probe latencies, recorded as probes finish (a histogram cannot be set at scrape time like the rest).
    private let latencies = Mutex<[BackendKey: ValueHistogram]>([:])
    static let latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    private struct Series: ~Copyable {
        var counters: [String: Counter] = [:]
        var gauges: [String: Gauge] = [:]
        var seen: Set<String> = []
    }

    public init(plane: ControlPlane, datapath: DatapathReader, health: HealthBoard? = nil) {
        self.plane = plane
        self.datapath = datapath
        self.health = health
        health?.observeLatency { [weak self] target, _, seconds in self?.recordLatency(target, seconds) }
    }

    private func recordLatency(_ target: HealthTarget, _ seconds: Double) {
        let histogram = latencies.withLock { latencies in
            if let existing = latencies[target.key] { return existing }
            let made = registry.makeValueHistogram(
                descriptor: MetricNameDescriptor(metricName: "dromos_health_probe_duration_seconds", unitName: "",
                                                 helpText: "Health probe latency, to the answer or the failure"),
                labels: [("service", target.service), ("backend", target.key.address.description)], buckets: Self.latencyBuckets)
            latencies[target.key] = made
            return made
        }
        histogram.record(seconds)
    }

    public func scrape() -> [UInt8] {
        let report = datapath.report()
        let running = plane.running
        return series.withLock { series in
            series.seen = []
            let counters = report.counters
            counter(&series, "dromos_received_frames_total", [], counters.received, "Frames received by the workers")
            counter(&series, "dromos_forwarded_frames_total", [], counters.forwarded, "Frames forwarded to a backend")
            counter(&series, "dromos_passed_frames_total", [], counters.passed, "Frames left to the kernel (not ours)")
            counter(&series, "dromos_dropped_frames_total", [], counters.dropped, "Frames of ours that could not be forwarded")
            counter(&series, "dromos_ring_drops_total", [], report.ringDrops, "Frames the kernel dropped because a receive ring was full")
            counter(&series, "dromos_bad_checksum_frames_total", [], counters.badChecksums,
                    "Forwarded frames sampled with a TCP/UDP checksum a sender's offload left unfinished (--io pcap)")
            counter(&series, "dromos_expired_flows_total", [], counters.expired, "Flows ended by their idle timeout")
            gauge(&series, "dromos_active_flows", [], Double(report.activeFlows), "Flows in the workers' flow tables")
            gauge(&series, "dromos_table_generation", [], Double(running.generation), "Generation of the running forwarding table")
            gauge(&series, "dromos_workers", [], Double(report.workers), "Datapath workers")
            gauge(&series, "dromos_workers_answered", [], Double(report.workersAnswered),
                  "Workers that answered this scrape in time (per-backend and per-reason figures cover only these)")
            for decision in report.decisions {
                counter(&series, "dromos_frames_total", [("verdict", decision.verdict.name), ("reason", decision.reason)],
                        decision.frames, "Frames by verdict and reason (the words of dromos explain)")
            }
            let checks = health?.snapshot ?? [:]
            let healthDown = running.healthDown
            var perService: [String: (packets: UInt64, bytes: UInt64, newFlows: UInt64, active: Int64)] = [:]
            let statistics = Dictionary(report.backends.map { ("\($0.service) \($0.address)", $0) }) { first, _ in first }
            for service in running.pool.services {
                var totals = perService[service.name] ?? (0, 0, 0, 0)
                let up = ControlPlane.upBackends(service, pool: running.pool, healthDown: healthDown)
                var healthy = 0
                for backend in service.backends {
                    let labels = [("service", service.name), ("backend", backend.address.description)]
                    let figures = statistics["\(service.name) \(backend.address)"]
                    let packets = figures?.packets ?? 0, bytes = figures?.bytes ?? 0, newFlows = figures?.newFlows ?? 0
                    let active = figures?.activeFlows ?? 0
                    counter(&series, "dromos_backend_packets_total", labels, packets, "Frames forwarded to the backend")
                    counter(&series, "dromos_backend_bytes_total", labels, bytes, "Wire bytes forwarded to the backend")
                    counter(&series, "dromos_backend_new_flows_total", labels, newFlows, "Flows scheduled to the backend")
                    gauge(&series, "dromos_backend_active_flows", labels, Double(active), "Flows pinned to the backend")
                    gauge(&series, "dromos_backend_weight", labels, Double(backend.weight), "The backend's configured weight")
                    let draining = running.pool.drained.contains(.init(service: service.name, address: backend.address))
                    gauge(&series, "dromos_backend_draining", labels, draining || backend.weight == 0 ? 1 : 0,
                          "1 while the backend keeps its flows but takes no new ones")
                    let key = BackendKey(service: service.key, address: backend.address)
                    let forced = running.pool.forced(service, backend.address)
                    if forced == .up || (forced == nil && !healthDown.contains(key)) { healthy += 1 }
                    gauge(&series, "dromos_backend_up", labels, up.contains(backend.address) ? 1 : 0,
                          "1 while the backend takes traffic (health checks, overrides and on_all_down applied)")
                    if let check = checks[key] {
                        for result in ["success"] + ProbeFailure.Kind.allCases.map(\.rawValue) {
                            counter(&series, "dromos_health_probes_total", labels + [("result", result)], check.probes[result] ?? 0,
                                    "Health probes by result")
                        }
                    }
                    totals = (totals.packets &+ packets, totals.bytes &+ bytes, totals.newFlows &+ newFlows, totals.active &+ active)
                }
                perService[service.name] = totals
                let labels = [("service", service.name)]
                counter(&series, "dromos_service_packets_total", labels, totals.packets, "Frames forwarded for the service")
                counter(&series, "dromos_service_bytes_total", labels, totals.bytes, "Wire bytes forwarded for the service")
                counter(&series, "dromos_service_new_flows_total", labels, totals.newFlows, "Flows scheduled for the service")
                gauge(&series, "dromos_service_active_flows", labels, Double(totals.active), "Flows of the service")
                gauge(&series, "dromos_service_healthy_backends", labels, Double(healthy),
                      "Backends up by their health checks and overrides")
            }
            for (key, stale) in series.counters where !series.seen.contains(key) {
                registry.unregisterCounter(stale)
                series.counters[key] = nil
            }
            for (key, stale) in series.gauges where !series.seen.contains(key) {
                registry.unregisterGauge(stale)
                series.gauges[key] = nil
            }
            let checked = Set(checks.keys)
            latencies.withLock { latencies in
                for (key, stale) in latencies where !checked.contains(key) {
                    registry.unregisterValueHistogram(stale)
                    latencies[key] = nil
                }
            }
            return registry.emitToBuffer()
        }
    }

    private func key(_ name: String, _ labels: [(String, String)]) -> String {
        name + "{" + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }

    private func counter(_ series: inout Series, _ name: String, _ labels: [(String, String)], _ value: UInt64, _ help: String) {
        let key = key(name, labels)
        series.seen.insert(key)
        let counter = series.counters[key] ?? registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        series.counters[key] = counter
        counter.reset()
        counter.increment(by: Int64(truncatingIfNeeded: min(value, UInt64(Int64.max))))
    }

    private func gauge(_ series: inout Series, _ name: String, _ labels: [(String, String)], _ value: Double, _ help: String) {
        let key = key(name, labels)
        series.seen.insert(key)
        let gauge = series.gauges[key] ?? registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        series.gauges[key] = gauge
        gauge.set(to: value)
    }
}
