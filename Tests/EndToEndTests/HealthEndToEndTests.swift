import DromosLab
import Foundation
import Glibc
import Testing

/// Health checks against real backends (`DaemonLab`): a stopped server is taken out and comes back, and
/// the DSR blackhole (a backend that lost the VIP on lo) is caught by a `dsr` check, not by a `tcp` one.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class HealthEndToEndTests: DaemonLabTest {
    let lab = NetworkLab()

    // Short on purpose, so the test is short: fall × interval + timeout = 1.3 s, rise × interval = 1 s.
    static let interval = 0.5, timeout = 0.3, rise = 2, fall = 2
    /// What a loaded two-core machine adds to each bound: probes, table builds and the client are late.
    static let slack = 2.0

    struct Event {
        var seconds: Double
        var answer: String
        var failed: Bool { answer.hasPrefix("fail") }
    }

    func writeHealthConfig(type: String, to url: URL = temporaryFile("yaml")) throws -> URL {
        try writeConfig(to: url)
        let check = "    health: { type: \(type), interval: \(Int(Self.interval * 1_000))ms, timeout: \(Int(Self.timeout * 1_000))ms, "
            + "rise: \(Self.rise), fall: \(Self.fall) }\n"
        let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "    backends:\n", with: check + "    backends:\n")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func ctl(_ net: Topology, _ config: URL, _ arguments: [String]) async throws -> [String: Any] {
        let output = try await lab.exec(net.balancer, [Self.dromos, "ctl", "--socket", config.path + ".sock", "--json"] + arguments)
        return try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] ?? [:]
    }

    func backendHealth(_ net: Topology, _ config: URL) async throws -> [String: [String: Any]] {
        let reply = try await ctl(net, config, ["backends", "web80"])
        let rows = reply["backends"] as? [[String: Any]] ?? []
        return Dictionary(rows.map { ($0["address"] as? String ?? "", $0) }) { first, _ in first }
    }

    /// A client connecting continuously until `events` stops it (at most two minutes).
    func startClients(_ net: Topology) async throws -> RunningCommand {
        try await lab.start(net.client, Services.continuousConnections(host: Self.vip, port: 80, seconds: 120, timeout: 1))
    }

    /// Stops the client (SIGTERM: it ends its current connection and prints), unless it runs for a fixed
    /// time (`stop` false), and reads what it saw.
    func events(_ client: RunningCommand, stop: Bool = true) async throws -> [Event] {
        if stop { client.signal(SIGTERM) }
        let output = try await client.finish(timeout: 120)
        let list = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[Any]] ?? []
        return list.compactMap { item in
            guard item.count == 2, let seconds = item[0] as? Double, let answer = item[1] as? String else { return nil }
            return Event(seconds: seconds, answer: answer)
        }
    }

    static func now() -> Double { Double(monotonicNanoseconds()) / 1e9 }

    /// The lab, a `tcp` check on both backends, their name servers and `dromos run`, running.
    struct Running {
        var net: Topology
        var config: URL
        var servers: [RunningCommand]
        var daemon: RunningCommand

        /// Also on failure; the lab's teardown would end the processes with their namespaces anyway.
        func cleanUp(servers: [RunningCommand]) {
            try? FileManager.default.removeItem(at: config)
            servers.forEach { if $0.isRunning { $0.terminate() } }
            if daemon.isRunning { daemon.terminate() }
        }
    }

    func startLab(io: String) async throws -> Running {
        let net = try await topology()
        try await prepare(net, for: io)
        let config = try writeHealthConfig(type: "tcp")
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80))
        }
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "2", "--io", io])
        let running = Running(net: net, config: config, servers: servers, daemon: daemon)
        do { try await waitUntilRunning(daemon) } catch {
            running.cleanUp(servers: servers)
            throw error
        }
        return running
    }

    @Test(arguments: ["afpacket", "pcap"])
    func aStoppedServerIsTakenOutAndComesBackWhileALongConnectionSurvives(io: String) async throws {
        let running = try await startLab(io: io)
        let (net, config, daemon) = (running.net, running.config, running.daemon)
        var servers = running.servers
        defer { running.cleanUp(servers: servers) }
        #expect(await waitUntil(seconds: 30, every: .milliseconds(200)) {
            let health = (try? await self.backendHealth(net, config)) ?? [:]
            return health.count == 2 && health.values.allSatisfy { ($0["successes"] as? Int ?? 0) >= 1 }
        }, "both backends probed")

        // A long-lived connection; the other backend is the one whose server stops.
        let upload = try await lab.start(net.client, Services.pacedUpload(host: Self.vip, port: 80, size: 4 << 20, seconds: 14))
        var keeper = ""
        _ = await waitUntil(seconds: 20, every: .milliseconds(200)) {
            let flows = (try? await self.ctl(net, config, ["flows", "web80"]))?["flows"] as? [[String: Any]] ?? []
            keeper = flows.first { ($0["state"] as? String) == "established" }?["backend"] as? String ?? ""
            return !keeper.isEmpty
        }
        try #require(!keeper.isEmpty, "the long-lived connection shows in ctl flows")
        let victim = keeper == DaemonLabAddresses.backendAddress(0) ? 1 : 0
        let victimName = "s\(victim + 1)", victimAddress = DaemonLabAddresses.backendAddress(victim)
        let clients = try await startClients(net)
        try await Task.sleep(for: .seconds(1))

        let stoppedAt = Self.now()
        servers[victim].terminate()
        #expect(await waitForLog(daemon, "backend \(victimAddress) is down", seconds: 30), "\(log(of: daemon))")
        let downLogged = Self.now()
        // The table follows the log on the plane's own thread: wait for it rather than race it.
        var health: [String: [String: Any]] = [:]
        #expect(await waitUntil(seconds: 30, every: .milliseconds(200)) {
            health = (try? await self.backendHealth(net, config)) ?? [:]
            return health[victimAddress]?["state"] as? String == "down"
        }, "\(health)")
        #expect(health[victimAddress]?["health"] as? String == "down", "\(health)")
        let lastResult = (health[victimAddress]?["last_result"] as? String) ?? ""
        #expect(lastResult.contains("refused"), "\(health)")
        try await Task.sleep(for: .seconds(3))

        let restartedAt = Self.now()
        servers[victim] = try await lab.start(net.backends[victim], Services.nameServer(name: victimName, port: 80))
        #expect(await waitForLog(daemon, "backend \(victimAddress) is up", seconds: 30), "\(log(of: daemon))")
        try await Task.sleep(for: .seconds(Double(Self.rise) * Self.interval + Self.slack))

        let events = try await events(clients)
        let bound = Double(Self.fall) * Self.interval + Self.timeout
        let settled = stoppedAt + bound + Self.slack
        let afterOut = events.filter { $0.seconds >= settled && $0.seconds < restartedAt }
        #expect(!afterOut.isEmpty)
        #expect(afterOut.allSatisfy { !$0.failed && $0.answer != victimName },
                "after \(bound) s (+\(Self.slack) s) no connection fails or reaches \(victimName): \(afterOut.filter { $0.failed || $0.answer == victimName }.prefix(5))")
        let back = events.filter { $0.seconds >= restartedAt && $0.answer == victimName }.first
        #expect(back != nil && back!.seconds - restartedAt <= Double(Self.rise) * Self.interval + Self.slack,
                "\(victimName) gets new connections within rise × interval of its restart: \(back.map { $0.seconds - restartedAt } ?? -1) s")
        #expect(events.filter { $0.seconds >= restartedAt }.allSatisfy { !$0.failed }, "no failure after the restart")
        let answer = try await upload.finish(timeout: 60)
        #expect(answer.contains("\(4 << 20) ok"), "the long-lived connection survived: \(answer)")
        let failedBefore = events.filter { $0.failed && $0.seconds < settled }.count
        print("health failover (\(io)): \(victimName) down logged \(String(format: "%.2f", downLogged - stoppedAt)) s after its server stopped "
              + "(bound \(bound) s); \(failedBefore) connection(s) failed before that; back after "
              + "\(String(format: "%.2f", (back?.seconds ?? restartedAt) - restartedAt)) s; \(events.count) connections in all; upload: \(answer)")
        let stopped = await stop(daemon)
        #expect(stopped.exited && stopped.status == 0, "\(stopped.log)")
    }

    @Test(arguments: ["afpacket", "pcap"])
    func aDSRCheckCatchesABackendThatLostTheVIPWhichATCPCheckCallsUp(io: String) async throws {
        let running = try await startLab(io: io)
        let (net, config, daemon) = (running.net, running.config, running.daemon)
        defer { running.cleanUp(servers: running.servers) }
        let victimAddress = DaemonLabAddresses.backendAddress(0)

        // s1 loses the VIP on lo; its server still answers on its own address, so the tcp check says up.
        try await lab.exec(net.backends[0], ["ip", "addr", "del", "\(Self.vip)/32", "dev", "lo"])
        let lostAt = Self.now()
        try await Task.sleep(for: .seconds(Double(Self.fall) * Self.interval + Self.timeout + Self.slack))
        let blind = try await backendHealth(net, config)[victimAddress] ?? [:]
        #expect(blind["health"] as? String == "up" && (blind["failures"] as? Int) == 0, "the tcp check calls s1 up: \(blind)")
        let blackholed = try await events(try await lab.start(net.client, Services.continuousConnections(
            host: Self.vip, port: 80, seconds: 3, timeout: 0.5)), stop: false)
        #expect(blackholed.contains { $0.failed }, "connections scheduled to s1 fail while the tcp check calls it up")
        print("tcp check with s1's VIP gone: s1 \(blind["health"] ?? "?"), last result \(blind["last_result"] ?? "?"); "
              + "\(blackholed.count) connections in 3 s: \(blackholed.filter { !$0.failed }.count) answered by s2, "
              + "\(blackholed.filter(\.failed).count) failed (timeout 0.5 s)")

        // The same check as dsr (a reload keeps the backends' state): s1 goes down, nothing fails after.
        _ = try writeHealthConfig(type: "dsr", to: config)
        let clients = try await startClients(net)
        let switchedAt = Self.now()
        daemon.signal(SIGHUP)
        #expect(await waitForLog(daemon, "reloaded: table generation"), "\(log(of: daemon))")
        #expect(await waitForLog(daemon, "backend \(victimAddress) is down", seconds: 30), "\(log(of: daemon))")
        let caught = try await backendHealth(net, config)[victimAddress] ?? [:]
        let caughtResult = (caught["last_result"] as? String) ?? ""
        #expect(caught["health"] as? String == "down" && caughtResult.contains("no SYN-ACK from VIP"), "\(caught)")
        let settlesAt = switchedAt + Double(Self.fall) * Self.interval + Self.timeout + Self.slack
        try await Task.sleep(for: .seconds(max(0, settlesAt - Self.now()) + 3))
        let events = try await events(clients)
        let settled = switchedAt + Double(Self.fall) * Self.interval + Self.timeout + Self.slack
        let after = events.filter { $0.seconds >= settled }
        #expect(!after.isEmpty && after.allSatisfy { !$0.failed && $0.answer == "s2" },
                "after the dsr check took s1 out, every connection reaches s2: \(after.filter { $0.failed || $0.answer != "s2" }.prefix(5))")

        // The VIP back on s1's lo: the dsr check brings it back and it takes connections again.
        try await lab.exec(net.backends[0], ["ip", "addr", "add", "\(Self.vip)/32", "dev", "lo"])
        let restoredAt = Self.now()
        #expect(await waitForLog(daemon, "backend \(victimAddress) is up", seconds: 30), "\(log(of: daemon))")
        let rejoined = Self.now() - restoredAt
        #expect(await waitUntil(seconds: 30, every: .milliseconds(200)) {
            ((try? await self.backendHealth(net, config))?[victimAddress]?["state"] as? String) == "active"
        })
        let again = try await connections(net.client, count: 20)
        #expect(again.failures.isEmpty && (again.answers["s1"] ?? 0) > 0, "\(again)")
        print("dsr check (\(io)): VIP removed at +0; tcp check still up after \(String(format: "%.1f", Self.now() - lostAt)) s; "
              + "dsr took s1 out, \(after.count) connections after the bound all reached s2; VIP back → up after "
              + "\(String(format: "%.2f", rejoined)) s; 20 connections: \(again.answers)")
        let stopped = await stop(daemon)
        #expect(stopped.exited && stopped.status == 0, "\(stopped.log)")
    }
}
