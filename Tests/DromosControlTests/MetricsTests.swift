import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import DromosWire
import DromosLab
import Foundation
import Testing

/// The Prometheus endpoint over real HTTP against the lab's control plane and worker loop.
@Suite(.serialized)
final class MetricsTests {
    let lab: ControlLab
    var server: MetricsServer!
    let port = UInt16.random(in: 30_000...60_000)

    init() throws {
        lab = try ControlLab()
        try lab.start()
    }

    deinit { server?.stop() }

    /// A second reader of the lab's worker mailbox, as the daemon gives one to the control socket and
    /// one to the metrics endpoint.
    func startServer() throws {
        let mailboxReader = DatapathReader(workerCount: 1, counters: { .init() }) { [lab] request in lab.readerAsk(request) }
        server = try MetricsServer(listen: ListenAddress(address: .v4(IPv4Address(127, 0, 0, 1)), port: port),
                                   exporter: MetricsExporter(plane: lab.plane, datapath: mailboxReader))
        server.start()
    }

    func get(_ path: String, method: String = "GET") async throws -> (status: String, body: String) {
        let script = """
            import socket, sys
            c = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)
            c.sendall(('%s %s HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' % (sys.argv[3], sys.argv[2])).encode())
            data = b''
            while True:
                part = c.recv(65536)
                if not part:
                    break
                data += part
            sys.stdout.write(data.decode())
            """
        let output = try await LabCommand.run(["/usr/bin/python3", "-c", script, String(port), path, method])
        let parts = output.components(separatedBy: "\r\n\r\n")
        return (parts[0].components(separatedBy: "\r\n")[0], parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test func servesPerServiceAndPerBackendFiguresInTheTextFormat() async throws {
        try startServer()
        lab.sendSYNs(count: 6)
        let (status, body) = try await get("/metrics")
        #expect(status == "HTTP/1.1 200 OK", "\(status)")
        let lines = Set(body.split(separator: "\n").map(String.init))
        #expect(lines.contains(#"dromos_backend_packets_total{service="web",backend="198.18.0.11"} 3"#), "\(body)")
        #expect(lines.contains(#"dromos_backend_new_flows_total{service="web",backend="198.18.0.12"} 3"#))
        #expect(lines.contains(#"dromos_backend_active_flows{service="web",backend="198.18.0.12"} 3.0"#), "gauges print as doubles")
        #expect(lines.contains(#"dromos_backend_bytes_total{service="web",backend="198.18.0.11"} 162"#), "3 frames of 54 bytes")
        #expect(lines.contains(#"dromos_service_packets_total{service="web"} 6"#))
        #expect(lines.contains(#"dromos_frames_total{verdict="forward",reason="ok"} 6"#))
        #expect(lines.contains("dromos_active_flows 6.0"))
        #expect(lines.contains("dromos_table_generation 1.0"))
        #expect(lines.contains("# TYPE dromos_backend_packets_total counter"))
        #expect(lines.contains("# TYPE dromos_backend_active_flows gauge"))

        // A drained backend says so; a removed one's series go.
        #expect(try lab.ask(#"{"command": "backend drain", "service": "web", "address": "198.18.0.11"}"#).isOK)
        #expect(try await get("/metrics").body.contains(#"dromos_backend_draining{service="web",backend="198.18.0.11"} 1.0"#))
        #expect(try lab.ask(#"{"command": "backend remove", "service": "web", "address": "198.18.0.11"}"#).isOK)
        let after = try await get("/metrics").body
        #expect(!after.contains(#"backend="198.18.0.11""#), "\(after)")
        #expect(after.contains("dromos_table_generation 3.0"))
    }

    @Test func otherPathsAndMethodsAreRefused() async throws {
        try startServer()
        #expect(try await get("/").status == "HTTP/1.1 404 Not Found")
        #expect(try await get("/metrics", method: "POST").status == "HTTP/1.1 405 Method Not Allowed")
        let head = try await get("/metrics", method: "HEAD")
        #expect(head.status == "HTTP/1.1 200 OK" && head.body.isEmpty)
    }

    @Test func aPortInUseIsRefusedWithTheAddress() throws {
        try startServer()
        #expect {
            _ = try MetricsServer(listen: ListenAddress(address: .v4(IPv4Address(127, 0, 0, 1)), port: port),
                                  exporter: MetricsExporter(plane: lab.plane, datapath: DatapathReader(workerCount: 0, counters: { .init() }, ask: { _ in [] })))
        } throws: { "\($0)".contains("metrics.listen: cannot listen on 127.0.0.1:\(port): Address already in use") }
    }

    @Test func theConfigNamesTheAddress() throws {
        let base = "interface: eth0\nservices:\n  - { name: web, vip: 203.0.113.10, backends: [{ address: 198.18.1.11 }] }\n"
        #expect(try ConfigLoader.parse(yaml: base, source: "t").metricsListen == nil)
        #expect(try ConfigLoader.parse(yaml: base + "metrics: {}\n", source: "t").metricsListen == ListenAddress.defaultMetrics)
        let withDefault = try ConfigLoader.parse(yaml: base + "metrics: {}\n", source: "t")
        #expect(ConfigSummary.text(withDefault).contains("metrics:\n  listen: "), "check-config shows it")
        #expect(ConfigSummary.json(withDefault).contains(#""metrics": "127.0.0.1:9469""#))
        let v6 = try ConfigLoader.parse(yaml: base + "metrics: { listen: \"[::1]:9100\" }\n", source: "t").metricsListen
        #expect(v6?.description == "[::1]:9100")
        for (text, reason) in [("127.0.0.1", "must be ADDRESS:PORT"), ("127.0.0.1:0", "must end in a port from 1 to 65535"),
                               ("\"::1:80\"", "must put an IPv6 address in brackets"), ("host:80", "must start with an IP address")] {
            #expect { try ConfigLoader.parse(yaml: base + "metrics: { listen: \(text) }\n", source: "t") } throws: {
                "\($0)".contains("metrics.listen: \(reason)")
            }
        }
    }
}
