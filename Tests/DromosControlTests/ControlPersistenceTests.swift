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
import Testing

/// What survives a restart: the state file against the config file.
@Suite(.serialized)
final class ControlPersistenceTests {
    let lab: ControlLab

    init() throws {
        lab = try ControlLab()
    }

    @Test func acceptedChangesSurviveARestartAndARefusedOneLeftNothing() throws {
        let first = try lab.start()
        #expect(first.contains("no state file"), "\(first)")
        let accepted = [
            #"{"command": "backend add", "service": "web", "address": "198.18.0.13", "weight": 4, "mac": "02:00:00:00:01:13"}"#,
            #"{"command": "backend drain", "service": "web", "address": "198.18.0.11"}"#,
            #"{"command": "backend weight", "service": "web", "address": "198.18.0.12", "weight": 9}"#,
            #"{"command": "service add", "service": {"name": "dns", "vip": "203.0.113.53", "port": 53, "protocol": "udp", "backends": [{"address": "198.18.0.12", "mac": "02:00:00:00:01:12"}]}}"#,
        ]
        for request in accepted { #expect(try lab.ask(request).isOK, "\(request)") }
        lab.failCoverVIPs.store(true, ordering: .releasing)
        let refused = try lab.ask(#"{"command": "service add", "service": {"name": "ntp", "vip": "203.0.113.123", "port": 123, "protocol": "udp", "backends": [{"address": "198.18.0.12", "mac": "02:00:00:00:01:12"}]}}"#)
        #expect(!refused.isOK)
        lab.failCoverVIPs.store(false, ordering: .releasing)
        let before = lab.plane.running.pool

        let note = try lab.restart()
        #expect(note.contains("restored the running pool"), "\(note)")
        let after = lab.plane.running.pool
        #expect(after == before)
        #expect(after.services.map(\.name) == ["web", "dns"], "the refused service is not there")
        #expect(after.drained == [RuntimePool.Member(service: "web", address: try IPAddress(parsing: "198.18.0.11"))])
        #expect(after.services[0].backends.map(\.weight) == [1, 9, 4])
        let table = lab.plane.running.table
        #expect(table.usableBackends(service: 0).map { table.backendAddress($0).description } == ["198.18.0.12", "198.18.0.13"],
                "the drained backend is still drained")
        let backends = try lab.ask(#"{"command": "backends", "service": "web"}"#)
        #expect(backends["backends"]?.items.map { $0["state"]?.text } == ["draining", "active", "active"])
    }

    @Test func anEditedConfigFileWinsOverTheStateFile() throws {
        try lab.start()
        #expect(try lab.ask(#"{"command": "backend drain", "service": "web", "address": "198.18.0.11"}"#).isOK)
        lab.stop()
        // Comments and layout alone do not count as an edit: only what the services say.
        let text = try String(contentsOfFile: lab.configPath, encoding: .utf8)
        try ("# a comment\n" + text).write(toFile: lab.configPath, atomically: true, encoding: .utf8)
        #expect(try lab.start().contains("restored"))
        #expect(lab.plane.running.pool.drained.count == 1)
        lab.stop()

        try lab.writeConfig(backends: [0, 2])
        let note = try lab.start()
        #expect(note.contains("changed since"), "\(note)")
        #expect(lab.plane.running.pool == RuntimePool(services: try ConfigLoader.load(path: lab.configPath).balancer.services))
        // And the state file now records that config, so the next restart keeps what happens from here.
        #expect(try lab.ask(#"{"command": "backend weight", "service": "web", "address": "198.18.0.13", "weight": 7}"#).isOK)
        #expect(try lab.restart().contains("restored"))
        #expect(lab.plane.running.pool.services[0].backends.last?.weight == 7)
    }

    @Test func aCorruptStateFileStopsTheStartWithItsPathAndReason() throws {
        try FileManager.default.createDirectory(atPath: (lab.statePath as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try "{\"format\": 1, \"services\": [".write(toFile: lab.statePath, atomically: true, encoding: .utf8)
        #expect {
            try lab.start()
        } throws: { error in
            "\(error)".contains("state file \(lab.statePath): not valid JSON")
        }
        try "{\"format\": 9}".write(toFile: lab.statePath, atomically: true, encoding: .utf8)
        #expect { try lab.start() } throws: { "\($0)".contains("format 9 is not one this dromos reads") }
    }

    /// Format 1 was written with the control protocol's old health names (`interval_ms`), `null` for what
    /// a service or backend does not have and a table size for every scheduler; a dromos started on one
    /// keeps the runtime changes in it, and writes format 2 from then on.
    @Test func aFormat1StateFileIsStillRead() throws {
        let web = #"{"name": "web", "vip": "203.0.113.10", "port": 80, "protocol": "tcp", "scheduler": "rr", "maglev_table_size": 65537, "#
            + #""health": null, "backends": [{"address": "198.18.0.11", "weight": 1, "mac": "02:00:00:00:01:11"}, "#
            + #"{"address": "198.18.0.12", "weight": 1, "mac": null}], "announce": "none"}"#
        let dns = #"{"name": "dns", "vip": "203.0.113.53", "port": null, "protocol": "udp", "scheduler": "sh", "maglev_table_size": 251, "#
            + #""health": {"type": "tcp", "port": 53, "interval_ms": 1500, "timeout_ms": 1000, "rise": 2, "fall": 3}, "#
            + #""backends": [{"address": "198.18.0.12", "weight": 2, "mac": null}], "announce": "arp"}"#
        let text = #"{"format": 1, "config_services": ["# + web + #"], "services": ["# + web + ", " + dns
            + #"], "drained": [{"service": "web", "address": "198.18.0.11"}]}"#
        let stateFile = StateFile(path: lab.statePath)
        let saved = try stateFile.decode(text)

        func ip(_ text: String) throws -> IPAddress { try IPAddress(parsing: text) }
        let webSpec = ServiceSpec(
            name: "web", key: ServiceKey(vip: try ip("203.0.113.10"), transport: .tcp, port: 80), scheduler: .rr,
            backends: [BackendSpec(address: try ip("198.18.0.11"), mac: try MACAddress(parsing: "02:00:00:00:01:11")),
                       BackendSpec(address: try ip("198.18.0.12"))])
        let dnsSpec = ServiceSpec(
            name: "dns", key: ServiceKey(vip: try ip("203.0.113.53"), transport: .udp, port: nil), scheduler: .sh,
            maglevTableSize: 251,
            health: HealthCheckSpec(type: .tcp, port: 53, intervalMilliseconds: 1_500, timeoutMilliseconds: 1_000),
            backends: [BackendSpec(address: try ip("198.18.0.12"), weight: 2)], announce: .arp)
        #expect(saved == SavedState(configServices: [webSpec], pool: RuntimePool(
            services: [webSpec, dnsSpec], drained: [RuntimePool.Member(service: "web", address: try ip("198.18.0.11"))])))

        let rewritten = stateFile.encode(saved)
        #expect(rewritten.hasPrefix(#"{"format": 2, "#) && rewritten.contains(#""interval": "1500ms", "timeout": "1s""#), "\(rewritten)")
        #expect(!rewritten.contains("null"), "\(rewritten)")
        #expect(try stateFile.decode(rewritten) == saved)
    }

    @Test func theStateFileIsReplacedAtomically() throws {
        try lab.start()
        #expect(try lab.ask(#"{"command": "backend weight", "service": "web", "address": "198.18.0.12", "weight": 3}"#).isOK)
        let directory = (lab.statePath as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["state.yaml"], "no temporary file is left")
        let attributes = try FileManager.default.attributesOfItem(atPath: lab.statePath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        // JSON is YAML: an operator's YAML tools read it.
        #expect(lab.stateFileText.hasPrefix("{\"format\": 2, \"config_services\": ["))
    }
}
