import DromosLab
import Foundation
import Glibc
import Testing

/// `dromos run` with backends that have no static `mac`: Dromos finds them through the balancer's
/// neighbor table, and follows a backend whose MAC changes. The backends are prepared with
/// `dromos backend setup`, not by hand.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class NeighborEndToEndTests: DaemonLabTest {
    let lab = NetworkLab()

    /// Client, balancer and two backends on one bridge (`DaemonLab`), the balancer with short neighbor
    /// timers. `routeViaBalancer`: the client routes the VIP via the balancer's address; otherwise the VIP
    /// is on-link for the client, which then asks the wire who has it. `prepareBackends`: the VIP goes on
    /// the backends' lo by `dromos backend setup`; otherwise by hand, with ARP as the kernel has it by default.
    func topology(routeViaBalancer: Bool, prepareBackends: Bool = true, ipv6: Bool = false) async throws -> Topology {
        try await topology(ipv6: ipv6, route: routeViaBalancer ? .viaBalancer : .onLink,
                           backendVIP: prepareBackends ? .dromosSetup : .kernelDefaults,
                           shortNeighborTimers: true)
    }

    func writeConfig(to existing: URL? = nil, announce: Bool = false, ipv6: Bool = false) throws -> URL {
        let url = existing ?? Self.temporaryFile("yaml")
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

    /// Who answers ARP for the VIP on the client's link: the MACs in the replies the client saw while it
    /// resolved the VIP (captured on its interface).
    func arpAnswers(_ client: String) async throws -> Set<String> {
        let capture = try await lab.start(client, ["tcpdump", "-i", "c0", "-n", "-l", "arp"])
        guard await waitForText("listening on", in: capture.errors) else {
            throw LabError(description: "tcpdump on c0 did not start: \(capture.standardError)")
        }
        _ = try? await lab.exec(client, ["ip", "neigh", "flush", "to", Self.vip])
        _ = try? await lab.exec(client, ["timeout", "2", "bash", "-c", "exec 3<>/dev/tcp/\(Self.vip)/80"], timeout: 10)
        // Every host that answers does so at the request; the bridge may still be delivering the last reply.
        try await Task.sleep(for: .milliseconds(500))
        await capture.stop()
        let text = capture.standardOutput
        // "ARP, Reply 203.0.113.10 is-at 02:00:00:00:00:02, length 28"
        return Set(text.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("Reply \(Self.vip) is-at ") else { return nil }
            return line.components(separatedBy: "is-at ").last?.split(separator: ",").first.map(String.init)
        })
    }

    /// The whole issue in one lab: the client's VIP is on-link (no route), so it asks the wire; Dromos
    /// answers for it (`announce: arp`) and the backends, prepared with `dromos backend setup`, stay
    /// silent. Connections work with MACs Dromos resolved, and again after a backend's MAC changed.
    @Test func connectionsWorkWithMACsResolvedByDromosAlsoAfterABackendsMACChanges() async throws {
        let net = try await topology(routeViaBalancer: false)
        let config = try writeConfig(announce: true)
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80))
        }
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "2"])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        #expect(await waitForLog(daemon, "backend 198.18.0.11 resolved to \(Self.backendMACs[0]) on lb0"), "\(log(of: daemon))")
        #expect(await waitForLog(daemon, "backend 198.18.0.12 resolved to \(Self.backendMACs[1]) on lb0"), "\(log(of: daemon))")
        #expect(await waitForLog(daemon, "announced \(Self.vip) at \(Self.balancerMAC) on lb0 (gratuitous ARP)"), "\(log(of: daemon))")
        #expect(try await arpAnswers(net.client) == [Self.balancerMAC])

        let before = try await connections(net.client, count: 40, host: Self.vip)
        #expect(before.failures.isEmpty, "\(before.failures.prefix(3))")
        #expect(before.answers.values.reduce(0, +) == 40 && before.answers.count == 2, "both backends answer: \(before.answers)")

        // The backend is "replaced": same address, new MAC. Dromos must follow without a reload.
        let newMAC = "02:00:00:00:03:31"
        try await lab.exec(net.backends[0], ["ip", "link", "set", "dev", "s0", "address", newMAC])
        // The kernel's re-probe to the old MAC fails (the entry goes FAILED, the backend takes no new flows),
        // then Dromos has it ask again by broadcast; or the kernel learns the new MAC directly.
        let changed = ContinuousClock.now
        _ = await waitUntil(seconds: 60) {
            log(of: daemon).contains("backend 198.18.0.11 moved from \(Self.backendMACs[0]) to \(newMAC)")
                || log(of: daemon).contains("backend 198.18.0.11 resolved to \(newMAC)")
        }
        #expect(log(of: daemon).contains("to \(newMAC)"), "\(log(of: daemon))")
        print("backend MAC change picked up after \(ContinuousClock.now - changed)")
        let after = try await connections(net.client, count: 40, host: Self.vip)
        #expect(after.failures.isEmpty, "\(after.failures.prefix(3))")
        #expect(after.answers.values.reduce(0, +) == 40 && after.answers.count == 2, "both backends answer: \(after.answers)")

        daemon.signal(SIGTERM)
        #expect(await waitForExit(daemon))
        #expect(log(of: daemon).contains("replied "), "\(log(of: daemon))")
        #expect(!log(of: daemon).contains("replied 0"), "\(log(of: daemon))")
        #expect(daemon.terminationStatus == 0, "\(log(of: daemon))")
        print("dromos run log (neighbor resolution):\n\(log(of: daemon))")
    }

    /// Why backends need `dromos backend setup`: with the VIP on their lo and the kernel's default ARP
    /// settings, every backend answers ARP for the VIP too, so the client's cache holds whichever answer
    /// came last and its traffic bypasses the balancer.
    @Test func withoutBackendSetupMoreThanOneHostAnswersForTheVIP() async throws {
        let net = try await topology(routeViaBalancer: false, prepareBackends: false)
        let config = try writeConfig(announce: true)
        defer { try? FileManager.default.removeItem(at: config) }
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        let answers = try await arpAnswers(net.client)
        #expect(answers.count == 3, "ARP replies for the VIP came from \(answers.sorted())")
        #expect(answers.isSuperset(of: [Self.balancerMAC] + Self.backendMACs.prefix(2)), "\(answers.sorted())")
        print("without backend setup, ARP for \(Self.vip) was answered by \(answers.sorted())")
    }

    /// IPv6: the client's neighbor solicitation for the on-link VIP is answered by the balancer, whose MAC
    /// the client then caches; Dromos resolves the backends by NDP; connections reach both backends.
    @Test func ipv6VIPIsAnsweredByTheBalancerAndBackendsAreResolvedByNDP() async throws {
        let net = try await topology(routeViaBalancer: false, ipv6: true)
        let config = try writeConfig(announce: true, ipv6: true)
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80, ipv6: true))
        }
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        #expect(await waitForLog(daemon, "backend 2001:db8:18::12 resolved to \(Self.backendMACs[1]) on lb0"), "\(log(of: daemon))")
        #expect(await waitForLog(daemon, "backend 2001:db8:18::11 resolved to \(Self.backendMACs[0]) on lb0"), "\(log(of: daemon))")
        #expect(await waitForLog(daemon, "announced \(Self.vip6) at \(Self.balancerMAC) on lb0 (unsolicited neighbor advertisement)"))

        let result = try await connections(net.client, count: 20, host: Self.vip6)
        #expect(result.failures.isEmpty, "\(result.failures.prefix(3))")
        #expect(result.answers.values.reduce(0, +) == 20 && result.answers.count == 2, "both backends answer: \(result.answers)")
        let entry = try await lab.exec(net.client, ["ip", "-6", "neigh", "show", Self.vip6])
        #expect(entry.contains("lladdr \(Self.balancerMAC)"), "the client's entry for the VIP: \(entry)")

        // After a failover the operator has the balancer announce again.
        let announced = try await lab.exec(net.balancer, [Self.dromos, "ctl", "vip", "announce", "--socket", config.path + ".sock"])
        #expect(announced == "announced \(Self.vip) at \(Self.balancerMAC) on lb0 (gratuitous ARP)\n"
                + "announced \(Self.vip6) at \(Self.balancerMAC) on lb0 (unsolicited neighbor advertisement)\n", "\(announced)")
        daemon.signal(SIGTERM)
        #expect(await waitForExit(daemon))
        #expect(!log(of: daemon).contains("replied 0"), "\(log(of: daemon))")
    }

    /// Without `announce` nobody claims the on-link VIP (the backends ran setup); a reload that adds it
    /// makes Dromos announce the VIP and answer for it, with no restart.
    @Test func aReloadThatAddsAnnounceClaimsTheVIP() async throws {
        let net = try await topology(routeViaBalancer: false)
        let config = try writeConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        #expect(try await arpAnswers(net.client).isEmpty)
        #expect(!log(of: daemon).contains("announced"))

        _ = try writeConfig(to: config, announce: true)
        daemon.signal(SIGHUP)
        #expect(await waitForLog(daemon, "announced \(Self.vip) at \(Self.balancerMAC) on lb0 (gratuitous ARP)"), "\(log(of: daemon))")
        #expect(try await arpAnswers(net.client) == [Self.balancerMAC])
    }
}
