import DromosLab
import Foundation
import Glibc
import Testing

/// `advertise: { table: N }` against the kernel of the balancer's namespace: the VIP's route is there
/// while a backend can take new flows and the daemon forwards, and goes with the last backend, with
/// `ctl advertise withdraw`, before the workers stop, and (after a crash) at the next start or with
/// `dromos cleanup`. The routing daemon that announces the table is the scale-out test's.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class AdvertiseEndToEndTests: DaemonLabTest {
    let lab = NetworkLab()

    func routes(_ namespace: String) async throws -> [String] {
        try await lab.exec(namespace, ["ip", "-4", "route", "show", "table", "100"]).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func waitForRoutes(_ namespace: String, _ wanted: [String], seconds: Double = 10) async -> Bool {
        await waitUntil(seconds: seconds, every: .milliseconds(50)) {
            ((try? await self.routes(namespace)) ?? ["unreadable"]) == wanted
        }
    }

    @Test func theRouteFollowsTheBackendsTheOperatorAndTheDaemonsLife() async throws {
        let net = try await topology()
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80))
        }
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        for server in servers { #expect(await waitForText("listening", in: server.output)) }
        let config = try writeConfig(scheduler: "maglev")
        defer { try? FileManager.default.removeItem(at: config) }
        try (String(contentsOf: config, encoding: .utf8) + "advertise: { table: 100, stop_delay: 300ms }\n")
            .write(to: config, atomically: true, encoding: .utf8)
        let socket = config.path + ".sock"
        func ctl(_ arguments: [String]) async throws -> CommandOutcome {
            try await LabCommand.outcome([Self.dromos, "ctl", "--socket", socket] + arguments)
        }
        let route = "\(Self.vip) dev lb0 proto 249 scope link"
        // What a crashed run would have left: a route of ours for a VIP no longer served, and one of
        // another protocol that is not ours to touch.
        try await lab.exec(net.balancer, ["ip", "route", "add", "203.0.113.99/32", "dev", "lb0", "table", "100", "proto", "249"])
        try await lab.exec(net.balancer, ["ip", "route", "add", "203.0.113.98/32", "dev", "lb0", "table", "100", "proto", "static"])
        let foreign = "203.0.113.98 dev lb0 proto static scope link"

        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "1"])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        let advertised = await waitForRoutes(net.balancer, [route, foreign])
        let seen = try await routes(net.balancer)
        #expect(advertised, "advertised, the stale route gone: \(seen)")
        #expect(log(of: daemon).contains("advertise: withdrew 203.0.113.99/32 dev lb0 table 100 proto 249 (left by an earlier run)"),
                "\(log(of: daemon))")
        let status = try await ctl(["status"])
        #expect(status.output.contains("advertise_state       advertising") && status.output.contains("advertise_advertised  \(Self.vip)"),
                "\(status.output)")

        // The operator's maintenance switch: routes go, forwarding goes on.
        let withdrawn = try await ctl(["advertise", "withdraw"])
        #expect(withdrawn.status == 0 && withdrawn.output.contains("withdrawn: \(Self.vip)"), "\(withdrawn.output) \(withdrawn.errors)")
        #expect(try await routes(net.balancer) == [foreign], "withdrawn when the command returns")
        let (answers, failures) = try await connections(net.client, count: 4)
        #expect(failures.isEmpty && answers.values.reduce(0, +) == 4, "still forwarding while withdrawn: \(answers) \(failures)")
        // The daemon puts back what someone else removed, but not while withdrawn.
        try await Task.sleep(for: .milliseconds(1_500))
        #expect(try await routes(net.balancer) == [foreign])
        let restored = try await ctl(["advertise", "restore"])
        #expect(restored.status == 0 && restored.output.contains("restored: \(Self.vip)"), "\(restored.output) \(restored.errors)")
        #expect(try await routes(net.balancer) == [route, foreign])
        try await lab.exec(net.balancer, ["ip", "route", "del", "\(Self.vip)/32", "table", "100"])
        #expect(await waitForRoutes(net.balancer, [route, foreign], seconds: 5), "a route removed by hand comes back within the second's check")

        // Another table is for a restart: a reload that changes it is refused, and the route stays.
        let original = try String(contentsOf: config, encoding: .utf8)
        try original.replacingOccurrences(of: "table: 100", with: "table: 101").write(to: config, atomically: true, encoding: .utf8)
        let reload = try await ctl(["reload"])
        #expect(reload.status != 0 && reload.errors.contains("advertise changed: that needs a restart, not a reload"), "\(reload.errors)")
        try original.write(to: config, atomically: true, encoding: .utf8)
        #expect(try await routes(net.balancer) == [route, foreign])

        // The VIP loses its last usable backend: one forced down, the other drained.
        #expect(try await ctl(["backend", "down", "web80", DaemonLabAddresses.backendAddress(0)]).status == 0)
        #expect(try await routes(net.balancer) == [route, foreign], "one backend is left")
        #expect(try await ctl(["backend", "drain", "web80", DaemonLabAddresses.backendAddress(1)]).status == 0)
        #expect(try await routes(net.balancer) == [foreign], "no backend takes new flows: withdrawn by the time the change is answered")
        #expect(log(of: daemon).contains("(no backend of the VIP takes new flows)"), "\(log(of: daemon))")
        #expect(try await ctl(["backend", "auto", "web80", DaemonLabAddresses.backendAddress(0)]).status == 0)
        #expect(try await routes(net.balancer) == [route, foreign], "a backend is back: advertised again")

        // SIGTERM: the route goes before the workers stop.
        let stopped = await stop(daemon)
        #expect(stopped.exited && stopped.status == 0, "\(stopped.log)")
        #expect(try await routes(net.balancer) == [foreign])
        let withdrawal = try #require(stopped.log.range(of: "proto 249 (stopping)"), "\(stopped.log)")
        let workersStopped = try #require(stopped.log.range(of: "workers stopped"))
        #expect(withdrawal.upperBound < workersStopped.lowerBound, "withdrawn before forwarding ends: \(stopped.log)")
        #expect(stopped.log.contains("forwarding 300ms more while routers converge"))

        // A crash leaves the route; cleanup (the unit's ExecStopPost) removes it.
        let crashed = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "1"])
        defer { if crashed.isRunning { crashed.terminate() } }
        try await waitUntilRunning(crashed)
        #expect(await waitForRoutes(net.balancer, [route, foreign]))
        crashed.signal(SIGKILL)
        #expect(await waitForExit(crashed))
        #expect(try await routes(net.balancer) == [route, foreign], "a killed daemon leaves its route")
        let cleaned = try await lab.exec(net.balancer, [Self.dromos, "cleanup", "--config", config.path])
        #expect(cleaned.contains("removed 1 VIP route(s) from table 100") && cleaned.contains(Self.vip), "\(cleaned)")
        #expect(try await routes(net.balancer) == [foreign], "only ours removed")
        print("advertise: \(cleaned.split(separator: "\n").first ?? "")")
    }

    @Test func aKernelTableIsRefusedAndWhatBreaksBehindECMPIsWarned() async throws {
        let net = try await topology()
        let config = try writeConfig(scheduler: "rr")
        defer { try? FileManager.default.removeItem(at: config) }
        try (String(contentsOf: config, encoding: .utf8) + "advertise: { table: 254 }\n").write(to: config, atomically: true, encoding: .utf8)
        let refused = try await LabCommand.outcome(["ip", "netns", "exec", net.balancer, Self.dromos, "run", "--config", config.path])
        #expect(refused.status != 0 && refused.errors.contains("advertise.table") && refused.errors.contains("main"),
                "\(refused.output) \(refused.errors)")
        // A non-consistent scheduler works, with a warning: behind ECMP its flows break when they move.
        try (String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: "table: 254", with: "table: 100"))
            .write(to: config, atomically: true, encoding: .utf8)
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "1"])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        #expect(log(of: daemon).contains("service(s) web80 use a scheduler that is not a consistent hash"), "\(log(of: daemon))")
        // A change that brings announce: arp is warned about too: instances on one link would all claim the VIP.
        let added = try await LabCommand.outcome([Self.dromos, "ctl", "--config", config.path, "service", "add", "api", "--vip", "203.0.113.20",
                                                  "--port", "443", "--backend", "\(DaemonLabAddresses.backendAddress(0)),mac=\(Self.backendMACs[0])",
                                                  "--announce", "arp"])
        #expect(added.status == 0, "\(added.errors)")
        #expect(await waitForLog(daemon, "service(s) api have announce: arp", seconds: 10), "\(log(of: daemon))")
        #expect(await stop(daemon).status == 0)
    }
}
