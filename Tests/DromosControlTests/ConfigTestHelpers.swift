import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import DromosWire

/// Shared by the configuration suites. A protocol, so that each suite reads the helpers unqualified
/// without adding globals to a test module that other suites share.
protocol ConfigTestHelpers {}

extension ConfigTestHelpers {
    /// The brief's example, a control group and flow settings, and an IPv6 all-ports service that leans on
    /// defaults and on the reader taking unquoted MACs and IPv6 addresses as text.
    var exampleConfig: String {
        """
        interface: eth0                  # frames arrive and leave here (one-armed)
        mac: "02:00:00:00:00:01"         # optional source MAC for rewritten frames (default: the interface's)
        control: { socket: /run/dromos/control.sock, group: dromos }
        state: /var/lib/dromos/state.yaml  # runtime pool changes survive a restart
        flows: { capacity: 65536, tcp_timeout: 10m, tcp_fin_timeout: 1m, udp_timeout: 2m, fragment_timeout: 15s }
        services:
          - name: web
            vip: 203.0.113.10
            port: 80                     # omit for all ports of the VIP
            protocol: tcp                # tcp | udp
            scheduler: maglev            # maglev | rr | wrr | lc | wlc | sh
            health: { type: tcp, port: 80, interval: 2s, timeout: 1s, rise: 2, fall: 3 }
            backends:
              - { address: 198.18.1.11, weight: 1 }
              - { address: 198.18.1.12, weight: 1, mac: "02:00:00:00:01:12" }   # mac optional: else ARP/NDP
          - name: dns6
            vip: 2001:db8::53
            protocol: UDP
            scheduler: sh
            maglev_table_size: 251
            health: { type: tcp, port: 53, interval: 5s, timeout: 500ms }
            backends:
              - { address: 2001:db8:1::11, weight: 3, mac: 12:34:56:12:34:56 }
              - address: 2001:db8:1::12
                weight: 0

        """
    }

    var exampleModel: DromosConfig {
        DromosConfig(
            interface: "eth0", mac: mac("02:00:00:00:00:01"), controlSocket: "/run/dromos/control.sock",
            controlGroup: "dromos", statePath: "/var/lib/dromos/state.yaml",
            balancer: BalancerSpec(
                services: [
                    ServiceSpec(
                        name: "web", key: ServiceKey(vip: ip("203.0.113.10"), transport: .tcp, port: 80),
                        scheduler: .maglev, maglevTableSize: 65_537,
                        health: HealthCheckSpec(type: .tcp, port: 80, intervalMilliseconds: 2_000,
                                                timeoutMilliseconds: 1_000, rise: 2, fall: 3),
                        backends: [
                            BackendSpec(address: ip("198.18.1.11"), weight: 1),
                            BackendSpec(address: ip("198.18.1.12"), weight: 1, mac: mac("02:00:00:00:01:12")),
                        ]),
                    ServiceSpec(
                        name: "dns6", key: ServiceKey(vip: ip("2001:db8::53"), transport: .udp, port: nil),
                        scheduler: .sh, maglevTableSize: 251,
                        health: HealthCheckSpec(type: .tcp, port: 53, intervalMilliseconds: 5_000,
                                                timeoutMilliseconds: 500, rise: 2, fall: 3),
                        backends: [
                            BackendSpec(address: ip("2001:db8:1::11"), weight: 3, mac: mac("12:34:56:12:34:56")),
                            BackendSpec(address: ip("2001:db8:1::12"), weight: 0),
                        ]),
                ],
                flows: FlowTableSpec(capacity: 65_536, tcpEstablishedTimeoutMilliseconds: 600_000,
                                     tcpClosingTimeoutMilliseconds: 60_000, udpTimeoutMilliseconds: 120_000,
                                     fragmentTimeoutMilliseconds: 15_000)))
    }

    /// One valid service, written flush left for ``oneService(_:top:)``; tests change one line of it.
    var webService: String {
        """
        name: web
        vip: 203.0.113.10
        port: 80
        backends:
          - { address: 198.18.1.11 }
        """
    }

    func ip(_ text: String) -> IPAddress { try! IPAddress(parsing: text) }
    func mac(_ text: String) -> MACAddress { try! MACAddress(parsing: text) }

    /// The problem lines for `yaml`, without the file name; empty when it loads.
    func problems(_ yaml: String) -> [String] {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, source: "dromos.yaml")
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    /// A file with one service: `body` is the service's mapping, written flush left.
    func oneService(_ body: String, top: String = "interface: eth0") -> String {
        let lines = body.split(separator: "\n").enumerated().map { $0 == 0 ? "  - \($1)" : "    \($1)" }
        return top + "\nservices:\n" + lines.joined(separator: "\n") + "\n"
    }

    /// `webService` with the line that starts with `key:` replaced by `line`, or removed when it is empty.
    func web(replacing key: String, with line: String) -> String {
        let lines = webService.split(separator: "\n").map { $0.hasPrefix("\(key):") ? line : String($0) }
        return oneService(lines.filter { !$0.isEmpty }.joined(separator: "\n"))
    }

    func web(adding lines: String) -> String { oneService(webService + "\n" + lines) }
}
