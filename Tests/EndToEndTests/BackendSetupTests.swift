import DromosLab
import Foundation
import Glibc
import Testing

/// `dromos backend setup|check|teardown` in a namespace of its own: a backend with one uplink (eth0, in
/// 198.18.1.0/24) to a client namespace. The tests compare the namespace's addresses and settings
/// before and after, and ask the wire (ARP and NS from the client) whether the backend claims a VIP.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class BackendSetupTests {
    let lab = NetworkLab()
    static let vip = "203.0.113.20"
    static let vip6 = "2001:db8:ffff::20"
    let statePath = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-backend-\(UUID().uuidString).yaml").path

    deinit {
        try? FileManager.default.removeItem(atPath: statePath)
    }

    struct Pair {
        var client: String
        var backend: String
    }

    func pair() async throws -> Pair {
        let client = try await lab.namespace("bc", ipv6: true)
        let backend = try await lab.namespace("bs", ipv6: true)
        try await lab.veth("eth0", in: backend, "c0", in: client, firstMAC: "02:00:00:00:02:11", secondMAC: "02:00:00:00:02:01")
        try await lab.exec(backend, ["ip", "addr", "add", "198.18.1.11/24", "dev", "eth0"])
        try await lab.exec(client, ["ip", "addr", "add", "198.18.1.1/24", "dev", "c0"])
        try await lab.exec(backend, ["ip", "-6", "addr", "add", "2001:db8:1::11/64", "dev", "eth0", "nodad"])
        try await lab.exec(client, ["ip", "-6", "addr", "add", "2001:db8:1::1/64", "dev", "c0", "nodad"])
        // The VIPs on-link at the client: it asks the wire who has them, as a router without a route would.
        try await lab.exec(client, ["ip", "route", "add", "\(Self.vip)/32", "dev", "c0"])
        try await lab.exec(client, ["ip", "-6", "route", "add", "\(Self.vip6)/128", "dev", "c0"])
        return Pair(client: client, backend: backend)
    }

    func dromos(_ namespace: String, _ arguments: [String], as user: UInt32? = nil) async throws -> CommandOutcome {
        let drop = user.map { ["setpriv", "--reuid=\($0)", "--regid=\($0)", "--clear-groups"] } ?? []
        let command = ["ip", "netns", "exec", namespace] + drop + [DaemonEndToEndTests.dromos, "backend"] + arguments
        return try await LabCommand.outcome(command)
    }

    func vipArguments(_ subcommand: String) -> [String] {
        [subcommand, "--vip", Self.vip, "--vip", Self.vip6, "--state", statePath]
    }

    /// Every address and every ARP setting of the namespace, as text to compare.
    func snapshot(_ namespace: String) async throws -> String {
        let addresses = try await lab.exec(namespace, ["ip", "-o", "addr", "show"])
            .split(separator: "\n").map { $0.split(separator: " ").prefix(4).joined(separator: " ") }.sorted()
        let settings = try await lab.exec(namespace, ["sysctl", "net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.all.arp_announce",
                                                "net.ipv4.conf.eth0.arp_ignore", "net.ipv4.conf.eth0.arp_announce"])
        return (addresses + [settings]).joined(separator: "\n")
    }

    /// The MAC the client learned for `address` after trying to reach it, or nil when nobody answered.
    func resolvedMAC(_ client: String, _ address: String) async throws -> String? {
        let family = address.contains(":") ? "-6" : "-4"
        _ = try? await lab.exec(client, ["ip", family, "neigh", "flush", "to", address])
        _ = try? await lab.exec(client, ["timeout", "3", "bash", "-c", "exec 3<>/dev/tcp/\(address)/80"], timeout: 10)
        let entry = try await lab.exec(client, ["ip", family, "neigh", "show", "to", address])
        let words = entry.split(separator: " ")
        guard let index = words.firstIndex(of: "lladdr"), index + 1 < words.count else { return nil }
        return String(words[index + 1])
    }

    @Test func setupIsIdempotentAndTeardownRestoresExactly() async throws {
        let net = try await pair()
        // What was there before must survive teardown: an address on lo and a non-default setting.
        try await lab.exec(net.backend, ["ip", "addr", "add", "203.0.113.99/32", "dev", "lo"])
        try await lab.exec(net.backend, ["sysctl", "-qw", "net.ipv4.conf.eth0.arp_announce=1"])
        let before = try await snapshot(net.backend)

        let first = try await dromos(net.backend, vipArguments("setup"))
        #expect(first.status == 0, "\(first.errors)")
        #expect(first.output.contains("add \(Self.vip)/32 on lo"))
        #expect(first.output.contains("add \(Self.vip6)/128 on lo (nodad)"))
        #expect(first.output.contains("set net.ipv4.conf.eth0.arp_announce = 2 (was 1)"))
        let state = try String(contentsOfFile: statePath, encoding: .utf8)
        let during = try await snapshot(net.backend)
        #expect(during != before)

        let second = try await dromos(net.backend, vipArguments("setup"))
        #expect(second.status == 0)
        let lines = second.output.split(separator: "\n")
        #expect(lines.count == 6)
        #expect(lines.allSatisfy { $0.hasPrefix("ok: ") && $0.hasSuffix("already") }, "\(second.output)")
        #expect(try String(contentsOfFile: statePath, encoding: .utf8) == state)
        await #expect(try snapshot(net.backend) == during)

        let check = try await dromos(net.backend, vipArguments("check"))
        #expect(check.status == 0, "\(check.output)")
        #expect(!check.output.contains("FAIL"))

        let teardown = try await dromos(net.backend, ["teardown", "--state", statePath])
        #expect(teardown.status == 0, "\(teardown.errors)")
        #expect(teardown.output.contains("restore net.ipv4.conf.eth0.arp_announce = 1"))
        await #expect(try snapshot(net.backend) == before)
        #expect(!FileManager.default.fileExists(atPath: statePath))
        let again = try await dromos(net.backend, ["teardown", "--state", statePath])
        #expect(again.status == 0)
        #expect(again.output.hasPrefix("nothing to undo"))
        await #expect(try snapshot(net.backend) == before)
    }

    /// A VIP that was on lo before setup is kept by teardown; one torn down alone leaves the other's
    /// ARP settings in place until the last goes.
    @Test func teardownKeepsWhatSetupFound() async throws {
        let net = try await pair()
        try await lab.exec(net.backend, ["ip", "addr", "add", "\(Self.vip)/32", "dev", "lo"])
        let before = try await snapshot(net.backend)
        await #expect(try dromos(net.backend, vipArguments("setup")).status == 0)
        let partial = try await dromos(net.backend, ["teardown", "--vip", Self.vip6, "--state", statePath])
        #expect(partial.output.contains("remove \(Self.vip6)/128 on lo"))
        #expect(partial.output.contains("keep the ARP settings"))
        #expect(try await lab.exec(net.backend, ["sysctl", "-n", "net.ipv4.conf.all.arp_ignore"]) == "1\n")
        let rest = try await dromos(net.backend, ["teardown", "--state", statePath])
        #expect(rest.output.contains("keep \(Self.vip) on lo: it was there before setup"))
        await #expect(try snapshot(net.backend) == before)
    }

    @Test func checkNamesEachFailureWithItsFix() async throws {
        let net = try await pair()
        try await lab.exec(net.backend, ["ip", "-6", "addr", "add", "\(Self.vip6)/128", "dev", "eth0", "nodad"])
        let check = try await dromos(net.backend, vipArguments("check"))
        #expect(check.status == 1)
        let output = check.output
        #expect(output.contains("FAIL  VIP \(Self.vip) is on lo\n      fix: dromos backend setup --vip \(Self.vip) --vip \(Self.vip6)"))
        #expect(output.contains("ip addr add \(Self.vip)/32 dev lo)"))
        #expect(output.contains("FAIL  VIP \(Self.vip6) is on no other interface (the host answers neighbor solicitations there): \(Self.vip6)/128 on eth0"))
        #expect(output.contains("fix: ip addr del \(Self.vip6)/128 dev eth0"))
        #expect(output.contains("FAIL  net.ipv4.conf.eth0.arp_ignore = 0, want 1 or 2 or 8"))
        #expect(output.contains("sysctl -w net.ipv4.conf.all.arp_announce=2"))
        #expect(output.contains("ok    lo is up"))
        // Setup refuses to go on while the VIP sits on the uplink, and changes nothing.
        let before = try await snapshot(net.backend)
        let setup = try await dromos(net.backend, vipArguments("setup"))
        #expect(setup.status == 1)
        #expect(setup.errors.contains("VIP \(Self.vip6) is also \(Self.vip6)/128 on eth0"))
        await #expect(try snapshot(net.backend) == before)
    }

    @Test func explainsThatItNeedsRoot() async throws {
        let net = try await pair()
        let before = try await snapshot(net.backend)
        let refused = try await dromos(net.backend, vipArguments("setup"), as: 65534)
        #expect(refused.status == 1)
        #expect(refused.errors.contains("needs root"))
        #expect(refused.errors.contains("--dry-run"))
        let dryRun = try await dromos(net.backend, vipArguments("setup") + ["--dry-run"], as: 65534)
        #expect(dryRun.status == 0, "\(dryRun.errors)")
        #expect(dryRun.output.contains("would add \(Self.vip)/32 on lo"))
        #expect(dryRun.output.contains("would set net.ipv4.conf.all.arp_ignore = 1 (was 0)"))
        await #expect(try snapshot(net.backend) == before)
        #expect(!FileManager.default.fileExists(atPath: statePath))
    }

    /// What the settings are for, seen on the wire: with the VIPs on lo alone, the backend answers ARP for
    /// the IPv4 VIP; after setup it does not. Linux never answers a neighbor solicitation for an address
    /// held on lo (the target must be on the receiving interface), so IPv6 needs no setting: checked both ways.
    @Test func theBackendNoLongerClaimsTheVIPs() async throws {
        let net = try await pair()
        try await lab.exec(net.backend, ["ip", "addr", "add", "\(Self.vip)/32", "dev", "lo"])
        try await lab.exec(net.backend, ["ip", "-6", "addr", "add", "\(Self.vip6)/128", "dev", "lo", "nodad"])
        await #expect(try resolvedMAC(net.client, Self.vip) == "02:00:00:00:02:11")
        await #expect(try resolvedMAC(net.client, Self.vip6) == nil)
        await #expect(try resolvedMAC(net.client, "2001:db8:1::11") == "02:00:00:00:02:11")  // NDP itself works

        await #expect(try dromos(net.backend, vipArguments("setup")).status == 0)
        await #expect(try resolvedMAC(net.client, Self.vip) == nil)
        await #expect(try resolvedMAC(net.client, Self.vip6) == nil)
        await #expect(try resolvedMAC(net.client, "198.18.1.11") == "02:00:00:00:02:11")  // ARP itself works
    }
}
