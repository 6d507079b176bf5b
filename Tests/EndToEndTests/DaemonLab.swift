import DromosLab
import Foundation
import Glibc

/// The lab every `dromos run` end-to-end suite builds on: client, balancer and backends on one bridge
/// (in a namespace of its own). The backends hold the VIP on lo with ARP suppressed; the client routes
/// the VIP via the balancer's address. Replies go from the backends straight to the client (DSR).
protocol DaemonLabTest {
    var lab: NetworkLab { get }
}

typealias DaemonLabAddresses = LabAddresses

struct Topology {
    var bridge: String
    var client: String
    var balancer: String
    var backends: [String]
    /// lb0's peer in the bridge's namespace: the bridge port, or the VLAN relay's trunk end.
    var balancerPeer: String
}

enum VIPRoute {
    case viaBalancer
    case onLink
}

/// How the backends hold the VIP: on lo with ARP suppressed by hand, by `dromos backend setup` (its
/// state files in the lab's directory), or on lo with the kernel's default ARP behaviour (every backend answers).
enum BackendVIP: Equatable {
    case byHand
    case dromosSetup
    case kernelDefaults
}

/// One backend line of a generated config: which lab backend, with which weight (nil: the default).
struct LabBackend {
    var index: Int
    var weight: Int? = nil
}

extension DaemonLabTest {
    static var vip: String { DaemonLabAddresses.vip }
    static var vip6: String { DaemonLabAddresses.vip6 }
    static var balancerMAC: String { DaemonLabAddresses.balancerMAC }
    static var backendMACs: [String] { DaemonLabAddresses.backendMACs }

