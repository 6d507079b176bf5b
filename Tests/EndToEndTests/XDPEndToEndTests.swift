import DromosLab
import Foundation
import Glibc
import Testing

/// `dromos run --io xdp` in the lab: the XDP program takes the VIP's frames away from the kernel (no
/// nftables rule), the AF_XDP sockets forward them to the backends, which answer the client directly.
/// With the veth default (the peer leaves checksums to a NIC) the daemon says so within seconds; a
/// killed daemon's program is detached by `dromos cleanup`.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class XDPEndToEndTests: DaemonLabTest {
    let lab = NetworkLab()

    func xdpAttached(_ net: Topology) async throws -> Bool {
        try await lab.exec(net.balancer, ["ip", "link", "show", "lb0"]).contains("xdp")
    }

    /// The lab with HTTP servers on the backends, finished checksums from the client's side of lb0 (AF_XDP
    /// has no vnet header; the first test tries the default later), and a maglev config.
    func servedLab() async throws -> (net: Topology, servers: [RunningCommand], config: URL) {
        let net = try await topology()
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80))
        }
        for server in servers { #expect(await waitForText("listening", in: server.output)) }
        try await lab.exec(net.bridge, ["ethtool", "-K", net.balancerPeer, "tx", "off", "tso", "off", "gso", "off"])
        return (net, servers, try writeConfig(scheduler: "maglev"))
    }

    @Test func connectionsGoThroughTheSocketsAndTheProgramGoesWithTheDaemon() async throws {
        let (net, servers, config) = try await servedLab()
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        defer { try? FileManager.default.removeItem(at: config) }
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--io", "xdp"])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        #expect(log(of: daemon).contains("XDP program on lb0 (native mode)"), "\(log(of: daemon))")
        #expect(try await xdpAttached(net))
        #expect(!(try await lab.exec(net.balancer, ["nft", "list", "tables"]).contains("dromos")), "no nftables rule with --io xdp")
        let status = try await LabCommand.run([Self.dromos, "ctl", "status", "--config", config.path])
        #expect(status.contains("xdp (native mode, copy)"), "\(status)")

        let (answers, failures) = try await connections(net.client, count: 50)
        #expect(failures.isEmpty && answers.values.reduce(0, +) == 50 && answers.count == 2, "\(answers) \(failures.prefix(3))")

        // The veth default: the peer leaves checksums to a NIC that is not there. Said within seconds.
        try await lab.exec(net.bridge, ["ethtool", "-K", net.balancerPeer, "tx", "on"])
        // 200 SYNs at once (non-blocking connects): more than the 64 frames between two samples.
        _ = try await lab.exec(net.client, [Services.python, "-c", """
            import socket, time
            sockets = []
            for i in range(200):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                s.connect_ex(('\(Self.vip)', 80))
                sockets.append(s)
            time.sleep(1)
            """])
        #expect(await waitForLog(daemon, "carried a TCP/UDP checksum that does not hold", seconds: 10), "\(log(of: daemon))")
        #expect(log(of: daemon).contains("AF_XDP cannot see that"))

        let stopped = await stop(daemon)
        #expect(stopped.exited && stopped.status == 0, "\(stopped.log)")
        #expect(stopped.log.contains("detached the XDP program from lb0"), "\(stopped.log)")
        #expect(!(try await xdpAttached(net)), "the program goes with the daemon")
        #expect(stopCount("received", in: stopped.log) == stopCount("forwarded", in: stopped.log), "\(stopped.log)")

        // Killed, the daemon leaves its program (the kernel would hand the VIPs' frames to sockets that
        // are gone); cleanup detaches it, and only it.
        let killed = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--io", "xdp"])
        defer { if killed.isRunning { killed.terminate() } }
        try await waitUntilRunning(killed)
        killed.signal(SIGKILL)
        #expect(await waitForExit(killed))
        #expect(try await xdpAttached(net), "a killed daemon leaves its program")
        let refused = try await LabCommand.outcome(["ip", "netns", "exec", net.balancer, Self.dromos, "run", "--config", config.path, "--io", "xdp"])
        #expect(refused.status != 0 && refused.errors.contains("dromos cleanup"), "a second start names the fix: \(refused.errors)")
        let cleaned = try await lab.exec(net.balancer, [Self.dromos, "cleanup", "--config", config.path])
        #expect(cleaned.contains("detached the XDP program dromos_xdp"), "\(cleaned)")
        #expect(!(try await xdpAttached(net)))
        print("xdp end-to-end: \(answers); cleanup: \(cleaned.split(separator: "\n").first ?? "")")
    }

    /// The capabilities dist/dromos.service gives (read from the unit, so the test follows it) are enough
    /// for `--io xdp`: start, forward, detach at the stop, and `dromos cleanup` after SIGKILL, which
    /// cannot read program names without CAP_SYS_ADMIN and goes by the id the daemon recorded.
    /// CAP_IPC_LOCK stands in for the unit's LimitMEMLOCK=infinity, which this sandbox cannot raise.
    @Test func theUnitsCapabilitiesAreEnough() async throws {
        let unit = try String(contentsOfFile: LabScript.repository + "/dist/dromos.service", encoding: .utf8)
        let bounding = try #require(unit.split(separator: "\n").first { $0.hasPrefix("CapabilityBoundingSet=") })
        let capabilities = bounding.dropFirst("CapabilityBoundingSet=".count).split(separator: " ")
            .map { "+" + $0.dropFirst("CAP_".count).lowercased() } + ["+ipc_lock"]
        #expect(capabilities.contains("+bpf"), "the unit gives CAP_BPF: \(bounding)")
        let only = "-all," + capabilities.joined(separator: ",")
        let limited = ["setpriv", "--reuid", "0", "--bounding-set=\(only)", "--inh-caps=\(only)", "--ambient-caps=\(only)", Self.dromos]

        let (net, servers, config) = try await servedLab()
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        defer { try? FileManager.default.removeItem(at: config) }

        let daemon = try await lab.start(net.balancer, limited + ["run", "--config", config.path, "--io", "xdp"])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        let (answers, failures) = try await connections(net.client, count: 10)
        #expect(failures.isEmpty && answers.values.reduce(0, +) == 10, "\(answers) \(failures.prefix(3))")
        let stopped = await stop(daemon)
        #expect(stopped.exited && stopped.status == 0 && stopped.log.contains("detached the XDP program from lb0"), "\(stopped.log)")
        #expect(!(try await xdpAttached(net)), "detached with the unit's capabilities")

        let killed = try await lab.start(net.balancer, limited + ["run", "--config", config.path, "--io", "xdp"])
        defer { if killed.isRunning { killed.terminate() } }
        try await waitUntilRunning(killed)
        killed.signal(SIGKILL)
        #expect(await waitForExit(killed))
        let cleaned = try await lab.exec(net.balancer, limited + ["cleanup", "--config", config.path])
        #expect(cleaned.contains("as the daemon recorded it"), "\(cleaned)")
        #expect(!(try await xdpAttached(net)))
    }
}
