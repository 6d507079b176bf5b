import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosHealth
import DromosWire
import Foundation
import Testing

/// What the health checks and the operator's overrides do to the running table, through a real control
/// plane and socket (``ControlLab``): checks take backends out, `backend down|up|auto` override them, the
/// overrides survive a restart and a reload, and `on_all_down` decides what a service with none up does.
@Suite(.serialized)
final class HealthControlTests {
    let lab: ControlLab
    static let s1 = IPAddress.v4(IPv4Address(198, 18, 0, 11))
    static let s2 = IPAddress.v4(IPv4Address(198, 18, 0, 12))

    init() throws {
        lab = try ControlLab()
    }

    func writeConfig(onAllDown: String? = nil) throws {
        try lab.writeConfig()
        var text = try String(contentsOfFile: lab.configPath, encoding: .utf8)
        text = text.replacingOccurrences(
            of: "    backends:\n",
            with: "    health: { type: tcp, interval: 1s, timeout: 500ms }\n" + (onAllDown.map { "    on_all_down: \($0)\n" } ?? "") + "    backends:\n")
        try text.write(toFile: lab.configPath, atomically: true, encoding: .utf8)
    }

    func key(_ address: IPAddress) -> BackendKey {
        BackendKey(service: lab.plane.running.pool.services[0].key, address: address)
    }

    /// The addresses of the backends that take new flows in the running table.
    var usable: [IPAddress] {
        let table = lab.plane.running.table
        return table.usableBackends(service: 0).map { table.backendAddress($0) }.sorted { $0.description < $1.description }
    }

    func states() throws -> [String: String] {
        let reply = try lab.ask(#"{"command": "backends", "service": "web"}"#)
        return Dictionary(uniqueKeysWithValues: (reply["backends"]?.items ?? []).map { ($0["address"]?.text ?? "", $0["state"]?.text ?? "") })
    }

    func logged(_ text: String) -> Bool {
        let lines = lab.logLines.withLock { lines in lines }
        return lines.contains { $0.contains(text) }
    }

    func ask(_ command: String, _ address: IPAddress) throws -> ParsedJSON {
        try lab.ask(#"{"command": "\#(command)", "service": "web", "address": "\#(address)"}"#)
    }

    @Test func checksTakeBackendsOutAndOverridesWinUntilAuto() throws {
        try writeConfig()
        try lab.start()
        #expect(usable == [Self.s1, Self.s2])
        let generation = lab.plane.running.generation
        #expect(lab.plane.setHealthDown([key(Self.s1)]) == generation + 1)
        #expect(usable == [Self.s2])
        #expect(try states() == ["198.18.0.11": "down", "198.18.0.12": "active"])
        #expect(lab.plane.setHealthDown([key(Self.s1)]) == nil, "the same set publishes nothing")

        #expect(try ask("backend up", Self.s1).isOK)
        #expect(usable == [Self.s1, Self.s2], "forced up wins over the check")
        #expect(try ask("backend down", Self.s2).isOK)
        #expect(usable == [Self.s1], "forced down wins over the check")
        let twice = try ask("backend down", Self.s2)
        #expect(!twice.isOK && (twice["error"]?.text ?? "").contains("is forced down already"), "\(twice)")
        #expect(try ask("backend auto", Self.s1).isOK)
        #expect(usable.isEmpty, "back to its check, which has it down; s2 is forced down: nothing is up")
        #expect(logged("service web has no backend up: its VIP traffic is dropped"))
        let notForced = try ask("backend auto", Self.s1)
        #expect(!notForced.isOK && (notForced["error"]?.text ?? "").contains("is not forced"), "\(notForced)")
        let status = try lab.ask(#"{"command": "status"}"#)
        #expect(status["health_down"]?.int == 1 && status["forced"]?.int == 1, "\(status)")

        // The override is in the state file: a restart keeps it (the checks' findings are not kept: they run again).
        lab.plane.setHealthDown([])
        #expect(usable == [Self.s1])
        #expect(logged("service web has a backend up again"))
        #expect(lab.stateFileText.contains(#""forced": [{"service": "web", "address": "198.18.0.12", "state": "down"}]"#), "\(lab.stateFileText)")
        try lab.restart()
        #expect(lab.plane.running.pool.forced == [RuntimePool.Member(service: "web", address: Self.s2): .down])
        #expect(usable == [Self.s1])
        // A reload starts from the file but keeps the overrides of backends that stay.
        #expect(try lab.ask(#"{"command": "reload"}"#).isOK)
        #expect(usable == [Self.s1])
        #expect(try ask("backend auto", Self.s2).isOK)
        #expect(usable == [Self.s1, Self.s2])
    }

    @Test func onAllDownForwardKeepsForwardingToTheBackendsNotForcedDown() throws {
        try writeConfig(onAllDown: "forward")
        try lab.start()
        lab.plane.setHealthDown([key(Self.s1), key(Self.s2)])
        #expect(usable == [Self.s1, Self.s2], "every backend down by the checks: forward to the whole pool")
        #expect(logged("forwarding to all its backends not forced down (on_all_down: forward)"))
        #expect(try ask("backend down", Self.s2).isOK)
        #expect(usable == [Self.s1], "never to one forced down")
        lab.plane.setHealthDown([key(Self.s2)])
        #expect(usable == [Self.s1])
    }
}
