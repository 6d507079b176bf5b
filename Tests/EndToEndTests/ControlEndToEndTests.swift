import DromosLab
import Foundation
import Glibc
import Testing

/// `dromos run` with its control socket, driven by `dromos ctl` while traffic flows: drain, weight,
/// remove and undrain change where new connections go and leave a long-lived connection alone; the
/// changes survive a restart.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class ControlEndToEndTests: DaemonLabTest {
    let lab = NetworkLab()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-ctl-e2e-\(UUID().uuidString)")
    var socket: String { directory.appendingPathComponent("control.sock").path }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Answers every chunk it receives with its name, until the client closes: one answer for a short
    /// connection, a stream of them for a long one.
    static let sessionServer = """
    import socketserver, sys, socket
    name, port = sys.argv[1], int(sys.argv[2])
    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.settimeout(60)
            while True:
                data = self.request.recv(64)
                if not data:
                    break
                self.request.sendall(name.encode())
    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
    with Server(('0.0.0.0', port), Handler) as server:
        server.serve_forever()
    """

    /// One connection kept open for `seconds`, a ping every 50 ms; prints "first NAME" at once, then one
    /// JSON object with the answers by name and the errors.
    /// One connection that pings until `stopfile` exists (at most `seconds`), then pings once more so that
    /// its last answer comes after whatever the test did before creating the file. Prints the first
    /// answer, then the answers by name, the errors and when (CLOCK_MONOTONIC) the last answer came.
    static let longConnection = """
    import json, os, socket, sys, time
    host, port, stopfile, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    answers, errors, last = {}, [], 0.0
    c = socket.create_connection((host, port), timeout=30)
    c.settimeout(30)
    end = time.monotonic() + seconds
    first = True
    while time.monotonic() < end:
        stopping = os.path.exists(stopfile)
        try:
            c.sendall(b'ping')
            data = c.recv(64).decode()
            if not data:
                errors.append('closed'); break
            answers[data] = answers.get(data, 0) + 1
            last = time.monotonic()
            if first:
                print('first', data, flush=True); first = False
        except OSError as error:
            errors.append(str(error)); break
        if stopping:
            break
        time.sleep(0.05)
    c.close()
    print(json.dumps({'answers': answers, 'errors': errors, 'last': last}), flush=True)
    """

    func writeConfig() throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent("dromos.yaml")
        let yaml = """
            interface: lb0
            control: { socket: \(socket) }
            metrics: { listen: 127.0.0.1:9469 }
            state: \(directory.appendingPathComponent("state/state.yaml").path)
            services:
              - name: web
                vip: \(Self.vip)
                port: 80
                protocol: tcp
                scheduler: rr
                backends:
                  - { address: 198.18.0.11, mac: "\(Self.backendMACs[0])" }
                  - { address: 198.18.0.12, mac: "\(Self.backendMACs[1])" }

            """
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// `dromos ctl --socket … ARGUMENTS`: exit status, standard output, standard error.
    func ctl(_ arguments: [String]) async throws -> CommandOutcome {
        try await LabCommand.outcome([Self.dromos, "ctl"] + arguments.prefix(2) + ["--socket", socket] + arguments.dropFirst(2))
    }

    /// `--socket` and `--json` before the subcommand, after it, and around a nested one, against the running
    /// daemon; given in both places, the one after the subcommand wins. Changes nothing: the nested command
    /// is one the daemon refuses, and its reason shows the request got there.
    func globalOptionsGoBeforeOrAfterTheSubcommand() async throws {
        let missing = directory.appendingPathComponent("none.sock").path
        func run(_ arguments: [String]) async throws -> CommandOutcome {
            try await LabCommand.outcome([Self.dromos, "ctl"] + arguments)
        }
        let before = try await run(["--socket", socket, "status"])
        #expect(before.status == 0 && before.output.contains("generation        1"), "\(before)")
        let after = try await run(["status", "--socket", socket])
        #expect(after.status == 0 && after.output.contains("generation        1"), "\(after)")
        for arguments in [["--json", "--socket", socket, "stats"], ["stats", "--socket", socket, "--json"]] {
            let stats = try await run(arguments)
            #expect(stats.status == 0 && stats.output.hasPrefix("{\"ok\": true") && stats.output.contains("\"workers_answered\": 2"),
                    "\(arguments): \(stats)")
        }
        for arguments in [["--socket", socket, "--json", "vip", "announce"], ["vip", "announce", "--json", "--socket", socket]] {
            let announce = try await run(arguments)
            #expect(announce.status == 1 && announce.output.hasPrefix("{\"ok\": false")
                    && announce.errors.contains("nothing to announce"), "\(arguments): \(announce)")
        }
        let socketAfterWins = try await run(["--socket", missing, "status", "--socket", socket])
        #expect(socketAfterWins.status == 0, "\(socketAfterWins)")
        let missingAfterWins = try await run(["--socket", socket, "status", "--socket", missing])
        #expect(missingAfterWins.status == 1 && missingAfterWins.errors.contains("none.sock"), "\(missingAfterWins)")
    }

    func startDaemon(_ net: Topology, config: URL) async throws -> RunningCommand {
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "2"])
        try await waitUntilRunning(daemon)
        return daemon
    }

    /// The lab with a session server on each backend and `dromos run --workers 2` running on the balancer.
    func startSessionLab() async throws -> (net: Topology, config: URL, servers: [RunningCommand], daemon: RunningCommand) {
        let net = try await topology()
        let config = try writeConfig()
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, [Services.python, "-c", Self.sessionServer, "s\(index + 1)", "80"])
        }
        let daemon = try await startDaemon(net, config: config)
        try await Task.sleep(for: .milliseconds(300))
        return (net, config, servers, daemon)
    }

    func stopDaemon(_ daemon: RunningCommand) async -> String {
        daemon.signal(SIGTERM)
        #expect(await waitForExit(daemon), "dromos run did not stop on SIGTERM")
        let log = (try? String(contentsOf: daemon.errors, encoding: .utf8)) ?? ""
        #expect(daemon.terminationStatus == 0, "\(log)")
        return log
    }

    @Test func ctlChangesThePoolUnderTrafficAndTheChangesSurviveARestart() async throws {
        let started = Date()
        let (net, config, servers, firstDaemon) = try await startSessionLab()
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        var daemon = firstDaemon
        defer { if daemon.isRunning { daemon.terminate() } }

        let status = try await ctl(["status"])
        #expect(status.status == 0 && status.output.contains("interface         lb0") && status.output.contains("generation        1"),
                "\(status)")
        // --config finds the socket the config file names.
        #expect(try await LabCommand.run([Self.dromos, "ctl", "status", "--config", config.path]).contains("generation        1"))
        let services = try await ctl(["services", "--json"])
        #expect(services.status == 0 && services.output.hasPrefix("{\"ok\": true, \"services\": [{\"name\": \"web\""), "\(services)")
        try await globalOptionsGoBeforeOrAfterTheSubcommand()
        let before = try await connections(net.client, count: 20)
        #expect(before.failures.isEmpty && before.answers.count == 2 && before.answers.values.reduce(0, +) == 20, "\(before)")

        // A long-lived connection; whichever backend it lands on is the one we drain.
        let stopLong = directory.appendingPathComponent("stop-long-connection").path
        let long = try await lab.start(net.client, [Services.python, "-c", Self.longConnection, Self.vip, "80", stopLong, "300"])
        var first: String { long.standardOutput.split(separator: "\n").first.map(String.init) ?? "" }
        _ = await waitUntil(seconds: 30) { !first.isEmpty }
        let kept = first == "first s1" ? "s1" : "s2"
        let other = kept == "s1" ? "s2" : "s1"
        let keptAddress = kept == "s1" ? "198.18.0.11" : "198.18.0.12"
        let otherAddress = kept == "s1" ? "198.18.0.12" : "198.18.0.11"
        #expect(first.hasPrefix("first s"), "the long connection answered: \(first)")

        // Drain: the long connection stays on its backend, new connections go to the other.
        let drain = try await ctl(["backend", "drain", "web", keptAddress])
        #expect(drain.status == 0 && drain.output.contains("table generation 2"), "\(drain)")
        let drained = try await connections(net.client, count: 30)
        #expect(drained.failures.isEmpty && drained.answers == [other: 30], "a draining backend gets no new connections: \(drained)")
        let backends = try await ctl(["backends", "web"])
        #expect(backends.output.contains("\(keptAddress)  1       draining"), "\(backends.output)")

        // Changes to the other backend leave the long connection alone; undrain brings new ones back.
        await #expect(try ctl(["backend", "weight", "web", otherAddress, "3"]).status == 0)
        await #expect(try ctl(["backend", "undrain", "web", keptAddress]).status == 0)
        let undrained = try await connections(net.client, count: 20)
        #expect(undrained.failures.isEmpty && (undrained.answers[kept] ?? 0) > 0, "\(undrained)")

        // Remove the other backend: no new connection reaches it.
        let remove = try await ctl(["backend", "remove", "web", otherAddress])
        #expect(remove.status == 0, "\(remove)")
        let removed = try await connections(net.client, count: 30)
        #expect(removed.failures.isEmpty && removed.answers == [kept: 30], "a removed backend gets no new connections: \(removed)")

        // The long connection ends now, with one more answer: it must have lasted through every change above.
        let changesDone = Double(monotonicNanoseconds()) / 1e9
        #expect(FileManager.default.createFile(atPath: stopLong, contents: nil))
        let result = try await long.finish(timeout: 120)
        let summary = result.split(separator: "\n").last.map(String.init) ?? ""
        let parsed = try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any] ?? [:]
        let answers = parsed["answers"] as? [String: Int] ?? [:]
        #expect((parsed["errors"] as? [String] ?? ["?"]).isEmpty, "the long connection saw no error: \(summary)")
        #expect(answers.keys.sorted() == [kept] && (parsed["last"] as? Double ?? 0) > changesDone,
                "it stayed on \(kept) throughout, answered after the drain, weight, undrain and removal: \(summary)")

        // Reads: stats and flows from the workers; a refused change exits 1 with the daemon's reason.
        let stats = try await ctl(["stats", "--json"])
        #expect(stats.status == 0 && stats.output.contains("\"workers_answered\": 2"), "\(stats)")
        #expect(stats.output.contains("\"address\": \"\(keptAddress)\", \"packets\": "), "\(stats.output)")
        // The Prometheus endpoint, on the balancer namespace's loopback.
        let scrape = try await lab.exec(net.balancer, [Services.python, "-c",
            "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:9469/metrics', timeout=5).read().decode())"])
        #expect(scrape.contains("dromos_backend_packets_total{service=\"web\",backend=\"\(keptAddress)\"}"), "\(scrape.prefix(2_000))")
        #expect(scrape.contains("dromos_workers_answered 2.0") && scrape.contains("dromos_ring_drops_total "), "\(scrape.prefix(2_000))")
        #expect(!scrape.contains("backend=\"\(otherAddress)\""), "the removed backend's series are gone")
        let flows = try await ctl(["flows", "web", "--limit", "5"])
        #expect(flows.status == 0 && flows.output.contains("SRC") && flows.output.contains(Self.vip), "\(flows)")
        let bad = try await ctl(["backend", "remove", "web", "198.18.0.99"])
        #expect(bad.status == 1 && bad.errors.contains("service \"web\" has no backend 198.18.0.99"), "\(bad)")
        let unreachable = try await LabCommand.outcome([Self.dromos, "ctl", "status", "--socket", directory.appendingPathComponent("none.sock").path])
        #expect(unreachable.status == 1)

        // A service added at run time widens the drop rule to its VIP; removing it narrows it again.
        let add = try await ctl(["service", "add", "api", "--vip", "203.0.113.20", "--port", "8080", "--scheduler", "rr",
                           "--backend", "\(keptAddress),mac=\(Self.backendMACs[kept == "s1" ? 0 : 1]),weight=2"])
        #expect(add.status == 0, "\(add)")
        #expect(try await lab.exec(net.balancer, ["nft", "list", "table", "netdev", "dromos"]).contains("203.0.113.20"))
        await #expect(try ctl(["services"]).output.contains("api   203.0.113.20"), "the services table lists it")
        await #expect(try ctl(["service", "remove", "api"]).status == 0)
        #expect(!(try await lab.exec(net.balancer, ["nft", "list", "table", "netdev", "dromos"]).contains("203.0.113.20")))

        let log = await stopDaemon(daemon)
        #expect(log.contains("control: backend drain web \(keptAddress) accepted: table generation 2"), "\(log)")
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket file is removed at stop")

        // Restart: the pool is what ctl left, not what the config file says.
        daemon = try await startDaemon(net, config: config)
        let restarted = (try? String(contentsOf: daemon.errors, encoding: .utf8)) ?? ""
        #expect(restarted.contains("restored the running pool"), "\(restarted)")
        let after = try await connections(net.client, count: 20)
        #expect(after.failures.isEmpty && after.answers == [kept: 20], "\(after)")
        // Adding the other backend back, then `reload`: the config file's pool again, both backends.
        let readd = try await ctl(["backend", "add", "web", otherAddress, "--weight", "2",
                             "--mac", Self.backendMACs[kept == "s1" ? 1 : 0]])
        #expect(readd.status == 0, "\(readd)")
        await #expect(try ctl(["backends", "web", "--json"]).output.contains("\"address\": \"\(otherAddress)\", \"weight\": 2"))
        let reload = try await ctl(["reload"])
        #expect(reload.status == 0, "\(reload)")
        await #expect(try ctl(["backends", "web", "--json"]).output.contains("\"address\": \"\(otherAddress)\", \"weight\": 1"))
        let reloaded = try await connections(net.client, count: 20)
        #expect(reloaded.failures.isEmpty && reloaded.answers.count == 2, "\(reloaded)")
        _ = await stopDaemon(daemon)
        print("control end-to-end: drained \(kept), long connection \(answers), \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }

    /// Short connections every 20 ms, each stamped with CLOCK_MONOTONIC at its start; prints one JSON list
    /// of [start, answer or "error: …"].
    static let timedConnections = """
    import json, socket, sys, time
    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    results = []
    for i in range(count):
        start = time.clock_gettime(time.CLOCK_MONOTONIC)
        try:
            c = socket.create_connection((host, port), timeout=10)
            c.settimeout(10)
            c.sendall(b'hello')
            c.shutdown(socket.SHUT_WR)
            data = b''
            while True:
                chunk = c.recv(64)
                if not chunk:
                    break
                data += chunk
            c.close()
            results.append([start, data.decode()])
        except OSError as error:
            results.append([start, 'error: %s' % error])
        if i == 19:
            print('started', flush=True)
        time.sleep(0.02)
    print(json.dumps(results))
    """

    @Test func removingABackendUnderTrafficSendsItNoNewConnection() async throws {
        let (net, _, servers, daemon) = try await startSessionLab()
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        defer { if daemon.isRunning { daemon.terminate() } }

        let traffic = try await lab.start(net.client, [Services.python, "-c", Self.timedConnections, Self.vip, "80", "200"])
        // 20 connections answered first (both backends take some), however slowly the host runs them.
        _ = await waitUntil(seconds: 120) { traffic.standardOutput.contains("started") }
        let remove = try await ctl(["backend", "remove", "web", "198.18.0.12"])
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        // An upper bound for the moment ok was sent, which is after every worker adopted the new table.
        let answered = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        #expect(remove.status == 0, "\(remove)")
        let output = try await traffic.finish(timeout: 600)
        let lastLine = output.split(separator: "\n").last.map(String.init) ?? ""
        let results = try JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [[Any]] ?? []
        let stamped = results.compactMap { row -> (start: Double, answer: String)? in
            guard row.count == 2, let start = row[0] as? Double, let answer = row[1] as? String else { return nil }
            return (start, answer)
        }
        // The first 20 were answered before the removal was asked for (the test waited for them).
        let before = stamped.prefix(20)
        let after = stamped.filter { $0.start > answered + 0.05 }
        #expect(stamped.count == 200)
        #expect(Set(before.map(\.answer)) == ["s1", "s2"], "traffic reached both before: \(before.map(\.answer))")
        #expect(after.count > 50 && after.allSatisfy { $0.answer == "s1" },
                "every connection started after the ok went to s1: \(after.filter { $0.answer != "s1" })")
        let failures = stamped.filter { $0.answer.hasPrefix("error") }
        #expect(failures.allSatisfy { $0.start <= answered + 0.05 }, "only connections in flight at the removal may fail")
        _ = await stopDaemon(daemon)
        print("remove under traffic: \(before.count) connections before, \(after.count) after (all s1), \(failures.count) failed in flight")
    }
}
