import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosHealth
import DromosLab
import DromosSystem
import DromosWire
import Foundation
import Glibc
import Synchronization
import Testing

/// A real `HealthChecker` with `http` probes against a server of the test's own, in a namespace of its
/// own (both backend addresses on its lo), feeding a real control plane (``ControlLab``): what the
/// checks find reaches the table, `dromos ctl backends` and the metrics.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class HealthProbeTests {
    let lab = NetworkLab()
    static let healthy = "198.18.0.11", failing = "198.18.0.12", port: UInt16 = 8080

    /// Answers each connection with an HTTP status by the address it reached: 200 at `healthy`, and
    /// at `failing` 503 until `recovered` is set.
    final class StatusServer: Sendable {
        let recovered = Atomic<Bool>(false)
        let stopping = Atomic<Bool>(false)
        let requests = Atomic<Int>(0)

        init() throws {
            let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var yes: Int32 = 1
            setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
            var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
            setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = HealthProbeTests.port.bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0, listen(listener, 64) == 0 else { throw LabError(description: "cannot listen on port \(HealthProbeTests.port)") }
            BackgroundThread { [self] in
                defer { close(listener) }
                while !stopping.load(ordering: .acquiring) {
                    let connection = accept(listener, nil, nil)
                    guard connection >= 0 else { continue }
                    var local = sockaddr_in()
                    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                    _ = withUnsafeMutablePointer(to: &local) {
                        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(connection, $0, &length) }
                    }
                    var buffer = [UInt8](repeating: 0, count: 1_024)
                    _ = recv(connection, &buffer, buffer.count, 0)
                    requests.add(1, ordering: .relaxed)
                    let reachedFailing = UInt32(bigEndian: local.sin_addr.s_addr) == 0xc612_000c
                    let status = reachedFailing && !recovered.load(ordering: .acquiring) ? "503 Service Unavailable" : "200 OK"
                    let answer = Array("HTTP/1.1 \(status)\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
                    _ = send(connection, answer, answer.count, Int32(MSG_NOSIGNAL))
                    close(connection)
                }
            }.detach()
        }
    }

    @Test func httpChecksReachTheTableTheCtlAndTheMetrics() async throws {
        let control = try ControlLab()
        try control.writeConfig()
        var text = try String(contentsOfFile: control.configPath, encoding: .utf8)
        text = text.replacingOccurrences(of: "    backends:\n", with: """
                health: { type: http, port: \(Self.port), path: /health, interval: 500ms, timeout: 400ms, rise: 1, fall: 2 }
                backends:

            """)
        try text.write(toFile: control.configPath, atomically: true, encoding: .utf8)
        let namespace = try await lab.namespace("hc")
        let planeBox = Mutex<ControlPlane?>(nil)
        // Made on a thread inside the namespace: the checker's event loop thread and the server's thread
        // are born there, so every probe and every answer stays in it.
        let (checker, server) = try await lab.onThread { entry in
            try entry.enter(namespace)
            for address in [Self.healthy, Self.failing] {
                _ = try entry.exec(namespace, ["ip", "addr", "add", "\(address)/32", "dev", "lo"])
            }
            let server = try StatusServer()
            let checker = HealthChecker(
                source: ProbeSource(interface: "lo", mac: .zero, ipv4: IPv4Address(198, 18, 0, 11), ipv6: nil),
                backendMAC: { _ in nil },
                downChanged: { down in planeBox.withLock { $0 }?.setHealthDown(down) },
                log: { line in print("health: \(line)") })
            return (checker, server)
        }
        defer {
            checker.stop()
            server.stopping.store(true, ordering: .releasing)
        }
        try control.start(health: checker.board)
        let plane = control.plane!
        planeBox.withLock { $0 = plane }
        plane.observePool { services in checker.update(services) }
        checker.update(plane.running.pool.services)

        let failing = IPAddress.v4(IPv4Address(198, 18, 0, 12)), healthy = IPAddress.v4(IPv4Address(198, 18, 0, 11))
        func usable() -> Set<IPAddress> {
            let table = plane.running.table
            return Set(table.usableBackends(service: 0).map { table.backendAddress($0) })
        }
        #expect(await waitUntil(seconds: 30) { usable() == [healthy] }, "the 503 backend is taken out: \(usable())")
        var reply = ParsedJSON.null
        var rows: [String: ParsedJSON] = [:]
        // Each row as the board has it after a probe of each backend since the transition.
        _ = await waitUntil(seconds: 30) {
            reply = (try? control.ask(#"{"command": "backends", "service": "web"}"#)) ?? .null
            rows = Dictionary(uniqueKeysWithValues: (reply["backends"]?.items ?? []).map { ($0["address"]?.text ?? "", $0) })
            return rows[Self.healthy]?["last_result"]?.text == "ok" && (rows[Self.failing]?["failures"]?.int ?? 0) >= 2
        }
        #expect(rows[Self.failing]?["health"]?.text == "down" && rows[Self.failing]?["state"]?.text == "down", "\(reply)")
        #expect(rows[Self.failing]?["last_result"]?.text == "http 503" && (rows[Self.failing]?["failures"]?.int ?? 0) >= 2, "\(reply)")
        #expect(rows[Self.healthy]?["health"]?.text == "up" && rows[Self.healthy]?["last_result"]?.text == "ok", "\(reply)")
        #expect(rows[Self.healthy]?["check"]?.text == "http" && (rows[Self.healthy]?["last_change"]?.text ?? "").hasSuffix("Z"), "\(reply)")

        let exporter = MetricsExporter(plane: plane, datapath: DatapathReader(workerCount: 0, counters: { .init() }, ask: { _ in [] }),
                                       health: checker.board)
        // The histogram is recorded as probes finish, so it needs a probe after the exporter exists.
        var metrics = ""
        _ = await waitUntil(seconds: 10) {
            metrics = String(decoding: exporter.scrape(), as: UTF8.self)
            return metrics.contains(#"dromos_health_probe_duration_seconds_bucket{service="web",backend="198.18.0.11""#)
        }
        #expect(metrics.contains(#"dromos_backend_up{service="web",backend="198.18.0.12"} 0"#), "\(metrics)")
        #expect(metrics.contains(#"dromos_backend_up{service="web",backend="198.18.0.11"} 1"#))
        #expect(metrics.contains(#"dromos_service_healthy_backends{service="web"} 1"#))
        let failures = metrics.split(separator: "\n").first { $0.hasPrefix(#"dromos_health_probes_total{service="web",backend="198.18.0.12",result="http_status"}"#) }
        #expect((failures?.split(separator: " ").last.flatMap { Int($0) } ?? 0) >= 2, "\(failures ?? "none")")
        #expect(metrics.contains(#"dromos_health_probe_duration_seconds_bucket{service="web",backend="198.18.0.11""#), "\(metrics)")

        server.recovered.store(true, ordering: .releasing)
        #expect(await waitUntil(seconds: 30) { usable() == [healthy, failing] }, "back with rise 1: \(usable())")
        // Both backends probed about twice a second since the start: no fewer than one probe each per second.
        #expect(server.requests.load(ordering: .relaxed) >= 4)
    }
}
