import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import DromosWire
import Foundation
import Glibc
import Testing

/// Every command and every class of bad request against a real control socket, a real control plane and
/// a real worker loop (``ControlLab``).
@Suite(.serialized)
final class ControlSocketTests {
    let lab: ControlLab

    init() throws {
        lab = try ControlLab()
        try lab.start()
    }

    @Test func readCommands() throws {
        lab.sendSYNs(count: 10)
        let status = try lab.ask(#"{"command": "status"}"#)
        #expect(status.isOK && status["generation"]?.int == 1 && status["services"]?.int == 1 && status["backends"]?.int == 2,
                "\(status)")
        #expect(status["state_file"]?.text == lab.statePath)

        let services = try lab.ask(#"{"command": "services"}"#)
        let web = services["services"]?.items.first
        #expect(web?["name"]?.text == "web" && web?["vip"]?.text == ControlLab.vip && web?["port"]?.int == 80
                && web?["scheduler"]?.text == "rr" && web?["backends"]?.int == 2, "\(services)")

        let backends = try lab.ask(#"{"command": "backends", "service": "web"}"#)
        let rows = backends["backends"]?.items ?? []
        #expect(rows.map { $0["address"]?.text } == ["198.18.0.11", "198.18.0.12"], "\(backends)")
        #expect(rows.allSatisfy { $0["state"]?.text == "active" && $0["weight"]?.int == 1 })
        #expect(rows.first?["mac"]?.text == ControlLab.backendMACs[0])

        let stats = try lab.ask(#"{"command": "stats"}"#)
        #expect(stats["workers_answered"]?.int == 1, "\(stats)")
        let perBackend = stats["backends"]?.items ?? []
        #expect(perBackend.compactMap { $0["packets"]?.int }.reduce(0, +) == 10, "\(stats)")
        #expect(perBackend.compactMap { $0["new_flows"]?.int }.reduce(0, +) == 10)
        #expect(perBackend.allSatisfy { $0["active_flows"]?.int == 5 }, "rr splits 10 flows 5/5: \(perBackend)")
        #expect(stats["totals"]?["active_flows"]?.int == 10)
        let forwarded = (stats["decisions"]?.items ?? []).first { $0["verdict"]?.text == "forward" }
        #expect(forwarded?["frames"]?.int == 10, "\(stats)")

        let flows = try lab.ask(#"{"command": "flows", "service": "web"}"#)
        let sample = flows["flows"]?.items ?? []
        #expect(sample.count == 10 && flows["truncated"] == .bool(false), "\(flows)")
        #expect(sample.allSatisfy { $0["dst"]?.text == ControlLab.vip && $0["dport"]?.int == 80 && $0["proto"]?.int == 6
                                    && $0["src"]?.text == "198.51.100.7" && $0["state"]?.text == "syn-received" })
        #expect(Set(sample.compactMap { $0["backend"]?.text }) == ["198.18.0.11", "198.18.0.12"])
        let limited = try lab.ask(#"{"command": "flows", "service": "web", "limit": 3}"#)
        #expect(limited["flows"]?.items.count == 3 && limited["truncated"] == .bool(true), "\(limited)")
    }

    @Test func changeCommandsArePublishedAndPersistedBeforeOK() throws {
        func change(_ line: String, generation: Int) throws {
            let reply = try lab.ask(line)
            #expect(reply.isOK && reply["generation"]?.int == generation, "\(line) → \(reply)")
            // By the time ok arrives, the table is published and the state file says the same.
            #expect(lab.plane.publisher.snapshot().table.generation == UInt32(generation))
            let saved = try StateFile(path: lab.statePath).load()
            #expect(saved?.pool == lab.plane.running.pool, "state file after \(line)")
        }
        try change(#"{"command": "backend add", "service": "web", "address": "198.18.0.13", "weight": 3, "mac": "02:00:00:00:01:13"}"#,
                   generation: 2)
        #expect(lab.plane.running.pool.services[0].backends.last == BackendSpec(
            address: try IPAddress(parsing: "198.18.0.13"), weight: 3, mac: try MACAddress(parsing: "02:00:00:00:01:13")))
        try change(#"{"command": "backend weight", "service": "web", "address": "198.18.0.13", "weight": 5}"#, generation: 3)
        #expect(lab.plane.running.table.backends.last?.spec.weight == 5)

        try change(#"{"command": "backend drain", "service": "web", "address": "198.18.0.11"}"#, generation: 4)
        let table = lab.plane.running.table
        #expect(table.usableBackends(service: 0).map { table.backendAddress($0).description } == ["198.18.0.12", "198.18.0.13"],
                "a drained backend takes no new flows")
        #expect(table.backends[0].spec.weight == 0)
        let backends = try lab.ask(#"{"command": "backends", "service": "web"}"#)
        #expect(backends["backends"]?.items.first?["state"]?.text == "draining")
        #expect(backends["backends"]?.items.first?["weight"]?.int == 1, "the weight is kept for undrain")
        try change(#"{"command": "backend undrain", "service": "web", "address": "198.18.0.11"}"#, generation: 5)
        #expect(lab.plane.running.table.usableBackends(service: 0).count == 3)
        try change(#"{"command": "backend remove", "service": "web", "address": "198.18.0.12"}"#, generation: 6)
        #expect(lab.plane.running.pool.services[0].backends.map(\.address.description) == ["198.18.0.11", "198.18.0.13"])

        let added = #"{"command": "service add", "service": {"name": "dns", "vip": "203.0.113.53", "port": 53, "protocol": "udp", "#
            + #""scheduler": "sh", "backends": [{"address": "198.18.0.11", "mac": "02:00:00:00:01:11"}]}}"#
        try change(added, generation: 7)
        #expect(lab.coveredVIPs.withLock { $0.last } == [try IPAddress(parsing: ControlLab.vip), try IPAddress(parsing: "203.0.113.53")],
                "the drop rule is widened to the new VIP")
        #expect(lab.plane.running.table.lookupService(vip: try IPAddress(parsing: "203.0.113.53"), transport: 17, port: 53) == 1)
        try change(#"{"command": "service remove", "service": "dns"}"#, generation: 8)
        #expect(lab.coveredVIPs.withLock { $0.last } == [try IPAddress(parsing: ControlLab.vip)])

        // reload: the config file's pool replaces the running one.
        try lab.writeConfig(backends: [2])
        try change(#"{"command": "reload"}"#, generation: 9)
        #expect(lab.plane.running.pool.services[0].backends.map(\.address.description) == ["198.18.0.13"])
        let status = try lab.ask(#"{"command": "status"}"#)
        #expect(status["accepted_changes"]?.int == 8, "\(status)")
    }

    /// Each bad request gets ok:false naming the problem, on the same connection, which goes on working;
    /// nothing changes: not the generation, not the state file.
    @Test func everyClassOfBadRequestIsRefusedAndTheConnectionGoesOn() throws {
        let client = try lab.client()
        let stateBefore = lab.stateFileText
        let cases: [(String, String)] = [
            ("this is not json", "request is not valid JSON at byte 2"),
            (#"{"command": "status""#, "not valid JSON"),
            (#"["status"]"#, "the request must be an object, got an array"),
            (#"{"command": "status", "command": "stats"}"#, "key \"command\" appears twice"),
            (#"{}"#, "missing field \"command\""),
            (#"{"command": 7}"#, "field \"command\" must be a string, got a number"),
            (#"{"command": "launch"}"#, "unknown command \"launch\""),
            (#"{"command": "status", "verbose": true}"#, "unknown field \"verbose\""),
            (#"{"command": "vip announce"}"#, "this daemon cannot send announcements"),
            (#"{"command": "service add", "service": {"name": "w3", "vip": "203.0.113.12", "announce": "bgp", "backends": [{"address": "198.18.0.11"}]}}"#,
             "service.announce: must be one of none, arp, got \"bgp\""),
            (#"{"command": "backends"}"#, "missing field \"service\""),
            (#"{"command": "backends", "service": "mail"}"#, "unknown service \"mail\" (running: web)"),
            (#"{"command": "flows", "service": "web", "limit": 0}"#, "field \"limit\" must be an integer from 1 to 10000, got 0"),
            (#"{"command": "backend add", "service": "web", "address": "198.18.0.300"}"#,
             "address: '198.18.0.300' is not an IPv4 address: part 4 (300) is above 255"),
            (#"{"command": "backend add", "service": "web", "address": "198.18.0.13", "weight": 70000}"#,
             "weight: must be an integer from 0 to 65535, got 70000"),
            (#"{"command": "backend add", "service": "web", "address": "198.18.0.13", "weight": 1.5}"#, "weight: must be an integer from 0 to 65535, got \"1.5\""),
            (#"{"command": "backend add", "service": "web", "address": "198.18.0.13", "mac": "zz"}"#, "mac: 'zz' is not a MAC address"),
            (#"{"command": "backend add", "service": "web", "address": "198.18.0.13", "mac": null}"#,
             "mac: has no value; leave the key out for the default"),
            (#"{"command": "backend add", "service": "web", "address": "198.18.0.13", "colour": 1}"#,
             "colour: is not a known key; expected one of: address, weight, mac"),
            (#"{"command": "backend weight", "service": "web", "address": "198.18.0.11", "weight": -1}"#,
             "weight: must be an integer from 0 to 65535, got -1"),
            (#"{"command": "backend drain", "service": "web", "address": "web1"}"#, "address: 'web1' is not an IPv4 address"),
            (#"{"command": "backend add", "service": "web", "address": "198.18.0.11", "mac": "02:00:00:00:01:11"}"#,
             "service \"web\" has backend 198.18.0.11 already"),
            (#"{"command": "backend add", "service": "web", "address": "224.0.0.1", "mac": "02:00:00:00:01:11"}"#, "address"),
            (#"{"command": "backend remove", "service": "web", "address": "198.18.0.99"}"#, "service \"web\" has no backend 198.18.0.99"),
            (#"{"command": "backend weight", "service": "web", "address": "198.18.0.11"}"#, "missing field \"weight\""),
            (#"{"command": "backend undrain", "service": "web", "address": "198.18.0.11"}"#, "is not draining"),
            (#"{"command": "service remove", "service": "mail"}"#, "unknown service \"mail\""),
            (#"{"command": "service add", "service": {"name": "web", "vip": "203.0.113.11", "backends": [{"address": "198.18.0.11"}]}}"#,
             "service \"web\" exists already"),
            (#"{"command": "service add", "service": {"name": "web2", "vip": "203.0.113.10", "port": 80, "backends": [{"address": "198.18.0.11"}]}}"#,
             "takes tcp 203.0.113.10:80 already"),
            (#"{"command": "service add", "service": {"name": "bad name!", "vip": "203.0.113.11", "backends": [{"address": "198.18.0.11"}]}}"#,
             "service.name: may contain only letters"),
            (#"{"command": "service add", "service": {"name": "x", "vip": "203.0.113.11", "backends": []}}"#,
             "service.backends: must list at least one backend"),
            (#"{"command": "service add", "service": {"name": "x", "vip": "203.0.113.11", "scheduler": "fastest"}}"#,
             "service.scheduler: must be one of maglev, rr, wrr, lc, wlc, sh, got \"fastest\"; service.backends: is required"),
            (#"{"command": "service add", "service": {"name": "x", "vip": "203.0.113.11", "backends": [{"address": "198.18.0.11", "colour": 1}]}}"#,
             "service.backends[0].colour: is not a known key; expected one of: address, weight, mac"),
            (#"{"command": "service add", "service": {"name": "x", "vip": "203.0.113.11", "health": {"type": "tcp", "interval_ms": 2000}, "#
                + #""backends": [{"address": "198.18.0.11"}]}}"#,
             "service.health.interval_ms: is not a known key (the field is interval, a duration with its unit such as \"2s\" or \"2000ms\")"),
        ]
        for (request, expected) in cases {
            let reply = try client.request(request)
            #expect(!reply.isOK && reply.errorText.contains(expected), "\(request) → \(reply)")
        }
        // The last backend cannot go: a service needs one.
        try lab.writeConfig(backends: [0])
        #expect(try client.request(#"{"command": "reload"}"#).isOK)
        let last = try client.request(#"{"command": "backend remove", "service": "web", "address": "198.18.0.11"}"#)
        #expect(last.errorText.contains("is the last backend of service \"web\""), "\(last)")
        // A config file that does not load: reload refused with the loader's reasons.
        try "interface: lo\nservices: []\n".write(toFile: lab.configPath, atomically: true, encoding: .utf8)
        let reload = try client.request(#"{"command": "reload"}"#)
        #expect(!reload.isOK && reload.errorText.contains("services"), "\(reload)")

        #expect(try client.request(#"{"command": "status"}"#).isOK, "the connection still answers")
        let status = try client.request(#"{"command": "status"}"#)
        #expect(status["generation"]?.int == 2 && status["refused_changes"]?.int ?? 0 >= 5, "\(status)")
        #expect(lab.stateFileText != stateBefore, "the one accepted reload was written")
        #expect(try StateFile(path: lab.statePath).load()?.pool == lab.plane.running.pool)
    }

    /// `service add` takes a service as the config file writes it, health check included, and runs the
    /// spec the file would give.
    @Test func serviceAddTakesTheConfigFilesService() throws {
        let request = #"{"command": "service add", "service": {"name": "api", "vip": "203.0.113.20", "port": 8080, "protocol": "TCP", "#
            + #""scheduler": "sh", "maglev_table_size": 251, "health": {"type": "tcp", "interval": "3s", "timeout": "500ms"}, "#
            + #""backends": [{"address": "198.18.0.11", "mac": "02:00:00:00:01:11", "weight": 2}]}}"#
        let reply = try lab.ask(request)
        #expect(reply.isOK, "\(reply)")
        let yaml = """
            interface: lo
            services:
              - name: api
                vip: 203.0.113.20
                port: 8080
                protocol: tcp
                scheduler: sh
                maglev_table_size: 251
                health: { type: tcp, interval: 3s, timeout: 500ms }
                backends:
                  - { address: 198.18.0.11, mac: "02:00:00:00:01:11", weight: 2 }
            """
        #expect(lab.plane.running.pool.services.last == (try ConfigLoader.parse(yaml: yaml, source: "t").balancer.services.first))
        #expect(try StateFile(path: lab.statePath).load()?.pool == lab.plane.running.pool)
    }

    @Test func garbageLinesEachGetARefusalAndChangeNothing() throws {
        let client = try lab.client()
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array(#"{}[]:,"\ command status backend add 0123456789.-e"#.utf8) + [0x00, 0x09, 0x0D, 0xC3, 0xFF]
        var sent = 0
        for _ in 0..<300 {
            var line = (0..<Int.random(in: 1...60, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            line.removeAll { $0 == 0x0A }
            // Blank lines are skipped without an answer; keep one visible byte.
            line.append(UInt8(ascii: "x"))
            try client.send(raw: line + [0x0A])
            sent += 1
        }
        var answers = 0
        while answers < sent, let line = try client.receiveLine(timeoutMilliseconds: 30_000) {
            let reply = try JSONReader.parse(line)
            #expect(!reply.isOK && !reply.errorText.isEmpty, "\(line)")
            answers += 1
        }
        #expect(answers == sent)
        #expect(try client.request(#"{"command": "status"}"#)["generation"]?.int == 1)
    }

    @Test func anOverlongRequestIsRefusedAndTheNextLineIsServed() throws {
        let client = try lab.client()
        let long = #"{"command": "status", "pad": ""# + String(repeating: "x", count: 70_000) + "\"}\n"
        try client.send(raw: Array(long.utf8) + Array(#"{"command": "status"}"#.utf8) + [0x0A])
        let first = try JSONReader.parse(try #require(try client.receiveLine()))
        #expect(!first.isOK && first.errorText.contains("request longer than 65536 bytes"), "\(first)")
        let second = try JSONReader.parse(try #require(try client.receiveLine()))
        #expect(second.isOK && second["generation"]?.int == 1, "\(second)")
        // Several requests in one write, and a CRLF line end, are answered in order.
        try client.send(raw: Array("{\"command\": \"services\"}\r\n{\"command\": \"nope\"}\n\n{\"command\": \"status\"}\n".utf8))
        let answers = try (0..<3).map { _ in try JSONReader.parse(try #require(try client.receiveLine())) }
        #expect(answers[0]["services"] != nil && !answers[1].isOK && answers[2]["pid"] != nil, "\(answers)")
    }

    @Test func aRefusedChangeLeavesNothingBehind() throws {
        let stateBefore = lab.stateFileText
        let rulesBefore = lab.coveredVIPs.withLock { $0 }
        lab.failCoverVIPs.store(true, ordering: .releasing)
        let add = #"{"command": "service add", "service": {"name": "dns", "vip": "203.0.113.53", "port": 53, "protocol": "udp", "#
            + #""backends": [{"address": "198.18.0.11", "mac": "02:00:00:00:01:11"}]}}"#
        let reply = try lab.ask(add)
        #expect(!reply.isOK && reply.errorText.contains("cannot update the nftables drop rule: nft refused (test)"), "\(reply)")
        #expect(lab.stateFileText == stateBefore)
        #expect(lab.coveredVIPs.withLock { $0 } == rulesBefore)
        #expect(lab.plane.publisher.generation == 1 && lab.plane.running.pool.services.count == 1)

        // A state file that cannot be written refuses the change too, and puts the rule back.
        lab.failCoverVIPs.store(false, ordering: .releasing)
        let stateDirectory = (lab.statePath as NSString).deletingLastPathComponent
        try FileManager.default.removeItem(atPath: stateDirectory)
        try "not a directory".write(toFile: stateDirectory, atomically: true, encoding: .utf8)
        let unpersisted = try lab.ask(add)
        #expect(!unpersisted.isOK && unpersisted.errorText.contains("cannot persist the change"), "\(unpersisted)")
        #expect(lab.plane.publisher.generation == 1 && lab.plane.running.pool.services.count == 1)
        #expect(lab.coveredVIPs.withLock { $0.last } == [try IPAddress(parsing: ControlLab.vip)], "the rule is narrowed back")
    }

    @Test func manyConcurrentClientsMixingReadsAndChanges() throws {
        try lab.writeConfig(backends: [0, 1, 2])
        #expect(try lab.ask(#"{"command": "reload"}"#).isOK)
        let clients = 12, rounds = 25
        let failures = ResultList()
        let accepted = ResultList()
        let lab = self.lab
        DispatchQueue.concurrentPerform(iterations: clients) { index in
            do {
                let client = try lab.client()
                let address = "198.18.0.\(11 + index % 3)"
                for round in 0..<rounds {
                    let request: String
                    switch (index + round) % 5 {
                    case 0: request = #"{"command": "status"}"#
                    case 1: request = #"{"command": "stats"}"#
                    case 2: request = #"{"command": "backends", "service": "web"}"#
                    case 3: request = #"{"command": "backend weight", "service": "web", "address": "\#(address)", "weight": \#(round + 1)}"#
                    default: request = #"{"command": "flows", "service": "web", "limit": 5}"#
                    }
                    let reply = try client.request(request)
                    if !reply.isOK { failures.add("\(request) → \(reply)") }
                    if reply["generation"] != nil && request.contains("weight") { accepted.add(request) }
                }
            } catch {
                failures.add("client \(index): \(error)")
            }
        }
        #expect(failures.items.isEmpty, "\(failures.items.prefix(5))")
        let status = try lab.ask(#"{"command": "status"}"#)
        #expect(status["accepted_changes"]?.int == accepted.items.count + 1, "\(status)")
        #expect(status["generation"]?.int == accepted.items.count + 2)
        #expect(try StateFile(path: lab.statePath).load()?.pool == lab.plane.running.pool, "the last change is the one persisted")
    }
}

final class ResultList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ item: String) { lock.withLock { list.append(item) } }
    var items: [String] { lock.withLock { list } }
}

/// The entry point for neighbor resolution, and `dromos ctl`'s tables.
@Suite(.serialized)
final class ControlNeighborAndTextTests {
    let lab: ControlLab

    init() throws {
        lab = try ControlLab()
        try lab.start()
    }

    @Test func aResolvedNeighborMakesABackendWithoutAStaticMACUsable() throws {
        // The lab's host rules allow a backend without a MAC (the daemon's want an address to resolve it from).
        #expect(try lab.ask(#"{"command": "backend add", "service": "web", "address": "198.18.0.13"}"#).isOK)
        let address = try IPAddress(parsing: "198.18.0.13")
        let unresolved = try lab.ask(#"{"command": "backends", "service": "web"}"#)["backends"]?.items.last
        #expect(unresolved?["state"]?.text == "unresolved" && unresolved?["mac"] == .null, "\(String(describing: unresolved))")
        #expect(lab.plane.running.table.usableBackends(service: 0).count == 2)

        let mac = try MACAddress(parsing: "02:00:00:00:01:13")
        #expect(lab.plane.updateNeighbor(address: address, mac: mac))
        #expect(lab.plane.running.generation == 3 && lab.plane.publisher.snapshot().table.generation == 3)
        #expect(lab.plane.running.table.usableBackends(service: 0).count == 3)
        let resolved = try lab.ask(#"{"command": "backends", "service": "web"}"#)["backends"]?.items.last
        #expect(resolved?["state"]?.text == "active" && resolved?["mac"]?.text == "02:00:00:00:01:13")
        #expect(!lab.plane.updateNeighbor(address: address, mac: mac), "the same MAC again publishes nothing")
        // A static MAC wins over a resolved one.
        #expect(!lab.plane.updateNeighbor(address: try IPAddress(parsing: "198.18.0.11"), mac: mac))
        #expect(lab.plane.running.table.backendMAC(0) == (try MACAddress(parsing: ControlLab.backendMACs[0])))
        // Resolved MACs survive later changes, and are not written to the state file.
        #expect(try lab.ask(#"{"command": "backend weight", "service": "web", "address": "198.18.0.12", "weight": 2}"#).isOK)
        #expect(lab.plane.running.table.usableBackends(service: 0).count == 3)
        #expect(!lab.stateFileText.contains("02:00:00:00:01:13"))
    }

    /// The resolver hands over its whole map each pass: a MAC that went away takes the backend out of
    /// new flows again; an unchanged map publishes nothing.
    @Test func replacingTheNeighborMapAlsoTakesAMACAway() throws {
        #expect(try lab.ask(#"{"command": "backend add", "service": "web", "address": "198.18.0.13"}"#).isOK)
        let address = try IPAddress(parsing: "198.18.0.13")
        let mac = try MACAddress(parsing: "02:00:00:00:01:13")
        let resolved = lab.plane.replaceNeighbors([address: mac])
        #expect(resolved == lab.plane.running.generation && resolved != nil)
        #expect(lab.plane.running.table.usableBackends(service: 0).count == 3)
        #expect(lab.plane.replaceNeighbors([address: mac]) == nil, "the same map again publishes nothing")
        // An address no backend without a static MAC uses changes nothing either.
        #expect(lab.plane.replaceNeighbors([address: mac, try IPAddress(parsing: "198.18.0.99"): mac]) == nil)
        let lost = lab.plane.replaceNeighbors([:])
        #expect(lost != nil && lost! > resolved!)
        #expect(lab.plane.running.table.usableBackends(service: 0).count == 2)
    }

    @Test func ctlTablesLineUpAndSayWhatIsMissing() throws {
        lab.sendSYNs(count: 2)
        let backends = ControlReplyText.render(command: "backends", reply: try lab.ask(#"{"command": "backends", "service": "web"}"#))
        #expect(backends == """
            ADDRESS      WEIGHT  STATE   MAC
            198.18.0.11  1       active  02:00:00:00:01:11
            198.18.0.12  1       active  02:00:00:00:01:12

            """, "\(backends)")
        let stats = ControlReplyText.render(command: "stats", reply: try lab.ask(#"{"command": "stats"}"#))
        #expect(stats.contains("SERVICE  ADDRESS      PACKETS  BYTES  NEW_FLOWS  ACTIVE_FLOWS\nweb      198.18.0.11  1        54     1          1\n"),
                "\(stats)")
        let empty = ControlReplyText.render(command: "flows", reply: try JSONReader.parse(#"{"ok": true, "flows": []}"#))
        #expect(empty.hasSuffix("(none)\n"))
        let change = ControlReplyText.render(command: "backend drain", reply: try JSONReader.parse(#"{"ok": true, "generation": 4}"#))
        #expect(change == "ok: table generation 4\n")
    }
}
