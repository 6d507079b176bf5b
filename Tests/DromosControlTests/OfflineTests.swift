import Foundation
import Testing
import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import DromosIO
import DromosWire

/// Replay, explain and whatif over real capture files and YAML configurations.
@Suite final class OfflineTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-offline-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    static func config(backends: Int = 3, skip: Set<Int> = [], weight: (Int) -> Int = { _ in 1 },
                       scheduler: String = "maglev", mac: Bool = true) -> String {
        let lines = (0..<backends).filter { !skip.contains($0) }.map { index in
            "      - { address: 198.18.1.\(11 + index), weight: \(weight(index))"
                + (mac ? ", mac: \"02:00:00:00:01:\(String(format: "%02x", 0x11 + index))\"" : "") + " }"
        }
        return """
            interface: eth0
            mac: "02:00:00:00:00:01"
            services:
              - name: web
                vip: 203.0.113.10
                port: 80
                protocol: tcp
                scheduler: \(scheduler)
                backends:
            \(lines.joined(separator: "\n"))
            """
    }

    func load(_ yaml: String) throws -> DromosConfig {
        try ConfigLoader.parse(yaml: yaml, source: "test.yaml")
    }

    func capture(_ frames: [[UInt8]], name: String = "in.pcap") throws -> String {
        let path = directory.appendingPathComponent(name).path
        let writer = try PcapFileWriter(path: path)
        for (index, frame) in frames.enumerated() {
            frame.withUnsafeBytes { writer.write($0, timestampNanoseconds: 1_700_000_000_000_000_000 + Int64(index) * 1_000_000) }
        }
        try writer.flush()
        return path
    }

    static func syn(client: UInt8, port: UInt16 = 80, destination: [UInt8] = [203, 0, 113, 10]) -> [UInt8] {
        let ethernet: [UInt8] = [0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0xfe, 0x08, 0x00]
        let ip: [UInt8] = [0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 198, 51, 100, client] + destination
        let tcp: [UInt8] = [0x9c, client, UInt8(port >> 8), UInt8(port & 0xff), 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]
        return ethernet + ip + tcp
    }

    @Test func replayWritesExactlyTheForwardedFramesRewritten() throws {
        var frames = (1...40).map { Self.syn(client: UInt8($0)) }
        frames.append(Self.syn(client: 1, destination: [198, 18, 9, 9]))  // not a VIP: pass
        frames.append(Self.syn(client: 2, port: 443))                       // VIP, no service on 443: pass
        frames.append(Array(Self.syn(client: 3).prefix(40)))               // VIP, cut TCP header: drop
        let input = try capture(frames)
        let output = directory.appendingPathComponent("out.pcap").path
        let summary = try Replayer.replay(config: load(Self.config()), input: input, output: output)
        #expect(summary.frames == 43)
        #expect(summary.written == 40)
        #expect(summary.statistics.decisions.contains(DecisionCount(verdict: .forward, reason: "ok", frames: 40)))
        #expect(summary.statistics.decisions.contains(DecisionCount(verdict: .pass, reason: "no-service", frames: 2)))
        #expect(summary.statistics.decisions.contains(DecisionCount(verdict: .drop, reason: "ipv4-total-length-exceeds-frame", frames: 1)))
        #expect(summary.statistics.backends.map(\.packets).reduce(0, +) == 40)
        #expect(summary.text.contains("43 frames read, 40 forwarded frames written"))

        var written: [[UInt8]] = []
        try PcapFileReader(path: output).forEachFrame { written.append(Array($0.bytes)) }
        #expect(written.count == 40)
        let backendMACs = (0..<3).map { MACAddress(rawValue: 0x0200_0000_0111 + UInt64($0)).octets }
        for (index, frame) in written.enumerated() {
            #expect(backendMACs.contains(Array(frame[0..<6])))
            #expect(Array(frame[6..<12]) == [0x02, 0, 0, 0, 0, 0x01])
            #expect(Array(frame[12...]) == Array(frames[index][12...]))
        }
    }

    @Test func explainWithAConfigNamesServiceBackendAndMAC() throws {
        let input = try capture([Self.syn(client: 7), Self.syn(client: 7, destination: [198, 18, 9, 9])])
        var lines: [String] = []
        try Explainer.explain(capture: input, config: load(Self.config(backends: 1))) { lines.append($0.jsonLine) }
        #expect(lines == [
            #"{"frame": 1, "verdict": "forward", "reason": "ok", "vlan": [], "l3": "ipv4", "flow": {"src": "198.51.100.7", "dst": "203.0.113.10", "proto": 6, "sport": 39943, "dport": 80}, "fragment": "none", "service": "web", "backend": "198.18.1.11", "dst_mac": "02:00:00:00:01:11", "parse": "ok"}"#,
            #"{"frame": 2, "verdict": "pass", "reason": "no-service", "vlan": [], "l3": "ipv4", "flow": {"src": "198.51.100.7", "dst": "198.18.9.9", "proto": 6, "sport": 39943, "dport": 80}, "fragment": "none", "service": null, "backend": null, "dst_mac": null, "parse": "ok"}"#,
        ])
    }

    @Test func explainSaysWhyABackendWithoutMACGetsNothing() throws {
        let input = try capture([Self.syn(client: 7)])
        var lines: [String] = []
        try Explainer.explain(capture: input, config: load(Self.config(backends: 1, mac: false))) { lines.append($0.jsonLine) }
        #expect(lines.count == 1)
        #expect(lines[0].contains(#""verdict": "drop", "reason": "no-backend""#))
        #expect(lines[0].contains(#""service": "web", "backend": null"#))
    }

    @Test func whatifRemovingOneOfTenMovesItsShareAndLittleMore() throws {
        let old = try load(Self.config(backends: 10))
        let new = try load(Self.config(backends: 10, skip: [4]))
        let report = try DisruptionAnalysis.compare(old: old, new: new, flowsPerService: 100_000)
        let web = try #require(report.services.first)
        #expect(web.flows == 100_000)
        // Only the removed backend's flows move while the flow table holds them.
        #expect(web.movedKeepingState > 9_000 && web.movedKeepingState < 11_000)
        let moved = try #require(web.movedLosingState)
        #expect(moved >= web.movedKeepingState)
        #expect(Double(moved) <= Double(web.minimumMoved) + 0.01 * 100_000, "moved \(moved), minimum \(web.minimumMoved)")
        #expect(web.minimumMoved == 10_000)
        #expect(abs(web.movedKeepingState - web.minimumMoved) < 500)
        #expect(report.text.contains("service web (tcp 203.0.113.10:80, maglev): 100000 flows"))
        #expect(report.jsonLines.count == 1)
    }

    /// Backends without a static MAC (resolved by ARP in a daemon) count as the daemon sees them once resolved.
    @Test func whatifCountsBackendsWhoseMACIsResolvedByARP() throws {
        let old = try load(Self.config(backends: 10, mac: false))
        let new = try load(Self.config(backends: 10, skip: [4], mac: false))
        let web = try #require(try DisruptionAnalysis.compare(old: old, new: new, flowsPerService: 20_000).services.first)
        #expect(web.minimumMoved == 2_000)
        #expect(web.movedKeepingState > 1_600 && web.movedKeepingState < 2_400, "\(web.movedKeepingState)")
    }

    @Test func whatifOnAStatefulSchedulerSaysWhatItCannotKnow() throws {
        let old = try load(Self.config(backends: 3, scheduler: "rr"))
        let new = try load(Self.config(backends: 3, weight: { $0 == 0 ? 0 : 1 }, scheduler: "rr"))
        let report = try DisruptionAnalysis.compare(old: old, new: new, flowsPerService: 3_000)
        let web = try #require(report.services.first)
        #expect(web.movedLosingState == nil)
        // Draining keeps every flow where it is.
        #expect(web.movedKeepingState == 0)
        #expect(web.minimumMoved == 1_000)
        #expect(report.text.contains("not predictable"))
    }

    @Test func whatifSpreadsLeastConnectionPlacementsLikeRealFlows() throws {
        let old = try load(Self.config(backends: 3, scheduler: "wlc"))
        let new = try load(Self.config(backends: 3, skip: [2], scheduler: "wlc"))
        let report = try DisruptionAnalysis.compare(old: old, new: new, flowsPerService: 3_000)
        let web = try #require(report.services.first)
        // 1000 flows each before; only the removed backend's thousand move.
        #expect(web.movedKeepingState == 1_000)
        #expect(web.movedLosingState == nil)
        #expect(web.minimumMoved == 1_000)
    }

    @Test func whatifOfAnUnchangedPoolMovesNothing() throws {
        let report = try DisruptionAnalysis.compare(old: load(Self.config()), new: load(Self.config()), flowsPerService: 10_000)
        #expect(report.services.first?.movedLosingState == 0)
        #expect(report.services.first?.minimumMoved == 0)
        #expect(report.services.first?.movedKeepingState == 0)
    }

    @Test func whatifTakesFlowsFromACapture() throws {
        let input = try capture((1...50).map { Self.syn(client: UInt8($0)) } + (1...50).map { Self.syn(client: UInt8($0)) })
        let report = try DisruptionAnalysis.compare(old: load(Self.config()), new: load(Self.config(skip: [0])), capture: input)
        #expect(report.services.first?.flows == 50)
    }
}