    static var dromos: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("dromos").path
    }

    /// The lab of tools/lab.sh (the demo's), named after this test's `NetworkLab` and taken down with it.
    ///
    /// `vlan`: the balancer's link becomes a tagged trunk of that VLAN. This kernel has neither 8021q nor
    /// bridge VLAN filtering nor tc's vlan action, so the trunk hangs off a relay (`Services.vlanRelay`,
    /// raw sockets, started by the test in the bridge's namespace on `tu` and `tr`): frames from the
    /// bridge get the tag pushed, frames from the balancer pass only with that tag and lose it (lab.sh's
    /// `--vlan-trunk`). `route`: how the client reaches the VIP (via the balancer's address, or on-link:
    /// then it asks the wire who has it). `backendVIP`: how the backends hold it. `shortNeighborTimers`:
    /// the balancer's neighbor entries go stale after ~1 s and are re-probed after 1 s, so a changed MAC
    /// shows in seconds. IPv6 is off unless asked for, so that nothing but the test's frames cross the links.
    func topology(ipv6: Bool = false, backendCount: Int = 2, vlan: Int? = nil, route: VIPRoute = .viaBalancer,
                  backendVIP: BackendVIP = .byHand, shortNeighborTimers: Bool = false) async throws -> Topology {
        var arguments = [String(backendCount), "--no-servers"]
        if !ipv6 { arguments.append("--ipv4-only") }
        if vlan != nil { arguments.append("--vlan-trunk") }
        if route == .onLink { arguments += ["--client-route", "onlink"] }
        switch backendVIP {
        case .byHand: arguments += ["--backend-vip", "hand"]
        case .dromosSetup: arguments += ["--backend-vip", "setup"]
        case .kernelDefaults: arguments += ["--backend-vip", "kernel"]
        }
        if shortNeighborTimers { arguments.append("--short-neighbor-timers") }
        let name = try await LabScript.up(lab, arguments: arguments, dromos: Self.dromos)
        return Topology(bridge: "\(name)-sw", client: "\(name)-client", balancer: "\(name)-lb",
                        backends: (1...backendCount).map { "\(name)-s\($0)" }, balancerPeer: vlan == nil ? "plb" : "tr")
    }

    /// `--io pcap` has no vnet header: the lab turns off what would hand lb0 super-frames or partial
    /// checksums — GRO/LRO on lb0 itself (the daemon refuses to start otherwise) and segmentation and
    /// checksum offload on its peer, so the kernel segments and checksums the client's frames before
    /// they enter lb0, as a real NIC would deliver them.
    func prepare(_ net: Topology, for io: String) async throws {
        guard io == "pcap" else { return }
        try await lab.exec(net.balancer, ["ethtool", "-K", "lb0", "gro", "off", "lro", "off"])
        try await lab.exec(net.bridge, ["ethtool", "-K", net.balancerPeer, "tx", "off", "tso", "off", "gso", "off"])
    }

    static func temporaryFile(_ suffix: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("dromos-e2e-\(UUID().uuidString).\(suffix)")
    }

    @discardableResult
    func writeConfig(to url: URL = Self.temporaryFile("yaml"), backends: [Int] = [0, 1], scheduler: String = "rr",
                     ipv6: Bool = false) throws -> URL {
        try writeConfig(to: url, pool: backends.map { LabBackend(index: $0) }, scheduler: scheduler, ipv6: ipv6)
    }

    /// One TCP service per port in `ports` on the VIP, all with the same pool.
    @discardableResult
    func writeConfig(to url: URL = Self.temporaryFile("yaml"), pool: [LabBackend], scheduler: String = "rr",
                     ipv6: Bool = false, ports: [Int] = [80]) throws -> URL {
        let lines = pool.map { backend in
            let address = ipv6 ? "\"2001:db8:18::\(11 + backend.index)\"" : DaemonLabAddresses.backendAddress(backend.index)
            let weight = backend.weight.map { ", weight: \($0)" } ?? ""
            return "      - { address: \(address), mac: \"\(Self.backendMACs[backend.index])\"\(weight) }"
        }.joined(separator: "\n")
        let services = ports.map { port in
            """
              - name: web\(port)
                vip: \(ipv6 ? "\"\(Self.vip6)\"" : Self.vip)
                port: \(port)
                protocol: tcp
                scheduler: \(scheduler)
                backends:
            \(lines)
            """
        }.joined(separator: "\n")
        // A control socket of its own: the default one in /run is shared with every other daemon on the host.
        try "interface: lb0\ncontrol: { socket: \(url.path).sock }\nservices:\n\(services)\n"
            .write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Waits (bounded) for the command to end by itself.
    @discardableResult
    func waitForExit(_ command: RunningCommand, seconds: Double = 60) async -> Bool {
        await command.waitForExit(seconds: seconds)
    }

    func log(of daemon: RunningCommand) -> String { daemon.standardError }

    /// Waits (bounded, generously: a loaded machine is slow, not wrong) until the daemon's log contains `text`.
    func waitForLog(_ daemon: RunningCommand, _ text: String, seconds: Double = 60) async -> Bool {
        await waitForText(text, in: daemon.errors, seconds: seconds)
    }

    /// Waits (bounded) until a command's output file contains `text` (e.g. tcpdump's "listening on").
    func waitForText(_ text: String, in file: URL, seconds: Double = 60) async -> Bool {
        await waitUntil(seconds: seconds) { ((try? String(contentsOf: file, encoding: .utf8)) ?? "").contains(text) }
    }

    /// Waits (bounded) until a capture file has not grown for `quietSeconds`: the traffic it records has
    /// ended, also what a busy host was still holding.
    func waitUntilQuiet(_ capture: URL, quietSeconds: Double = 1, seconds: Double = 60) async {
        func size() -> Int { ((try? FileManager.default.attributesOfItem(atPath: capture.path))?[.size] as? Int) ?? 0 }
        var last = size(), lastChange = ContinuousClock.now
        _ = await waitUntil(seconds: seconds) {
            let now = size()
            if now != last { last = now; lastChange = .now }
            return ContinuousClock.now - lastChange >= .milliseconds(Int(quietSeconds * 1_000))
        }
    }

    /// tcpdump on `interface` into `file`, returned once it captures. Immediate mode: otherwise libpcap
    /// hands tcpdump a ring block only when it is full or a second old, and a capture stopped sooner
    /// is empty.
    func startCapture(in namespace: String, interface: String, to file: URL, filter: [String] = []) async throws -> RunningCommand {
        // A 32 MiB buffer: on a loaded host tcpdump is scheduled late, and a full buffer drops frames.
        let tcpdump = try await lab.start(namespace, ["tcpdump", "-i", interface, "-n", "-U", "--immediate-mode", "-B", "32768",
                                                      "-w", file.path] + filter)
        guard await waitForText("listening on", in: tcpdump.errors) else {
            throw LabError(description: "tcpdump on \(interface) did not start: \(log(of: tcpdump))")
        }
        return tcpdump
    }

    func connections(_ client: String, count: Int, host: String = DaemonLabAddresses.vip) async throws -> (answers: [String: Int], failures: [String]) {
        let output = try await lab.exec(client, Services.shortConnections(host: host, port: 80, count: count), timeout: 120)
        let result = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
        return (result["answers"] as? [String: Int] ?? [:], result["failures"] as? [String] ?? [])
    }

    /// Waits (bounded) until the daemon's log says it runs, or it exited. Generous: opening the workers'
    /// AF_PACKET rings (a 65 MiB RX ring of 64 KiB slots each) took 2.5 s on a quiet two-core machine and
    /// over 20 s on a loaded one while three daemons started at once.
    func waitUntilRunning(_ daemon: RunningCommand, seconds: Double = 180) async throws {
        let running = await waitUntil(seconds: seconds) { log(of: daemon).contains("running:") || !daemon.isRunning }
        if log(of: daemon).contains("running:") { return }
        if !daemon.isRunning { throw LabError(description: "dromos run exited early: \(log(of: daemon))") }
        if !running { throw LabError(description: "dromos run did not start within \(seconds) s: \(log(of: daemon))") }
    }

    /// SIGTERM, then the daemon's whole log; the caller checks the exit.
    func stop(_ daemon: RunningCommand) async -> (exited: Bool, status: Int32, log: String) {
        daemon.signal(SIGTERM)
        let exited = await waitForExit(daemon)
        return (exited, daemon.terminationStatus ?? -1, log(of: daemon))
    }

    /// The frames tcpdump could not keep up with ("N packets dropped by kernel", printed when it stops);
    /// nil when it did not say.
    func captureDrops(_ tcpdump: RunningCommand) -> Int? {
        guard let line = tcpdump.standardError.split(separator: "\n").first(where: { $0.hasSuffix("packets dropped by kernel") })
        else { return nil }
        return Int(line.prefix { $0.isNumber })
    }

    /// A count from the daemon's closing line ("workers stopped …: received 12, …, dropped 0, …"), nil
    /// when the line or the name is missing.
    func stopCount(_ name: String, in log: String) -> Int? {
        guard let line = log.split(separator: "\n").last(where: { $0.contains("workers stopped") }),
              let range = line.range(of: " \(name) ") else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// The lines tcpdump prints for `filter` in a capture file (link-level headers with `-e`).
    func captured(_ capture: URL, _ filter: String, linkLevel: Bool = false) async throws -> [Substring] {
        try await NetworkLab.run(["tcpdump", "-r", capture.path, "-n"] + (linkLevel ? ["-e"] : []) + [filter])
            .split(separator: "\n")
    }
}
