import Foundation
import Glibc
import Testing

/// `dromos run` for real, in network namespaces: client, balancer and two backends on one bridge (in a
/// namespace of its own). The backends hold the VIP on lo with ARP suppressed; the client routes the
/// VIP via the balancer's address. Replies go from the backends straight to the client (DSR).
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class DaemonEndToEndTests {
    let lab = NetworkLab()
    static let vip = "203.0.113.10"
    static let vip6 = "2001:db8:cafe::10"
    static let balancerMAC = "02:00:00:00:00:02"
    static let backendMACs = ["02:00:00:00:01:11", "02:00:00:00:01:12"]

    static var dromos: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("dromos").path
    }

    struct Topology {
        var client: String
        var balancer: String
        var backends: [String]
    }

    func topology(ipv6: Bool = false) throws -> Topology {
        let bridge = try lab.namespace("br")
        try lab.exec(bridge, ["ip", "link", "add", "br0", "type", "bridge"])
        try lab.exec(bridge, ["ip", "link", "set", "br0", "up"])
        let client = try lab.namespace("cl", ipv6: ipv6)
        let balancer = try lab.namespace("lb", ipv6: ipv6)
        let backends = [try lab.namespace("s1", ipv6: ipv6), try lab.namespace("s2", ipv6: ipv6)]
        func attach(_ namespace: String, _ inside: String, _ port: String, mac: String?, address: String) throws {
            try lab.veth(inside, in: namespace, port, in: bridge, firstMAC: mac)
            try lab.exec(bridge, ["ip", "link", "set", port, "master", "br0"])
            try lab.exec(namespace, ["ip", "addr", "add", address, "dev", inside])
            if ipv6 {
                // 198.18.0.x/24 → 2001:db8:18::x/64, without duplicate address detection's delay.
                let host = address.split(separator: "/")[0].split(separator: ".")[3]
                try lab.exec(namespace, ["ip", "-6", "addr", "add", "2001:db8:18::\(host)/64", "dev", inside, "nodad"])
            }
        }
        try attach(client, "c0", "pcl", mac: nil, address: "198.18.0.1/24")
        try attach(balancer, "lb0", "plb", mac: Self.balancerMAC, address: "198.18.0.2/24")
        for (index, backend) in backends.enumerated() {
            try attach(backend, "s0", "ps\(index + 1)", mac: Self.backendMACs[index], address: "198.18.0.\(11 + index)/24")
            try lab.exec(backend, ["ip", "addr", "add", "\(Self.vip)/32", "dev", "lo"])
            if ipv6 { try lab.exec(backend, ["ip", "-6", "addr", "add", "\(Self.vip6)/128", "dev", "lo"]) }
            try lab.exec(backend, ["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2",
                                   "net.ipv4.conf.s0.arp_ignore=1", "net.ipv4.conf.s0.arp_announce=2"])
        }
        try lab.exec(client, ["ip", "route", "add", "\(Self.vip)/32", "via", "198.18.0.2"])
        if ipv6 { try lab.exec(client, ["ip", "-6", "route", "add", "\(Self.vip6)/128", "via", "2001:db8:18::2"]) }
        return Topology(client: client, balancer: balancer, backends: backends)
    }

    func writeConfig(to url: URL = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-e2e-\(UUID().uuidString).yaml"),
                     backends: [Int] = [0, 1], scheduler: String = "rr", ipv6: Bool = false) throws -> URL {
        let lines = backends.map {
            "      - { address: \(ipv6 ? "\"2001:db8:18::\(11 + $0)\"" : "198.18.0.\(11 + $0)"), mac: \"\(Self.backendMACs[$0])\" }"
        }
        // A control socket of its own: the default one in /run is shared with every other daemon on the host.
        let yaml = """
            interface: lb0
            control: { socket: \(url.path).sock }
            services:
              - name: web
                vip: \(ipv6 ? "\"\(Self.vip6)\"" : Self.vip)
                port: 80
                protocol: tcp
                scheduler: \(scheduler)
                backends:

            """ + lines.joined(separator: "\n") + "\n"
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Foundation's `waitUntilExit` can hang off the main run loop; poll instead (bounded).
    @discardableResult
    func waitForExit(_ command: RunningCommand, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while command.isRunning && Date() < deadline { usleep(10_000) }
        return !command.isRunning
    }

    /// Waits (bounded) until the daemon's log contains `text`.
    func waitForLog(_ daemon: RunningCommand, _ text: String, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if ((try? String(contentsOf: daemon.errors, encoding: .utf8)) ?? "").contains(text) { return true }
            usleep(20_000)
        }
        return false
    }

    func connections(_ client: String, count: Int, host: String = DaemonEndToEndTests.vip) throws -> (answers: [String: Int], failures: [String]) {
        let output = try lab.exec(client, Services.shortConnections(host: host, port: 80, count: count), timeout: 120)
        let result = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
        return (result["answers"] as? [String: Int] ?? [:], result["failures"] as? [String] ?? [])
    }

    /// Waits (bounded) until the daemon's log says it runs, or it exited.
    func waitUntilRunning(_ daemon: RunningCommand, seconds: Double = 20) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let log = (try? String(contentsOf: daemon.errors, encoding: .utf8)) ?? ""
            if log.contains("running:") { return }
            if !daemon.isRunning { throw LabError(description: "dromos run exited early: \(log)") }
            usleep(20_000)
        }
        throw LabError(description: "dromos run did not start within \(seconds) s")
    }

    @Test func shortConnectionsThroughTheVIPReachBothBackendsAndRepliesBypassTheBalancer() throws {
        let started = Date()
        let net = try topology()
        let config = try writeConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try net.backends.enumerated().map { index, backend in
            try lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80))
        }
        defer { servers.forEach { if $0.isRunning { $0.process.terminate() } } }
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-e2e-\(UUID().uuidString).pcap")
        defer { try? FileManager.default.removeItem(at: capture) }
        let tcpdump = try lab.start(net.balancer, ["tcpdump", "-i", "lb0", "-n", "-U", "-w", capture.path, "tcp"])
        let daemon = try lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "2"])
        defer { if daemon.isRunning { daemon.process.terminate(); waitForExit(daemon) } }
        try waitUntilRunning(daemon)
        #expect(try lab.exec(net.balancer, ["nft", "list", "tables"]).contains("netdev dromos"))

        let output = try lab.exec(net.client, Services.shortConnections(host: Self.vip, port: 80, count: 200), timeout: 120)
        let result = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
        print("short connections: \(output)")
        let answers = result["answers"] as? [String: Int] ?? [:]
        let failures = result["failures"] as? [String] ?? []
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(answers.values.reduce(0, +) == 200, "\(answers)")
        #expect((answers["s1"] ?? 0) > 0 && (answers["s2"] ?? 0) > 0, "both backends answer: \(answers)")

        // SIGHUP with a broken config: rejected, logged, and the running table keeps forwarding.
        _ = try writeConfig(to: config, scheduler: "fastest")
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(waitForLog(daemon, "still running table generation 1"), "a bad config is rejected")
        let during = try connections(net.client, count: 20)
        #expect(during.failures.isEmpty && during.answers.values.reduce(0, +) == 20, "\(during)")
        // SIGHUP with s1 alone: new connections all reach s1.
        _ = try writeConfig(to: config, backends: [0])
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(waitForLog(daemon, "reloaded: table generation 2"))
        let after = try connections(net.client, count: 40)
        #expect(after.failures.isEmpty && after.answers == ["s1": 40], "\(after)")
        _ = try writeConfig(to: config)
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(waitForLog(daemon, "reloaded: table generation 3"))

        // A 20 MiB upload through the VIP arrives whole (the server checks every byte).
        let upload = try lab.exec(net.client, Services.upload(host: Self.vip, port: 80, size: 20 << 20), timeout: 120)
        print("upload: \(upload)")
        #expect(upload.hasSuffix("\(20 << 20) ok\n") || upload.contains(" \(20 << 20) ok"), "\(upload)")

        // SIGTERM: a clean stop, exit 0, and our nft table is gone.
        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(waitForExit(daemon), "dromos run did not stop on SIGTERM")
        let log = (try? String(contentsOf: daemon.errors, encoding: .utf8)) ?? ""
        #expect(daemon.process.terminationStatus == 0, "\(log)")
        #expect(log.contains("removed nftables table"), "\(log)")
        #expect(!(try lab.exec(net.balancer, ["nft", "list", "tables"]).contains("dromos")))

        // Direct server return: the balancer's interface carried client→VIP frames (in, and out again
        // rewritten) and not one VIP→client frame.
        tcpdump.process.terminate()
        waitForExit(tcpdump)
        print("dromos run log:\n\(log)")
        let toVIP = try NetworkLab.run(["tcpdump", "-r", capture.path, "-n", "dst host \(Self.vip)"])
        let fromVIP = try NetworkLab.run(["tcpdump", "-r", capture.path, "-n", "src host \(Self.vip)"])
        let toCount = toVIP.split(separator: "\n").count
        let fromCount = fromVIP.split(separator: "\n").count
        #expect(toCount >= 200 * 3, "client→VIP frames seen on the balancer: \(toCount)")
        #expect(fromCount == 0, "VIP→client frames seen on the balancer: \(fromCount)")
        print("daemon end-to-end: \(answers), \(toCount) client→VIP frames and \(fromCount) VIP→client frames on lb0, "
              + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// The same with an IPv6 VIP (VIP /128 on the backends' lo; the client routes it via the balancer).
    @Test func ipv6VIPConnectionsReachBothBackendsAndRepliesBypassTheBalancer() throws {
        let started = Date()
        let net = try topology(ipv6: true)
        let config = try writeConfig(ipv6: true)
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try net.backends.enumerated().map { index, backend in
            try lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80, ipv6: true))
        }
        defer { servers.forEach { if $0.isRunning { $0.process.terminate() } } }
        let capture = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-e2e-\(UUID().uuidString).pcap")
        defer { try? FileManager.default.removeItem(at: capture) }
        let tcpdump = try lab.start(net.balancer, ["tcpdump", "-i", "lb0", "-n", "-U", "-w", capture.path, "tcp"])
        let daemon = try lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "2"])
        defer { if daemon.isRunning { daemon.process.terminate(); waitForExit(daemon) } }
        try waitUntilRunning(daemon)

        let result = try connections(net.client, count: 100, host: Self.vip6)
        #expect(result.failures.isEmpty, "\(result.failures.prefix(5))")
        #expect(result.answers.values.reduce(0, +) == 100, "\(result.answers)")
        #expect((result.answers["s1"] ?? 0) > 0 && (result.answers["s2"] ?? 0) > 0, "\(result.answers)")

        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(waitForExit(daemon), "dromos run did not stop on SIGTERM")
        let log = (try? String(contentsOf: daemon.errors, encoding: .utf8)) ?? ""
        #expect(daemon.process.terminationStatus == 0, "\(log)")
        #expect(!(try lab.exec(net.balancer, ["nft", "list", "tables"]).contains("dromos")))
        tcpdump.process.terminate()
        waitForExit(tcpdump)
        let toCount = try NetworkLab.run(["tcpdump", "-r", capture.path, "-n", "dst host \(Self.vip6)"]).split(separator: "\n").count
        let fromCount = try NetworkLab.run(["tcpdump", "-r", capture.path, "-n", "src host \(Self.vip6)"]).split(separator: "\n").count
        #expect(toCount >= 100 * 3, "client→VIP frames seen on the balancer: \(toCount)")
        #expect(fromCount == 0, "VIP→client frames seen on the balancer: \(fromCount)")
        print("daemon end-to-end (IPv6): \(result.answers), \(toCount) client→VIP and \(fromCount) VIP→client frames on lb0, "
              + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}
