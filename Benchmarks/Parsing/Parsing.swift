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
import Fixtures

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
