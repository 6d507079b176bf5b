import DromosLab
import Foundation
import Glibc
import Testing

/// `dromos run` for real, in network namespaces (`DaemonLab`): client, balancer and two DSR backends on
/// one bridge.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class DaemonEndToEndTests: DaemonLabTest {
    let lab = NetworkLab()

    @Test(arguments: ["afpacket", "pcap"])
    func shortConnectionsThroughTheVIPReachBothBackendsAndRepliesBypassTheBalancer(io: String) async throws {
        let started = Date()
        let net = try await topology()
        try await prepare(net, for: io)
        let config = try writeConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80))
        }
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-e2e-\(UUID().uuidString).pcap")
        defer { try? FileManager.default.removeItem(at: capture) }
        let tcpdump = try await startCapture(in: net.balancer, interface: "lb0", to: capture, filter: ["tcp"])
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "2", "--io", io])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        #expect(try await lab.exec(net.balancer, ["nft", "list", "tables"]).contains("netdev dromos"))
        if io == "pcap" {
            // lb0's MTU 1500 plus Ethernet and two VLAN tags: libpcap's ring slots that size, not 64 KiB.
            #expect(log(of: daemon).contains("snapshot length 1522"), "\(log(of: daemon))")
        }

        let output = try await lab.exec(net.client, Services.shortConnections(host: Self.vip, port: 80, count: 200), timeout: 120)
        let result = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
        print("short connections: \(output)")
        let answers = result["answers"] as? [String: Int] ?? [:]
        let failures = result["failures"] as? [String] ?? []
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(answers.values.reduce(0, +) == 200, "\(answers)")
        #expect((answers["s1"] ?? 0) > 0 && (answers["s2"] ?? 0) > 0, "both backends answer: \(answers)")

        // SIGHUP with a broken config: rejected, logged, and the running table keeps forwarding.
        _ = try writeConfig(to: config, scheduler: "fastest")
        daemon.signal(SIGHUP)
        #expect(await waitForLog(daemon, "still running table generation 1"), "a bad config is rejected")
        let during = try await connections(net.client, count: 20)
        #expect(during.failures.isEmpty && during.answers.values.reduce(0, +) == 20, "\(during)")
        // SIGHUP with s1 alone: new connections all reach s1.
        _ = try writeConfig(to: config, backends: [0])
        daemon.signal(SIGHUP)
        #expect(await waitForLog(daemon, "reloaded: table generation 2"))
        let after = try await connections(net.client, count: 40)
        #expect(after.failures.isEmpty && after.answers == ["s1": 40], "\(after)")
        _ = try writeConfig(to: config)
        daemon.signal(SIGHUP)
        #expect(await waitForLog(daemon, "reloaded: table generation 3"))

        // A 20 MiB upload through the VIP arrives whole (the server checks every byte).
        let upload = try await lab.exec(net.client, Services.upload(host: Self.vip, port: 80, size: 20 << 20), timeout: 120)
        print("upload: \(upload)")
        #expect(upload.hasSuffix("\(20 << 20) ok\n") || upload.contains(" \(20 << 20) ok"), "\(upload)")

        // SIGTERM: a clean stop, exit 0, and our nft table is gone.
        daemon.signal(SIGTERM)
        #expect(await waitForExit(daemon), "dromos run did not stop on SIGTERM")
        let log = (try? String(contentsOf: daemon.errors, encoding: .utf8)) ?? ""
        #expect(daemon.terminationStatus == 0, "\(log)")
        #expect(log.contains("removed nftables table"), "\(log)")
        #expect(!(try await lab.exec(net.balancer, ["nft", "list", "tables"]).contains("dromos")))

        // Direct server return: the balancer's interface carried client→VIP frames (in, and out again
        // rewritten) and not one VIP→client frame.
        tcpdump.terminate()
        await waitForExit(tcpdump)
        print("dromos run log:\n\(log)")
        let toVIP = try await NetworkLab.run(["tcpdump", "-r", capture.path, "-n", "dst host \(Self.vip)"])
        let fromVIP = try await NetworkLab.run(["tcpdump", "-r", capture.path, "-n", "src host \(Self.vip)"])
        let toCount = toVIP.split(separator: "\n").count
        let fromCount = fromVIP.split(separator: "\n").count
        #expect(toCount >= 200 * 3, "client→VIP frames seen on the balancer: \(toCount)")
        #expect(fromCount == 0, "VIP→client frames seen on the balancer: \(fromCount)")
        #expect(log.contains("datapath: \(io == "pcap" ? "libpcap" : "AF_PACKET")"), "the I/O in use is logged: \(log)")
        print("daemon end-to-end (\(io)): \(answers), \(toCount) client→VIP frames and \(fromCount) VIP→client frames on lb0, "
              + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// The same with an IPv6 VIP (VIP /128 on the backends' lo; the client routes it via the balancer).
    @Test(arguments: ["afpacket", "pcap"])
    func ipv6VIPConnectionsReachBothBackendsAndRepliesBypassTheBalancer(io: String) async throws {
        let started = Date()
        let net = try await topology(ipv6: true)
        try await prepare(net, for: io)
        let config = try writeConfig(ipv6: true)
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80, ipv6: true))
        }
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-e2e-\(UUID().uuidString).pcap")
        defer { try? FileManager.default.removeItem(at: capture) }
        let tcpdump = try await startCapture(in: net.balancer, interface: "lb0", to: capture, filter: ["tcp"])
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "2", "--io", io])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)

        let result = try await connections(net.client, count: 100, host: Self.vip6)
        #expect(result.failures.isEmpty, "\(result.failures.prefix(5))")
        #expect(result.answers.values.reduce(0, +) == 100, "\(result.answers)")
        #expect((result.answers["s1"] ?? 0) > 0 && (result.answers["s2"] ?? 0) > 0, "\(result.answers)")

        daemon.signal(SIGTERM)
        #expect(await waitForExit(daemon), "dromos run did not stop on SIGTERM")
        let log = (try? String(contentsOf: daemon.errors, encoding: .utf8)) ?? ""
        #expect(daemon.terminationStatus == 0, "\(log)")
        #expect(!(try await lab.exec(net.balancer, ["nft", "list", "tables"]).contains("dromos")))
        tcpdump.terminate()
        await waitForExit(tcpdump)
        let toCount = try await NetworkLab.run(["tcpdump", "-r", capture.path, "-n", "dst host \(Self.vip6)"]).split(separator: "\n").count
        let fromCount = try await NetworkLab.run(["tcpdump", "-r", capture.path, "-n", "src host \(Self.vip6)"]).split(separator: "\n").count
        #expect(toCount >= 100 * 3, "client→VIP frames seen on the balancer: \(toCount)")
        #expect(fromCount == 0, "VIP→client frames seen on the balancer: \(fromCount)")
        print("daemon end-to-end (IPv6, \(io)): \(result.answers), \(toCount) client→VIP and \(fromCount) VIP→client frames on lb0, "
              + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// `--io pcap` on an interface with GRO on: refused before anything is installed, with the fix.
    @Test func pcapRefusesAnInterfaceThatCoalescesWithTheEthtoolFix() async throws {
        let net = try await topology()
        try await lab.exec(net.balancer, ["ethtool", "-K", "lb0", "gro", "on"])
        let config = try writeConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--io", "pcap"])
        #expect(await waitForExit(daemon), "dromos run --io pcap should refuse and exit")
        let log = (try? String(contentsOf: daemon.errors, encoding: .utf8)) ?? ""
        #expect(daemon.terminationStatus == 1, "\(log)")
        #expect(log.contains("ethtool -K lb0 gro off"), "\(log)")
        #expect(!(try await lab.exec(net.balancer, ["nft", "list", "tables"]).contains("dromos")))
    }
}
