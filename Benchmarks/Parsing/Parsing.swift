// Hot-path benchmarks for DromosWire: frame parsing and the direct-routing MAC rewrite.
//
// Every benchmark works on one frame built once, when the suite registers, in memory allocated
// outside any measured region; each setup hook checks that the frame parses (or rewrites) as
// intended and stops the run with a fatal error otherwise, because timing a parse that fails
// early measures nothing useful. Each measured iteration handles the frame
// `scalingFactor` (1000) times, so the scaled figures in the table (marked `*`) are per frame.
//
// mallocCountTotal must stay 0: the static thresholds in ../Thresholds hold it at 0, and
// `tools/bench.sh` runs `swift package benchmark thresholds check` against them.

import Benchmark
import DromosWire

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        // No `.instructions`: package-benchmark counts them with perf_event_open(2), and this VM exposes
        // no hardware PMU (/sys/bus/event_source/devices has no `cpu`; the open fails with ENOENT), in
        // which case the metric is silently left empty. Add it back on hardware that has counters.
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 100,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 100_000,
        thresholds: [
            // No allocation at any percentile, whether against the static thresholds or another baseline.
            .mallocCountTotal: BenchmarkThresholds(
                relative: BenchmarkThresholds.Relative.none,
                absolute: [.p0: 0, .p25: 0, .p50: 0, .p75: 0, .p90: 0, .p99: 0, .p100: 0]
            ),
        ]
    )

    let tcpIPv4 = FrameFixture(TestFrames.tcpIPv4())
    Benchmark("Parse IPv4 TCP 64-byte frame") { benchmark in
        let frame = tcpIPv4.readOnly
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(FrameParser.parse(frame))
        }
        benchmark.stopMeasurement()
    } setup: {
        expectParse(tcpIPv4, length: 64, l3: .ipv4, vlanCount: 0, ipProtocol: IPProtocolNumber.tcp, l4Offset: 34)
    }

    let vlanTCPIPv4 = FrameFixture(TestFrames.vlanTCPIPv4())
    Benchmark("Parse VLAN IPv4 TCP frame") { benchmark in
        let frame = vlanTCPIPv4.readOnly
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(FrameParser.parse(frame))
        }
        benchmark.stopMeasurement()
    } setup: {
        expectParse(vlanTCPIPv4, length: 68, l3: .ipv4, vlanCount: 1, ipProtocol: IPProtocolNumber.tcp, l4Offset: 38)
    }

    let ipv6Extensions = FrameFixture(TestFrames.udpIPv6WithExtensionHeaders())
    Benchmark("Parse IPv6 with extension headers") { benchmark in
        let frame = ipv6Extensions.readOnly
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(FrameParser.parse(frame))
        }
        benchmark.stopMeasurement()
    } setup: {
        expectParse(
            ipv6Extensions, length: 94, l3: .ipv6, vlanCount: 0, ipProtocol: IPProtocolNumber.udp, l4Offset: 70
        )
    }

    let rewriteFrame = FrameFixture(TestFrames.tcpIPv4())
    let backendMAC = MACAddress(rawValue: TestFrames.backendMAC)
    let balancerMAC = MACAddress(rawValue: TestFrames.balancerMAC)
    Benchmark("Rewrite MACs") { benchmark in
        let frame = rewriteFrame.bytes
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(MACRewrite.apply(to: frame, destination: backendMAC, source: balancerMAC))
        }
        benchmark.stopMeasurement()
    } setup: {
        expectRewrite(rewriteFrame, destination: backendMAC, source: balancerMAC)
    }
}

// MARK: - Fixtures

/// One frame in memory of its own, allocated when the suite registers and never resized, so the
/// measured loops touch no allocator.
final class FrameFixture {
    let bytes: UnsafeMutableRawBufferPointer
    let template: [UInt8]

    init(_ template: [UInt8]) {
        self.template = template
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: template.count, alignment: 64)
        template.withUnsafeBytes { bytes.copyMemory(from: $0) }
    }

    deinit {
        bytes.deallocate()
    }

    var readOnly: UnsafeRawBufferPointer { UnsafeRawBufferPointer(bytes) }

    /// Puts the original bytes back (the rewrite benchmark changes them).
    func reset() {
        template.withUnsafeBytes { bytes.copyMemory(from: $0) }
    }
}

/// The fixture frames. Addresses and ports are fixed so the setup checks can name what they expect.
enum TestFrames {
    static let clientMAC: UInt64 = 0x02_00_00_00_00_01
    static let balancerMAC: UInt64 = 0x02_00_00_00_00_fe
    static let backendMAC: UInt64 = 0x02_00_00_00_00_42
    static let sourcePort: UInt16 = 49_152
    static let destinationPort: UInt16 = 443
    static let vlanID: UInt16 = 100

