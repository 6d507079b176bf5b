import DromosLab
import Foundation
import Glibc
import Testing

/// `--io pcap` on a link whose frames arrive with their checksums unfinished (the bridge-side peer of
/// lb0 keeps veth's default checksum offload): libpcap cannot see that, every forwarded frame is dropped
/// by the backends, and the daemon must say so within seconds, with the fix, and count it.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class PcapChecksumEndToEndTests: DaemonLabTest {
    let lab = NetworkLab()

    @Test func unfinishedChecksumsAreReportedWithinSecondsAndCounted() async throws {
        let net = try await topology()
        // What `prepare(for: "pcap")` does, but for the checksum offload: GRO off on lb0 (the daemon
        // refuses to start otherwise), segmentation off on the peer, its checksum offload left on.
        try await lab.exec(net.balancer, ["ethtool", "-K", "lb0", "gro", "off", "lro", "off"])
        try await lab.exec(net.bridge, ["ethtool", "-K", net.balancerPeer, "tso", "off", "gso", "off"])
        let offloads = try await lab.exec(net.bridge, ["ethtool", "-k", net.balancerPeer])
        try #require(offloads.contains("tx-checksumming: on"), "\(offloads)")
        let config = try writeConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let servers = try await net.backends.enumerated().asyncMap { index, backend in
            try await lab.start(backend, Services.nameServer(name: "s\(index + 1)", port: 80))
        }
        defer { servers.forEach { if $0.isRunning { $0.terminate() } } }
        let daemon = try await lab.start(net.balancer, [Self.dromos, "run", "--config", config.path, "--workers", "1", "--io", "pcap"])
        defer { if daemon.isRunning { daemon.terminate() } }
        try await waitUntilRunning(daemon)

        let trafficStarted = Date()
        let clients = try await lab.start(net.client, Services.continuousConnections(host: Self.vip, port: 80, seconds: 8, timeout: 0.5))
        #expect(await waitForLog(daemon, "carried a TCP/UDP checksum that does not hold", seconds: 30), "\(log(of: daemon))")
        let warnedAfter = Date().timeIntervalSince(trafficStarted)
        // Timed from before the client's Python starts: generous for a loaded machine; the figure is printed.
        #expect(warnedAfter <= 15, "warned \(warnedAfter) s after the traffic started")
        #expect(log(of: daemon).contains("ethtool -K PEER tx off"), "the fix is named")
        let stats = try await lab.exec(net.balancer, [Self.dromos, "ctl", "--socket", config.path + ".sock", "--json", "stats"])
        let totals = (try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any])?["totals"] as? [String: Any] ?? [:]
        let counted = totals["bad_checksums"] as? Int ?? 0
        #expect(counted > 0, "\(stats)")
        _ = try? await clients.finish(timeout: 60)
        let stopped = await stop(daemon)
        #expect(stopped.exited && stopped.status == 0, "\(stopped.log)")
        let warning = stopped.log.split(separator: "\n").first { $0.contains("does not hold") } ?? ""
        print("pcap with checksum offload on the peer: warned \(String(format: "%.1f", warnedAfter)) s after traffic started, "
              + "bad_checksums \(counted); \(warning)")
    }
}
