import DromosLab
import Foundation
import Glibc
import Testing

/// Two `dromos run` instances behind a router that learns the VIPs from them over BGP (BIRD 2 on all
/// three, configured from examples/bird/) and spreads flows by ECMP over the 5-tuple, in tools/lab.sh's
/// `--router --balancers 2` lab:
///
///   client c0 198.18.1.1 ── rc0 198.18.1.254  router  r0 198.18.0.254 ── br0 ── lb1 198.18.0.2, lb2 198.18.0.3,
///                                                                              s1..s3 198.18.0.11-13
///
/// Long-lived connections must survive one instance stopping and coming back: the router moves their
/// flows to the other instance, which has no state for them and must pick the same backend (Maglev).
@Suite(.serialized, .enabled(if: NetworkLab.isRoot && BIRD.isInstalled,
                             Comment(rawValue: "needs root and BIRD 2 (bird2, which tools/setup.sh installs); skipped")))
final class ScaleOutEndToEndTests: DaemonLabTest {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/bird")
    static let soloVIP = "203.0.113.11"
    static let balancerAddresses = ["198.18.0.2", "198.18.0.3"]

    let lab = NetworkLab()
    /// The lab's own directory (tools/lab.sh made it; the lab removes it): configs, sockets, BIRD's files.
    var directory: URL { lab.filesDirectory() }

    struct Net {
        var router: String
        var client: String
        var balancers: [String]
        var backends: [String]
    }

    /// tools/lab.sh's scale-out lab: the client behind a router, two balancers, three backends (hand-made
    /// VIPs on lo, the second VIP added here), IPv4 only.
    func build() async throws -> Net {
        let name = try await LabScript.up(lab, arguments: ["3", "--router", "--balancers", "2", "--no-servers", "--backend-vip", "hand",
                                                           "--ipv4-only"], dromos: Self.dromos)
        let backends = (1...3).map { "\(name)-s\($0)" }
        for backend in backends { try await lab.exec(backend, ["ip", "addr", "add", "\(Self.soloVIP)/32", "dev", "lo"]) }
        return Net(router: "\(name)-router", client: "\(name)-client", balancers: ["\(name)-lb1", "\(name)-lb2"], backends: backends)
    }

    /// The example configs, with this balancer's address and logging to standard error.
    func startBIRD(_ namespace: String, example: String, address: String?) async throws -> RunningCommand {
        var text = try String(contentsOf: Self.examples.appendingPathComponent(example), encoding: .utf8)
            .replacingOccurrences(of: "log syslog all;", with: "log stderr all;")
        if let address { text = text.replacingOccurrences(of: "198.18.0.2 ", with: "\(address) ").replacingOccurrences(of: "198.18.0.2;", with: "\(address);") }
        let stem = directory.appendingPathComponent("bird-\(namespace.split(separator: "-").last!)")
        try text.write(to: stem.appendingPathExtension("conf"), atomically: true, encoding: .utf8)
        return try await lab.start(namespace, [BIRD.executable, "-f", "-c", stem.appendingPathExtension("conf").path,
                                               "-s", stem.appendingPathExtension("ctl").path, "-P", stem.appendingPathExtension("pid").path])
    }

    func writeBalancerConfig(_ index: Int) throws -> URL {
        let backends = (0..<3).map { "      - { address: \(DaemonLabAddresses.backendAddress($0)), mac: \"\(Self.backendMACs[$0])\" }" }
        func service(_ name: String, vip: String, port: Int, health: String, backends: [String]) -> String {
            """
              - name: \(name)
                vip: \(vip)
                port: \(port)
                protocol: tcp
                scheduler: maglev
                health: \(health)
                backends:
            \(backends.joined(separator: "\n"))
            """
        }
        let config = directory.appendingPathComponent("lb\(index + 1).yaml")
        try ("""
            interface: lb0
            control: { socket: \(directory.appendingPathComponent("lb\(index + 1).sock").path) }
            advertise: { table: 100, stop_delay: 5s }
            services:

            """
            + service("echo", vip: Self.vip, port: 7, health: "{ type: tcp, port: 7, interval: 2s, timeout: 1500ms, rise: 1, fall: 3 }",
                      backends: backends) + "\n"
            + service("solo", vip: Self.soloVIP, port: 8080, health: "{ type: tcp, port: 8080, interval: 500ms, timeout: 400ms, rise: 1, fall: 2 }",
                      backends: [backends[2]]) + "\n")
            .write(to: config, atomically: true, encoding: .utf8)
        return config
    }

