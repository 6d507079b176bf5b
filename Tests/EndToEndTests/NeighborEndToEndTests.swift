import Foundation
import Glibc
import Testing

/// `dromos run` with backends that have no static `mac`: Dromos finds them through the balancer's
/// neighbor table, and follows a backend whose MAC changes. The backends are prepared with
/// `dromos backend setup`, not by hand.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class NeighborEndToEndTests {
    let lab = NetworkLab()
    /// For its wait and connection helpers; its own lab stays empty.
    let daemonTests = DaemonEndToEndTests()
    static let vip = "203.0.113.30"
    static let vip6 = "2001:db8:ffff::30"
    static let balancerMAC = "02:00:00:00:03:02"
    static let backendMACs = ["02:00:00:00:03:11", "02:00:00:00:03:12"]
    var stateFiles: [String] = []

    deinit {
        stateFiles.forEach { try? FileManager.default.removeItem(atPath: $0) }
    }

    struct Topology {
        var client: String
        var balancer: String
        var backends: [String]
    }

    /// Client, balancer and two backends on one bridge, all in 198.18.0.0/24. `routeViaBalancer`: the
    /// client routes the VIP via the balancer's address; otherwise the VIP is on-link for the client,
    /// which then asks the wire who has it. `prepareBackends`: the VIP goes on the backends' lo by
    /// `dromos backend setup`; otherwise by hand, with ARP as the kernel has it by default.
    /// `ipv6`: the same in 2001:db8:18::/64 too, with an IPv6 VIP beside the IPv4 one.
    func topology(routeViaBalancer: Bool, prepareBackends: Bool = true, ipv6: Bool = false) throws -> Topology {
        let bridge = try lab.namespace("nbr")
        try lab.exec(bridge, ["ip", "link", "add", "br0", "type", "bridge"])
        try lab.exec(bridge, ["ip", "link", "set", "br0", "up"])
        let client = try lab.namespace("ncl", ipv6: ipv6)
        let balancer = try lab.namespace("nlb", ipv6: ipv6)
        let backends = [try lab.namespace("ns1", ipv6: ipv6), try lab.namespace("ns2", ipv6: ipv6)]
        func attach(_ namespace: String, _ inside: String, _ port: String, mac: String?, address: String) throws {
            try lab.veth(inside, in: namespace, port, in: bridge, firstMAC: mac)
            try lab.exec(bridge, ["ip", "link", "set", port, "master", "br0"])
            try lab.exec(namespace, ["ip", "addr", "add", address, "dev", inside])
            if ipv6 {
                let host = address.split(separator: "/")[0].split(separator: ".")[3]
                try lab.exec(namespace, ["ip", "-6", "addr", "add", "2001:db8:18::\(host)/64", "dev", inside, "nodad"])
            }
        }
        try attach(client, "c0", "pcl", mac: nil, address: "198.18.0.1/24")
        try attach(balancer, "lb0", "plb", mac: Self.balancerMAC, address: "198.18.0.2/24")
        // Short neighbor timers, so a changed MAC is noticed in seconds rather than the default minute:
        // a reachable entry turns stale after ~1 s, and a stale one is re-probed after 1 s.
        try lab.exec(balancer, ["sysctl", "-qw", "net.ipv4.neigh.lb0.base_reachable_time_ms=1000",
                                "net.ipv4.neigh.lb0.delay_first_probe_time=1"])
        for (index, backend) in backends.enumerated() {
            try attach(backend, "s0", "ps\(index + 1)", mac: Self.backendMACs[index], address: "198.18.0.\(11 + index)/24")
            if prepareBackends {
                let state = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-nb-\(UUID().uuidString).yaml").path
                stateFiles.append(state)
                try lab.exec(backend, [DaemonEndToEndTests.dromos, "backend", "setup", "--vip", Self.vip, "--state", state]
                             + (ipv6 ? ["--vip", Self.vip6] : []))
            } else {
                try lab.exec(backend, ["ip", "addr", "add", "\(Self.vip)/32", "dev", "lo"])
            }
        }
        if routeViaBalancer {
            try lab.exec(client, ["ip", "route", "add", "\(Self.vip)/32", "via", "198.18.0.2"])
        } else {
            try lab.exec(client, ["ip", "route", "add", "\(Self.vip)/32", "dev", "c0"])
            if ipv6 { try lab.exec(client, ["ip", "-6", "route", "add", "\(Self.vip6)/128", "dev", "c0"]) }
        }
        return Topology(client: client, balancer: balancer, backends: backends)
    }

    func writeConfig(to existing: URL? = nil, announce: Bool = false, ipv6: Bool = false) throws -> URL {
        let url = existing ?? FileManager.default.temporaryDirectory.appendingPathComponent("dromos-nb-\(UUID().uuidString).yaml")
        // A control socket of its own: the default one in /run is shared with every other daemon on the host.
        let yaml = """
            interface: lb0
            control: { socket: \(url.path).sock }
            services:
              - name: web
                vip: \(Self.vip)
            \(announce ? "    announce: arp\n" : "")    port: 80
                protocol: tcp
                scheduler: rr
                backends:
                  - { address: 198.18.0.11 }
                  - { address: 198.18.0.12 }

            """ + (ipv6 ? """
              - name: web6
                vip: "\(Self.vip6)"
                announce: arp
                port: 80
                protocol: tcp
                scheduler: rr
                backends:
                  - { address: "2001:db8:18::11" }
                  - { address: "2001:db8:18::12" }

            """ : "")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func log(_ daemon: RunningCommand) -> String { (try? String(contentsOf: daemon.errors, encoding: .utf8)) ?? "" }

    /// Who answers ARP for the VIP on the client's link: the MACs in the replies the client saw while it
    /// resolved the VIP (captured on its interface).
    func arpAnswers(_ client: String) throws -> Set<String> {
        let capture = try lab.start(client, ["timeout", "4", "tcpdump", "-i", "c0", "-n", "-l", "arp"])
        usleep(1_000_000)
        _ = try? lab.exec(client, ["ip", "neigh", "flush", "to", Self.vip])
        _ = try? lab.exec(client, ["timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/\(Self.vip)/80"], timeout: 10)
        let deadline = Date().addingTimeInterval(10)
        while capture.isRunning && Date() < deadline { usleep(20_000) }
        let text = (try? String(contentsOf: capture.output, encoding: .utf8)) ?? ""
        // "ARP, Reply 203.0.113.30 is-at 02:00:00:00:03:02, length 28"
        return Set(text.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("Reply \(Self.vip) is-at ") else { return nil }
            return line.components(separatedBy: "is-at ").last?.split(separator: ",").first.map(String.init)
        })
    }

    /// The whole issue in one lab: the client's VIP is on-link (no route), so it asks the wire; Dromos
    /// answers for it (`announce: arp`) and the backends, prepared with `dromos backend setup`, stay
    /// silent. Connections work with MACs Dromos resolved, and again after a backend's MAC changed.
    @Test func connectionsWorkWithMACsResolvedByDromosAlsoAfterABackendsMACChanges() throws {
        let net = try topology(routeViaBalancer: false)
        let config = try writeConfig(announce: true)
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try net.backends.enumerated().map { index, backend in
            try lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80))
        }
        defer { servers.forEach { if $0.isRunning { $0.process.terminate() } } }
        let daemon = try lab.start(net.balancer, [DaemonEndToEndTests.dromos, "run", "--config", config.path, "--workers", "2"])
        defer { if daemon.isRunning { daemon.process.terminate(); daemonTests.waitForExit(daemon) } }
        try daemonTests.waitUntilRunning(daemon)
        #expect(log(daemon).contains("backend 198.18.0.11 resolved to \(Self.backendMACs[0]) on lb0"), "\(log(daemon))")
        #expect(log(daemon).contains("backend 198.18.0.12 resolved to \(Self.backendMACs[1]) on lb0"), "\(log(daemon))")
        #expect(log(daemon).contains("announced \(Self.vip) at \(Self.balancerMAC) on lb0 (gratuitous ARP)"), "\(log(daemon))")
        #expect(try arpAnswers(net.client) == [Self.balancerMAC])

        let before = try daemonTests.connections(net.client, count: 40, host: Self.vip)
        #expect(before.failures.isEmpty, "\(before.failures.prefix(3))")
        #expect(before.answers.values.reduce(0, +) == 40 && before.answers.count == 2, "both backends answer: \(before.answers)")

        // The backend is "replaced": same address, new MAC. Dromos must follow without a reload.
        let newMAC = "02:00:00:00:03:31"
        try lab.exec(net.backends[0], ["ip", "link", "set", "dev", "s0", "address", newMAC])
        // The kernel's re-probe to the old MAC fails (the entry goes FAILED, the backend takes no new flows),
        // then Dromos has it ask again by broadcast; or the kernel learns the new MAC directly.
        let changed = Date()
        let deadline = changed.addingTimeInterval(60)
        while Date() < deadline && !log(daemon).contains("backend 198.18.0.11 moved from \(Self.backendMACs[0]) to \(newMAC)")
                && !log(daemon).contains("backend 198.18.0.11 resolved to \(newMAC)") {
            usleep(50_000)
        }
        #expect(log(daemon).contains("to \(newMAC)"), "\(log(daemon))")
        print("backend MAC change picked up after \(String(format: "%.1f", Date().timeIntervalSince(changed))) s")
        let after = try daemonTests.connections(net.client, count: 40, host: Self.vip)
        #expect(after.failures.isEmpty, "\(after.failures.prefix(3))")
        #expect(after.answers.values.reduce(0, +) == 40 && after.answers.count == 2, "both backends answer: \(after.answers)")

        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(daemonTests.waitForExit(daemon))
        #expect(log(daemon).contains("replied "), "\(log(daemon))")
        #expect(!log(daemon).contains("replied 0"), "\(log(daemon))")
        #expect(daemon.process.terminationStatus == 0, "\(log(daemon))")
        print("dromos run log (neighbor resolution):\n\(log(daemon))")
    }

    /// Why backends need `dromos backend setup`: with the VIP on their lo and the kernel's default ARP
    /// settings, every backend answers ARP for the VIP too, so the client's cache holds whichever answer
    /// came last and its traffic bypasses the balancer.
    @Test func withoutBackendSetupMoreThanOneHostAnswersForTheVIP() throws {
        let net = try topology(routeViaBalancer: false, prepareBackends: false)
        let config = try writeConfig(announce: true)
        defer { try? FileManager.default.removeItem(at: config) }
        let daemon = try lab.start(net.balancer, [DaemonEndToEndTests.dromos, "run", "--config", config.path])
        defer { if daemon.isRunning { daemon.process.terminate(); daemonTests.waitForExit(daemon) } }
        try daemonTests.waitUntilRunning(daemon)
        let answers = try arpAnswers(net.client)
        #expect(answers.count == 3, "ARP replies for the VIP came from \(answers.sorted())")
        #expect(answers.isSuperset(of: [Self.balancerMAC] + Self.backendMACs), "\(answers.sorted())")
        print("without backend setup, ARP for \(Self.vip) was answered by \(answers.sorted())")
    }

    /// IPv6: the client's neighbor solicitation for the on-link VIP is answered by the balancer, whose MAC
    /// the client then caches; Dromos resolves the backends by NDP; connections reach both backends.
    @Test func ipv6VIPIsAnsweredByTheBalancerAndBackendsAreResolvedByNDP() throws {
        let net = try topology(routeViaBalancer: false, ipv6: true)
        let config = try writeConfig(announce: true, ipv6: true)
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try net.backends.enumerated().map { index, backend in
            try lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80, ipv6: true))
        }
        defer { servers.forEach { if $0.isRunning { $0.process.terminate() } } }
        let daemon = try lab.start(net.balancer, [DaemonEndToEndTests.dromos, "run", "--config", config.path])
        defer { if daemon.isRunning { daemon.process.terminate(); daemonTests.waitForExit(daemon) } }
        try daemonTests.waitUntilRunning(daemon)
        #expect(daemonTests.waitForLog(daemon, "backend 2001:db8:18::12 resolved to \(Self.backendMACs[1]) on lb0", seconds: 10), "\(log(daemon))")
        #expect(log(daemon).contains("backend 2001:db8:18::11 resolved to \(Self.backendMACs[0]) on lb0"), "\(log(daemon))")
        #expect(log(daemon).contains("announced \(Self.vip6) at \(Self.balancerMAC) on lb0 (unsolicited neighbor advertisement)"))

        let result = try daemonTests.connections(net.client, count: 20, host: Self.vip6)
        #expect(result.failures.isEmpty, "\(result.failures.prefix(3))")
        #expect(result.answers.values.reduce(0, +) == 20 && result.answers.count == 2, "both backends answer: \(result.answers)")
        let entry = try lab.exec(net.client, ["ip", "-6", "neigh", "show", Self.vip6])
        #expect(entry.contains("lladdr \(Self.balancerMAC)"), "the client's entry for the VIP: \(entry)")

        // After a failover the operator has the balancer announce again.
        let announced = try lab.exec(net.balancer, [DaemonEndToEndTests.dromos, "ctl", "vip", "announce", "--socket", config.path + ".sock"])
        #expect(announced == "announced \(Self.vip) at \(Self.balancerMAC) on lb0 (gratuitous ARP)\n"
                + "announced \(Self.vip6) at \(Self.balancerMAC) on lb0 (unsolicited neighbor advertisement)\n", "\(announced)")
        kill(daemon.process.processIdentifier, SIGTERM)
        #expect(daemonTests.waitForExit(daemon))
        #expect(!log(daemon).contains("replied 0"), "\(log(daemon))")
    }

    /// Without `announce` nobody claims the on-link VIP (the backends ran setup); a reload that adds it
    /// makes Dromos announce the VIP and answer for it, with no restart.
    @Test func aReloadThatAddsAnnounceClaimsTheVIP() throws {
        let net = try topology(routeViaBalancer: false)
        let config = try writeConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let daemon = try lab.start(net.balancer, [DaemonEndToEndTests.dromos, "run", "--config", config.path])
        defer { if daemon.isRunning { daemon.process.terminate(); daemonTests.waitForExit(daemon) } }
        try daemonTests.waitUntilRunning(daemon)
        #expect(try arpAnswers(net.client).isEmpty)
        #expect(!log(daemon).contains("announced"))

        _ = try writeConfig(to: config, announce: true)
        kill(daemon.process.processIdentifier, SIGHUP)
        #expect(daemonTests.waitForLog(daemon, "announced \(Self.vip) at \(Self.balancerMAC) on lb0 (gratuitous ARP)"), "\(log(daemon))")
        #expect(try arpAnswers(net.client) == [Self.balancerMAC])
    }
}