    /// Ethernet + IPv4 (20 bytes, total length 50) + TCP SYN (20 bytes) + 10 payload bytes: 64 bytes.
    static func tcpIPv4() -> [UInt8] {
        var frame = ethernetHeader(tags: [], etherType: EtherType.ipv4)
        frame += ipv4TCPDatagram()
        precondition(frame.count == 64)
        return frame
    }

    /// The same datagram behind one 802.1Q tag (TPID 0x8100, VLAN 100, priority 0): 68 bytes.
    static func vlanTCPIPv4() -> [UInt8] {
        var frame = ethernetHeader(tags: [(EtherType.vlan, vlanID)], etherType: EtherType.ipv4)
        frame += ipv4TCPDatagram()
        precondition(frame.count == 68)
        return frame
    }

    /// Ethernet + IPv6 (40) + hop-by-hop (8) + destination options (8) + UDP (8) + 16 payload bytes:
    /// payload length 40, 94 bytes in all.
    static func udpIPv6WithExtensionHeaders() -> [UInt8] {
        let payload = [UInt8](repeating: 0x5a, count: 16)
        // Each extension header: next header, length in 8-octet units beyond the first (0), then a
        // PadN option filling the remaining 6 bytes.
        let hopByHop: [UInt8] = [IPProtocolNumber.ipv6DestinationOptions, 0, 1, 4, 0, 0, 0, 0]
        let destinationOptions: [UInt8] = [IPProtocolNumber.udp, 0, 1, 4, 0, 0, 0, 0]
        var udp: [UInt8] = []
        udp.appendBigEndian(sourcePort)
        udp.appendBigEndian(destinationPort)
        udp.appendBigEndian(UInt16(8 + payload.count))
        udp.appendBigEndian(UInt16(0)) // checksum: not checked by the parser
        let upperLayer = hopByHop + destinationOptions + udp + payload

        var ipv6: [UInt8] = []
        ipv6.appendBigEndian(UInt32(0x6000_0000)) // version 6, traffic class 0, flow label 0
        ipv6.appendBigEndian(UInt16(upperLayer.count))
        ipv6.append(IPProtocolNumber.ipv6HopByHop)
        ipv6.append(64) // hop limit
        ipv6 += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x01] // 2001:db8::1
        ipv6 += [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [0x80] // 2001:db8::80

        var frame = ethernetHeader(tags: [], etherType: EtherType.ipv6)
        frame += ipv6 + upperLayer
        precondition(frame.count == 94)
        return frame
    }

    static func ethernetHeader(tags: [(tpid: UInt16, id: UInt16)], etherType: UInt16) -> [UInt8] {
        var header: [UInt8] = []
        header.appendMAC(balancerMAC)
        header.appendMAC(clientMAC)
        for tag in tags {
            header.appendBigEndian(tag.tpid)
            header.appendBigEndian(tag.id)
        }
        header.appendBigEndian(etherType)
        return header
    }

    /// IPv4 header (no options) + TCP header with only SYN set + 10 payload bytes: total length 50.
    static func ipv4TCPDatagram() -> [UInt8] {
        let payload = [UInt8](repeating: 0xa5, count: 10)
        var tcp: [UInt8] = []
        tcp.appendBigEndian(sourcePort)
        tcp.appendBigEndian(destinationPort)
        tcp.appendBigEndian(UInt32(0x1000_0000)) // sequence number
        tcp.appendBigEndian(UInt32(0)) // acknowledgment number
        tcp.append(5 << 4) // data offset: 5 words
        tcp.append(TCPFlag.syn)
        tcp.appendBigEndian(UInt16(64_240)) // window
        tcp.appendBigEndian(UInt16(0)) // checksum: not checked by the parser
        tcp.appendBigEndian(UInt16(0)) // urgent pointer

        var ip: [UInt8] = []
        ip.append(0x45) // version 4, IHL 5
        ip.append(0) // DSCP/ECN
        ip.appendBigEndian(UInt16(20 + tcp.count + payload.count))
        ip.appendBigEndian(UInt16(0x1c46)) // identification
        ip.appendBigEndian(UInt16(0x4000)) // don't fragment, offset 0
        ip.append(64) // TTL
        ip.append(IPProtocolNumber.tcp)
        ip.appendBigEndian(UInt16(0)) // checksum, filled below
        ip += [192, 0, 2, 1] // 192.0.2.1
        ip += [198, 51, 100, 10] // 198.51.100.10
        let checksum = internetChecksum(ip)
        ip[10] = UInt8(checksum >> 8)
        ip[11] = UInt8(checksum & 0xff)
        return ip + tcp + payload
    }