    /// The router's next hops for `vip`, from its kernel table (empty: no route).
    func nextHops(_ net: Net, _ vip: String) async throws -> Set<String> {
        let text = try await lab.exec(net.router, ["ip", "-4", "route", "show", vip])
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        return Set(zip(words, words.dropFirst()).filter { $0.0 == "via" }.map { String($0.1) })
    }

    /// Polls every 10 ms; returns the seconds it took, nil when `seconds` passed first.
    func timeUntil(_ net: Net, _ vip: String, hops: Set<String>, seconds: Double) async -> Double? {
        let start = ContinuousClock.now
        let reached = await waitUntil(seconds: seconds, every: .milliseconds(10)) { (try? await self.nextHops(net, vip)) == hops }
        let elapsed = ContinuousClock.now - start
        return reached ? Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18 : nil
    }

    func startDromos(_ net: Net, _ index: Int, _ config: URL) async throws -> RunningCommand {
        let daemon = try await lab.start(net.balancers[index], [Self.dromos, "run", "--config", config.path, "--workers", "1"])
        try await waitUntilRunning(daemon)
        return daemon
    }

    func forwarded(_ config: URL) async throws -> Int {
        let stats = try await LabCommand.run([Self.dromos, "ctl", "stats", "--config", config.path, "--json"])
        let object = try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any]
        return (object?["totals"] as? [String: Any])?["forwarded"] as? Int ?? -1
    }

    @Test func connectionsSurviveAnInstanceStoppingAndComingBack() async throws {
        let net = try await build()
        var servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.lineNameServer(name: "s\(index + 1)", port: 7))
        }
        let solo = try await lab.start(net.backends[2], Services.lineNameServer(name: "s3-solo", port: 8080))
        servers.append(solo)
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        for server in servers { #expect(await waitForText("listening", in: server.output)) }

        let routerBIRD = try await startBIRD(net.router, example: "router.conf", address: nil)
        var birds = [routerBIRD]
        for (index, balancer) in net.balancers.enumerated() {
            birds.append(try await startBIRD(balancer, example: "balancer.conf", address: Self.balancerAddresses[index]))
        }
        defer { birds.forEach { if $0.isRunning { $0.terminate() } } }
        let configs = try (0..<2).map(writeBalancerConfig)
        let first = try await startDromos(net, 0, configs[0])
        defer { if first.isRunning { first.terminate() } }
        let second = try await startDromos(net, 1, configs[1])
        defer { if second.isRunning { second.terminate() } }
        let both = Set(Self.balancerAddresses)
        let learned = await timeUntil(net, Self.vip, hops: both, seconds: 60)
        let hops = try await nextHops(net, Self.vip)
        try #require(learned != nil, "the router learns the VIP from both instances: \(hops); router BIRD: \(routerBIRD.standardError)")
        #expect(try await nextHops(net, Self.soloVIP) == both)

        // 60 long-lived connections, over both instances.
        let client = try await lab.start(net.client, Services.longLivedConnections(host: Self.vip, port: 7, count: 60, seconds: 300, timeout: 15))
        defer { if client.isRunning { client.terminate() } }
        #expect(await waitForText("connected", in: client.output, seconds: 30), "\(client.standardError)")
        try await Task.sleep(for: .seconds(2))
        let beforeStop = try await [forwarded(configs[0]), forwarded(configs[1])]
        #expect(beforeStop.allSatisfy { $0 > 0 }, "the router spreads the connections over both instances: \(beforeStop)")

        // SIGTERM the first: its route goes, the router's loses that next hop while the instance still
        // forwards (stop_delay 5 s): nothing routed to it before the router learned is lost. The checks are
        // slow and patient (2 s, 1.5 s timeout, fall 3): on a loaded machine a fast check flaps, and a
        // backend that flaps moves flows.
        first.signal(SIGTERM)
        let withdrawn = await timeUntil(net, Self.vip, hops: [Self.balancerAddresses[1]], seconds: 10)
        let stillForwarding = !log(of: first).contains("stopping: the workers drain")
        #expect(withdrawn != nil && stillForwarding,
                "the router drops the stopped instance before it stops forwarding: \(withdrawn.map { "\($0) s" } ?? "not in 10 s"); \(log(of: first))")
        let fresh = try await lab.exec(net.client, Services.shortConnections(host: Self.vip, port: 7, count: 40), timeout: 120)
        let freshResult = try JSONSerialization.jsonObject(with: Data(fresh.utf8)) as? [String: Any] ?? [:]
        #expect((freshResult["failures"] as? [String])?.isEmpty == true, "new connections all succeed: \(fresh)")
        #expect(await waitForExit(first), "\(log(of: first))")
        #expect(first.terminationStatus == 0, "\(log(of: first))")

        // Back again: advertised at once (the BGP session never went down), flows spread again.
        let restarted = try await startDromos(net, 0, configs[0])
        defer { if restarted.isRunning { restarted.terminate() } }
        let readvertised = await timeUntil(net, Self.vip, hops: both, seconds: 60)
        let hopsAfterRestart = try await nextHops(net, Self.vip)
        #expect(readvertised != nil, "re-advertised: \(hopsAfterRestart)")
        try await Task.sleep(for: .seconds(3))
        #expect(try await forwarded(configs[0]) > 0, "the restarted instance carries flows again")

        // The last healthy backend of the solo VIP goes down: each instance withdraws that VIP, the other stays.
        solo.terminate()
        let soloGone = await timeUntil(net, Self.soloVIP, hops: [], seconds: 30)
        let soloHops = try await nextHops(net, Self.soloVIP)
        #expect(soloGone != nil, "the solo VIP is withdrawn: \(soloHops)")
        for balancer in net.balancers {
            #expect(try await lab.exec(balancer, ["ip", "route", "show", "table", "100"]).contains(Self.vip + " dev lb0"))
            #expect(!(try await lab.exec(balancer, ["ip", "route", "show", "table", "100"]).contains(Self.soloVIP)))
        }
        #expect(log(of: restarted).contains("advertise: withdrew \(Self.soloVIP)/32 dev lb0 table 100 proto 249 (no backend of the VIP takes new flows)"),
                "\(log(of: restarted))")
        #expect(await timeUntil(net, Self.vip, hops: both, seconds: 30) != nil, "the echo VIP stays on both instances")

        client.signal(SIGTERM)
        let output = try await client.finish(timeout: 60)
        let states = try #require(output.split(separator: "\n").last.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [[String: Any]] },
                                  "\(output) \(client.standardError)")
        let broken = states.compactMap { $0["broken"] as? String }
        let alive = states.count - broken.count
        #expect(states.count == 60 && Double(alive) >= 0.99 * 60, "connections alive: \(alive) of \(states.count); broken: \(broken)")
        #expect(states.allSatisfy { ($0["answers"] as? Int ?? 0) > 20 }, "every connection kept answering")
        let spread = Dictionary(grouping: states.compactMap { $0["first"] as? String }, by: { $0 }).mapValues(\.count)
        print("scale-out: route withdrawn from the router \(withdrawn.map { String(format: "%.3f s", $0) } ?? "-") after SIGTERM; "
              + "re-advertised \(readvertised.map { String(format: "%.3f s", $0) } ?? "-") after the restart's start; solo VIP withdrawn "
              + "\(soloGone.map { String(format: "%.3f s", $0) } ?? "-") after its server stopped; \(alive) of \(states.count) long-lived "
              + "connections alive (backends \(spread.sorted { $0.key < $1.key })); 40 new connections during the failover, "
              + "\((freshResult["failures"] as? [String])?.count ?? -1) failed; forwarded before the stop \(beforeStop)")
        for daemon in [restarted, second] { #expect(await stop(daemon).status == 0) }
    }
}

enum BIRD {
    static let executable = "/usr/sbin/bird"
    static let isInstalled = FileManager.default.isExecutableFile(atPath: executable)
}

