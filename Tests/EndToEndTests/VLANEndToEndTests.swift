import DromosLab
import Foundation
import Glibc
import Testing

/// `dromos run` on a VLAN trunk. Client and backends sit on an untagged segment (VLAN 100); the balancer's
/// link is a tagged trunk behind a raw-socket relay (`Services.vlanRelay`), because this kernel has no
/// 8021q, no bridge VLAN filtering and no tc vlan action to make one. The kernel strips the tag into the
/// ring header; the AF_PACKET port must put it back so that the rewritten frame leaves tagged, or the
/// relay would not carry it to the backends.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class VLANEndToEndTests: DaemonLabTest {
    let lab = NetworkLab()
    static let vlan = 100

    @Test(arguments: ["afpacket", "pcap"])
    func taggedFramesAreForwardedTaggedAndEveryConnectionSucceeds(io: String) async throws {
        let started = Date()
        let net = try await topology(vlan: Self.vlan)
        try await prepare(net, for: io)
        let config = try writeConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80))
        }
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        let capture = Self.temporaryFile("pcap")
        defer { try? FileManager.default.removeItem(at: capture) }
        // No capture filter: libpcap puts the stripped tag back into the saved frames, and the filters
        // below then read the tag from the frame itself.
        let tcpdump = try await startCapture(in: net.balancer, interface: "lb0", to: capture)
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "2", "--io", io])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)
        // The relay only once the daemon receives: every frame it puts on the trunk is then counted by both.
        let relay = try await lab.start(net.bridge, Services.vlanRelay(access: "tu", trunk: "tr", vlan: Self.vlan))
        defer { if relay.isRunning { relay.terminate() } }
        #expect(await waitForText("relaying", in: relay.output), "the VLAN relay did not start: \(log(of: relay))")

        let result = try await connections(net.client, count: 100)
        #expect(result.failures.isEmpty, "\(result.failures.prefix(5))")
        #expect(result.answers.values.reduce(0, +) == 100, "\(result.answers)")
        #expect((result.answers["s1"] ?? 0) > 0 && (result.answers["s2"] ?? 0) > 0, "\(result.answers)")

        relay.signal(SIGTERM)
        let relayed = try await relay.finish(timeout: 60)
        // Nothing enters lb0 any more; let the balancer send on what it has received (a loaded machine
        // can hold a frame for a while) before it stops, so that what came in and what went out compare.
        await waitUntilQuiet(capture)
        let stopped = await stop(daemon)
        #expect(stopped.exited && stopped.status == 0, "\(stopped.log)")
        tcpdump.terminate()
        await waitForExit(tcpdump)

        let vlan = "vlan \(Self.vlan) and tcp and dst host \(Self.vip)"
        let arriving = try await captured(capture, "ether dst \(Self.balancerMAC) and \(vlan)", linkLevel: true)
        let backendMACs = Self.backendMACs.prefix(2).map { "ether dst \($0)" }.joined(separator: " or ")
        let leaving = try await captured(capture, "ether src \(Self.balancerMAC) and (\(backendMACs)) and \(vlan)", linkLevel: true)
        let untagged = try await captured(capture, "not vlan and dst host \(Self.vip)")
        let fromVIP = try await captured(capture, "src host \(Self.vip)") + (try await captured(capture, "vlan and src host \(Self.vip)"))
        print("VLAN: arriving \(arriving.first ?? "none")\nVLAN: leaving  \(leaving.first ?? "none")")
        #expect(arriving.count >= 100 * 3, "tagged client→VIP frames to the balancer: \(arriving.count)")
        // The capture is compared frame for frame only when tcpdump kept up; the exact counts are the
        // balancer's and the relay's own, below.
        if captureDrops(tcpdump) == 0 {
            #expect(leaving.count == arriving.count, "tagged client→VIP frames from the balancer to a backend: \(leaving.count)")
        }
        #expect(untagged.isEmpty, "untagged VIP frames on the trunk: \(untagged.prefix(3))")
        let counts = try JSONSerialization.jsonObject(with: Data((relayed.split(separator: "\n").last ?? "").utf8)) as? [String: Int] ?? [:]
        #expect(counts["other_vlan"] == 0 && counts["untagged_on_trunk"] == 0, "frames the trunk refused: \(counts)")
        #expect((counts["untagged"] ?? 0) >= leaving.count, "frames passed from the trunk: \(counts)")
        // Every tagged frame the relay put on the trunk reached the balancer, and every frame it forwarded
        // came back tagged: as many out as in, counted where nothing can drop a frame unnoticed.
        #expect(stopCount("received", in: stopped.log) == counts["tagged"], "\(counts), \(stopped.log)")
        #expect(stopCount("forwarded", in: stopped.log).map { $0 + (stopCount("passed", in: stopped.log) ?? 0) } == counts["tagged"],
                "\(counts), \(stopped.log)")
        #expect(stopCount("forwarded", in: stopped.log) == counts["untagged"], "\(counts), \(stopped.log)")
        #expect(fromVIP.isEmpty, "VIP→client frames on the balancer (not DSR): \(fromVIP.prefix(3))")
        print("VLAN end-to-end: \(result.answers), \(arriving.count) tagged frames in and \(leaving.count) out on lb0, relay \(counts), "
              + "\(String(format: "%.1f", Date().timeIntervalSince(started))) s\n\(stopped.log)")
    }
}