    static func internetChecksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var index = 0
        while index + 1 < bytes.count {
            sum += UInt32(bytes[index]) << 8 | UInt32(bytes[index + 1])
            index += 2
        }
        if index < bytes.count { sum += UInt32(bytes[index]) << 8 }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }
}

extension [UInt8] {
    mutating func appendBigEndian(_ value: UInt16) {
        append(UInt8(value >> 8))
        append(UInt8(value & 0xff))
    }

    mutating func appendBigEndian(_ value: UInt32) {
        appendBigEndian(UInt16(value >> 16))
        appendBigEndian(UInt16(value & 0xffff))
    }

    mutating func appendMAC(_ value: UInt64) {
        for shift in stride(from: 40, through: 0, by: -8) {
            append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }
}

// MARK: - Checks run once before measuring

/// Stops the benchmark run when the fixture does not parse cleanly. In package-benchmark 1.38.1 a
/// thrown setup error is only listed while the run still exits 0 (and `thresholds check` passes on
/// the missing results), so this crashes the benchmark process instead: that makes
/// `swift package benchmark` fail with "error: benchmarkCrashed".
func expectParse(
    _ fixture: FrameFixture, length: Int, l3: L3Kind, vlanCount: Int, ipProtocol: UInt8, l4Offset: Int
) {
    let parsed = FrameParser.parse(fixture.readOnly)
    var problems: [String] = []
    if fixture.bytes.count != length { problems.append("frame is \(fixture.bytes.count) bytes, expected \(length)") }
    if parsed.status != .ok { problems.append("status \(parsed.status.name), expected ok") }
    if parsed.l3 != l3 { problems.append("l3 \(parsed.l3.name ?? "none"), expected \(l3.name ?? "none")") }
    if parsed.vlanCount != vlanCount { problems.append("\(parsed.vlanCount) VLAN tags, expected \(vlanCount)") }
    if vlanCount > 0, parsed.outerVLAN.tpid != EtherType.vlan || parsed.outerVLAN.id != TestFrames.vlanID {
        problems.append("VLAN tag \(parsed.outerVLAN), expected 802.1Q VLAN \(TestFrames.vlanID)")
    }
    if parsed.ipProtocol != ipProtocol { problems.append("protocol \(parsed.ipProtocol), expected \(ipProtocol)") }
    // Past every header (for IPv6 both extension headers), where the TCP or UDP header starts.
    if parsed.l4Offset != l4Offset { problems.append("transport at \(parsed.l4Offset), expected \(l4Offset)") }
    if parsed.fragment != .none { problems.append("fragment \(parsed.fragment.name), expected none") }
    if !parsed.hasPorts { problems.append("hasPorts false") }
    if let flow = parsed.flow {
        if flow.sourcePort != TestFrames.sourcePort || flow.destinationPort != TestFrames.destinationPort {
            problems.append(
                "ports \(flow.sourcePort)->\(flow.destinationPort), "
                    + "expected \(TestFrames.sourcePort)->\(TestFrames.destinationPort)"
            )
        }
    } else {
        problems.append("no flow")
    }
    if ipProtocol == IPProtocolNumber.tcp, parsed.tcpFlags != TCPFlag.syn {
        problems.append("TCP flags \(parsed.tcpFlags), expected SYN only")
    }
    if !problems.isEmpty {
        fatalError("Parsing benchmark fixture does not parse as intended: " + problems.joined(separator: "; "))
    }
}

/// Checks that the rewrite reports success and writes exactly the two MACs, then restores the frame.
func expectRewrite(_ fixture: FrameFixture, destination: MACAddress, source: MACAddress) {
    var problems: [String] = []
    // The MACs given as text must be the ones the benchmark writes (checks MACAddress(parsing:) too).
    do {
        if try MACAddress(parsing: "02:00:00:00:00:42") != destination
            || MACAddress(parsing: "02:00:00:00:00:fe") != source
        {
            problems.append("MACAddress(parsing:) disagrees with the fixture MACs")
        }
    } catch {
        problems.append("MACAddress(parsing:) failed: \(error)")
    }
    fixture.reset()
    if !MACRewrite.apply(to: fixture.bytes, destination: destination, source: source) {
        problems.append("apply returned false")
    }
    let after = FrameParser.parse(fixture.readOnly)
    if after.destinationMAC != destination { problems.append("destination \(after.destinationMAC), expected \(destination)") }
    if after.sourceMAC != source { problems.append("source \(after.sourceMAC), expected \(source)") }
    if after.status != .ok { problems.append("rewritten frame parses as \(after.status.name)") }
    if Array(fixture.bytes[12...]) != Array(fixture.template[12...]) {
        problems.append("bytes beyond the two MACs changed")
    }
    fixture.reset()
    if !problems.isEmpty {
        fatalError("Rewrite benchmark fixture check failed: " + problems.joined(separator: "; "))
    }
}
