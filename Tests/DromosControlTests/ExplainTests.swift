import Foundation
import Testing
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosDatapath
import DromosHost
import DromosOffline
import DromosSystem
import DromosIO
import DromosWire

@Suite final class ExplainTests {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dromos-explain-\(UUID().uuidString)")

    init() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    /// 802.1Q VLAN 100, 198.51.100.7:40001 → 203.0.113.10:80, SYN.
    static let vlanSYN: [UInt8] = hex("""
        02 00 00 00 00 01 02 00 00 00 00 02 81 00 00 64 08 00
        45 00 00 28 1c 46 40 00 40 06 b8 44 c6 33 64 07 cb 00 71 0a
        9c 41 00 50 00 00 00 01 00 00 00 00 50 02 ff ff ad 0a 00 00
        """)

    /// A later IPv6 fragment: no ports.
    static let laterFragment: [UInt8] = hex("""
        02 00 00 00 00 01 02 00 00 00 00 02 86 dd
        60 00 00 00 00 10 2c 40 20 01 0d b8 01 00 00 00 00 00 00 00 00 00 00 07
        20 01 0d b8 ff ff 00 00 00 00 00 00 00 00 00 10
        11 00 00 10 de ad be ef 42 42 42 42 42 42 42 42
        """)

    static let arpRequest: [UInt8] = hex("""
        ff ff ff ff ff ff 02 00 00 00 00 02 08 06
        00 01 08 00 06 04 00 01 02 00 00 00 00 02 c6 12 00 01 00 00 00 00 00 00 cb 00 71 0a
        """)

    func explainLines(_ frames: [[UInt8]]) throws -> [String] {
        let file = directory.appendingPathComponent("frames.pcap").path
        do {
            let writer = try PcapFileWriter(path: file)
            for frame in frames { frame.withUnsafeBytes { writer.write($0) } }
        }
        var lines: [String] = []
        try Explainer.explain(capture: file) { lines.append($0.jsonLine) }
        return lines
    }

    @Test func printsTheBriefsSchemaInOrder() throws {
        let lines = try explainLines([Self.vlanSYN, Self.laterFragment, Self.arpRequest, [0x02, 0x00]])
        #expect(lines == [
            #"{"frame": 1, "verdict": "pass", "reason": "no-service", "vlan": [100], "l3": "ipv4", "flow": {"src": "198.51.100.7", "dst": "203.0.113.10", "proto": 6, "sport": 40001, "dport": 80}, "fragment": "none", "service": null, "backend": null, "dst_mac": null, "parse": "ok"}"#,
            #"{"frame": 2, "verdict": "pass", "reason": "no-service", "vlan": [], "l3": "ipv6", "flow": {"src": "2001:db8:100::7", "dst": "2001:db8:ffff::10", "proto": 17, "sport": null, "dport": null}, "fragment": "later", "service": null, "backend": null, "dst_mac": null, "parse": "ok"}"#,
            #"{"frame": 3, "verdict": "pass", "reason": "no-service", "vlan": [], "l3": "arp", "flow": null, "fragment": "none", "service": null, "backend": null, "dst_mac": null, "parse": "ok"}"#,
            #"{"frame": 4, "verdict": "pass", "reason": "no-service", "vlan": [], "l3": null, "flow": null, "fragment": "none", "service": null, "backend": null, "dst_mac": null, "parse": "runt-frame"}"#,
        ])
    }

    /// With `announce: arp`, the ARP request for the VIP is answered by Dromos itself.
    @Test func showsReplyForARPToAnAnnouncedVIP() throws {
        let yaml = """
            interface: eth0
            mac: "02:00:00:00:00:01"
            services:
              - name: web
                vip: 203.0.113.10
                port: 80
                announce: arp
                backends:
                  - { address: 198.18.1.11, mac: "02:00:00:00:01:11" }
            """
        let config = try ConfigLoader.parse(yaml: yaml, source: "t")
        let file = directory.appendingPathComponent("arp.pcap").path
        do {
            let writer = try PcapFileWriter(path: file)
            Self.arpRequest.withUnsafeBytes { writer.write($0) }
        }
        var lines: [String] = []
        try Explainer.explain(capture: file, config: config) { lines.append($0.jsonLine) }
        #expect(lines == [
            #"{"frame": 1, "verdict": "reply", "reason": "arp-reply", "vlan": [], "l3": "arp", "flow": null, "fragment": "none", "service": "web", "backend": null, "dst_mac": null, "parse": "ok"}"#,
        ])
    }

    @Test func linesAreValidJSON() throws {
        for line in try explainLines([Self.vlanSYN, Self.laterFragment]) {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["verdict"] as? String == "pass")
        }
    }

    @Test func fillsServiceBackendAndMACWhenGiven() throws {
        let parsed = Self.vlanSYN.withUnsafeBytes { FrameParser.parse($0) }
        let explanation = FrameExplanation(
            frameNumber: 7, parsed: parsed, verdict: "forward", reason: "ok", service: "web \"prod\"",
            backend: .v4(IPv4Address(198, 18, 1, 11)), destinationMAC: MACAddress(rawValue: 0x0200_0000_0111))
        #expect(explanation.jsonLine.contains(#""service": "web \"prod\"", "backend": "198.18.1.11", "dst_mac": "02:00:00:00:01:11""#))
    }

    @Test func escapesControlCharacters() {
        var line = JSONLine()
        line.add("k", .string("a\u{1}b\nc\\"))
        #expect(line.encoded == #"{"k": "a\u0001b\nc\\"}"#)
    }
}

private func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}
