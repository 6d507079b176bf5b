import CAllocationCounter
import DromosDatapath
import DromosIO
import DromosSystem
import DromosWire
import DromosLab
import Foundation
import Testing

let pcapLiveSkipReason = "libpcap live-port tests need root (network namespaces and packet sockets); skipped"

/// The libpcap live port against real veth pairs in namespaces of its own (deleted by the lab, also
/// when a test fails). Offloads are off on every lab veth end: libpcap has no vnet header, so a
/// CHECKSUM_PARTIAL frame would be forwarded with the sender's unfinished checksum and a GSO
/// super-frame would be refused by send() (larger than the MTU); with offloads off the senders' stacks
/// finish checksums and segment themselves, as real NICs deliver them. It also keeps libpcap's ring
/// slots MTU-sized (it sizes them for 64 KiB frames when the interface has offloads on).
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: pcapLiveSkipReason)))
final class PcapLivePortTests {
    let lab = NetworkLab()

    func offloadsOff(_ namespace: String, _ interface: String) async throws {
        try await lab.exec(namespace, ["ethtool", "-K", interface, "tx", "off", "tso", "off", "gso", "off", "gro", "off"])
    }

    /// Namespaces "a" (the port) and "b" (the peer), linked by a0 <-> b0, offloads off.
    func pair() async throws -> (a: String, b: String) {
        let a = try await lab.namespace("a")
        let b = try await lab.namespace("b")
        try await lab.veth("a0", in: a, "b0", in: b)
        try await offloadsOff(a, "a0")
        try await offloadsOff(b, "b0")
        return (a, b)
    }

    static func configuration(_ interface: String) -> PcapLiveConfiguration {
        var configuration = PcapLiveConfiguration(interface: interface)
        configuration.bufferSize = 4 << 20
        return configuration
    }

    @Test func receivesWhatAPeerSends() async throws {
        let (a, b) = try await pair()
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            let port = try PcapLivePort(Self.configuration("a0"))
            let sender = try namespaces.start(b, Generator.raw(interface: "b0", count: 300, flows: 3, size: 150))
            var stamped = 0
            let got = port.collect(300, seconds: 60) { frame in if frame.timestampNanoseconds > 0 { stamped += 1 } }
            try namespaces.finish(sender)
            try port.updateKernelStatistics()
            return (got.frames, got.bytes, port.statistics, stamped)
        }
        #expect(result.0 == 300)
        #expect(result.1 == 300 * 150)
        #expect(result.2.received == 300)
        #expect(result.2.receivedBytes == 300 * 150)
        #expect(result.2.truncated == 0)
        #expect(result.2.kernelReceived >= 300, "pcap_stats counted the frames")
        #expect(result.2.kernelDrops == 0)
        #expect(result.3 == 300)
    }

    /// PCAP_D_IN: what the port injects is not read back (libpcap drops outgoing frames after the
    /// kernel handed them to its socket), while frames the peer sends afterwards are.
    @Test func receivesInboundFramesOnly() async throws {
        let (a, b) = try await pair()
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(b)
            var capture = testConfiguration("b0", version: .v2)
            capture.ignoreOutgoing = true
            let peer = try AFPacketPort(capture)
            try namespaces.enter(a)
            let port = try PcapLivePort(Self.configuration("a0"))
            for sequence in 0..<50 {
                _ = udpFrame(size: 100, sequence: sequence).withUnsafeBytes { port.transmit($0) }
            }
            let delivered = peer.collect(50, seconds: 60).frames
            // The 50 injected frames went through the port's own socket before the peer saw them; now
            // 5 frames from the peer, then a short wait for anything else.
            try namespaces.exec(b, Generator.raw(interface: "b0", count: 5, size: 90))
            var sizes: [Int] = []
            port.collect(5, seconds: 60) { frame in sizes.append(frame.bytes.count) }
            port.collect(1, seconds: 0.1) { frame in sizes.append(frame.bytes.count) }
            return (delivered, sizes)
        }
        #expect(result.0 == 50)
        #expect(result.1 == [90, 90, 90, 90, 90], "only the peer's frames, none of our 100-byte ones")
    }

    /// Frames injected by the port reach the peer byte for byte, in order, one send() each.
    @Test func transmitsToAPeerByteIdentical() async throws {
        let (a, b) = try await pair()
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(b)
            let capture = try AFPacketPort(testConfiguration("b0", version: .v2))
            try namespaces.enter(a)
            let port = try PcapLivePort(Self.configuration("a0"))
            var received = 0
            var identical = 0
            let check: (inout ReceivedFrame) -> Void = { frame in
                let expected = udpFrame(size: 60 + received % 200, sequence: received)
                received += 1
                if expected.count == frame.bytes.count,
                   expected.withUnsafeBytes({ memcmp($0.baseAddress!, frame.bytes.baseAddress!, $0.count) == 0 }) {
                    identical += 1
                }
            }
            var refused = 0
            var sentBytes = 0
            for sequence in 0..<2_000 {
                let frame = udpFrame(size: 60 + sequence % 200, sequence: sequence)
                sentBytes += frame.count
                if !frame.withUnsafeBytes({ port.transmit($0) }) { refused += 1 }
                port.flush()
                // Let the capture keep up: its V2 ring holds 512 frames.
                if sequence % 256 == 255 { capture.collect(256, seconds: 60, check) }
            }
            capture.collect(2_000 - 2_000 / 256 * 256, seconds: 60, check)
            return (received, identical, refused, sentBytes, port.statistics, port.lastTransmitError ?? "")
        }
        #expect(result.0 == 2_000)
        #expect(result.1 == 2_000, "every frame arrived in order, byte for byte")
        #expect(result.2 == 0)
        #expect(result.4.transmitted == 2_000)
        #expect(result.4.transmittedBytes == UInt64(result.3))
        #expect(result.4.transmitFailed == 0)
        #expect(result.5 == "")
    }

    /// A 2 MiB TCP upload carried by `PortBridge` over two libpcap ports (offloads off on the lab's
    /// veths, see the suite's comment); the server checks every byte.
    @Test func tcpUploadThroughAPcapBridge() async throws {
        let (client, forwarder, server) = try await lab.uploadTopology(offloads: false)
        let size = 2 << 20
        let lab = self.lab
        let result = try await lab.onThread(timeout: 300) { namespaces in
            try namespaces.enter(forwarder)
            let first = try PcapLivePort(Self.configuration("f0"))
            let second = try PcapLivePort(Self.configuration("f1"))
            let upload = try namespaces.uploadThroughBridge(client: client, server: server, size: size, first, second)
            return (upload.clientSent, upload.serverReceived, upload.report, first.statistics, second.statistics)
        }
        #expect(result.0 == String(size))
        #expect(result.1 == String(size))
        #expect(result.2.forward > 0 && result.2.backward > 0)
        #expect(result.3.truncated == 0 && result.4.truncated == 0)
        #expect(result.3.transmitFailed == 0 && result.4.transmitFailed == 0)
    }

    /// Receive → rewrite in place → transmit allocates nothing per frame.
    @Test func forwardingLoopAllocatesNothing() async throws {
        let (a, b) = try await pair()
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            let port = try PcapLivePort(Self.configuration("a0"))
            let sender = try namespaces.start(b, Generator.raw(interface: "b0", count: 3_000, flows: 8, size: 120))
            var frames = port.warmUpForwarding()
            let before = dromos_thread_allocation_count()
            let deadline = monotonicNanoseconds() + 60_000_000_000
            var idleSince = monotonicNanoseconds()
            let backend = MACAddress(rawValue: 0x02dd_0000_0009)
            // Until all 3000 arrived, or nothing came for 300 ms (a slow debug build may let the ring
            // overflow; drops do not matter here). No Process.isRunning here: Foundation allocates.
            while frames < 3_000 && monotonicNanoseconds() < deadline {
                let handled = port.receive(budget: 64) { frame in
                    guard isGenerated(frame.bytes) else { return }
                    frames += 1
                    _ = MACRewrite.apply(to: frame.bytes, destination: backend, source: MACAddress(rawValue: 0x02dd_0000_0001))
                    port.transmit(frame)
                }
                port.flush()
                if handled == 0 {
                    if monotonicNanoseconds() - idleSince > 300_000_000 { break }
                    _ = try? port.waitForFrames(timeoutMilliseconds: 5)
                } else {
                    idleSince = monotonicNanoseconds()
                }
            }
            let allocations = dromos_thread_allocation_count() - before
            try namespaces.finish(sender)
            return (frames, allocations, port.statistics.transmitted)
        }
        #expect(result.0 >= 1_000)
        #expect(result.1 == 0, "\(result.1) allocations for \(result.0) frames")
        #expect(result.2 == UInt64(result.0))
    }

    /// A frame libpcap's send() refuses (larger than the MTU) is counted, with libpcap's message; the
    /// next frame goes out.
    @Test func refusedFramesAreCountedWithTheMessage() async throws {
        let (a, b) = try await pair()
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(b)
            let capture = try AFPacketPort(testConfiguration("b0", version: .v2))
            try namespaces.enter(a)
            let port = try PcapLivePort(Self.configuration("a0"))
            let tooBig = udpFrame(size: 3_000, sequence: 0).withUnsafeBytes { port.transmit($0) }
            let fine = udpFrame(size: 100, sequence: 1).withUnsafeBytes { port.transmit($0) }
            let delivered = capture.collect(1, seconds: 60).bytes
            return (tooBig, fine, port.statistics, port.lastTransmitError ?? "", delivered)
        }
        #expect(!result.0)
        #expect(result.1)
        #expect(result.2.transmitFailed == 1 && result.2.transmitted == 1)
        #expect(result.3.contains("Message too long"), "\(result.3)")
        #expect(result.4 == 100)
    }

    /// A setup failure names the interface, the call, and libpcap's own message.
    @Test func openingAMissingInterfaceSaysWhich() async throws {
        let a = try await lab.namespace("a")
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            do {
                _ = try PcapLivePort(Self.configuration("dromos-none0"))
                return ""
            } catch {
                return String(describing: error)
            }
        }
        #expect(result.hasPrefix("libpcap on dromos-none0: pcap_activate: "), "\(result)")
        #expect(result.contains("dromos-none0") && result.count > 45, "\(result)")
    }
}

/// `dromos run --io pcap --workers N`: libpcap handles joined to one PACKET_FANOUT group through
/// `pcap_fileno` split the flows between them, each frame to exactly one handle, a flow to one handle.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: pcapLiveSkipReason)))
final class PcapFanoutTests {
    let lab = NetworkLab()

    @Test func handlesInOneFanoutGroupSplitTheFlows() async throws {
        let a = try await lab.namespace("a")
        let b = try await lab.namespace("b")
        try await lab.veth("a0", in: a, "b0", in: b)
        for (namespace, interface) in [(a, "a0"), (b, "b0")] {
            try await lab.exec(namespace, ["ethtool", "-K", interface, "tx", "off", "tso", "off", "gso", "off", "gro", "off"])
        }
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            var settings = PcapLiveConfiguration(interface: "a0")
            settings.bufferSize = 4 << 20
            settings.fanout = .init(groupID: UInt16.random(in: 1...0xfff0))
            let ports = [try PcapLivePort(settings), try PcapLivePort(settings)]
            let sender = try namespaces.start(b, Generator.raw(interface: "b0", count: 600, flows: 32, size: 110))
            var counts = [0, 0]
            // UDP source port → the handles that saw that flow.
            var owners: [UInt16: Set<Int>] = [:]
            let deadline = monotonicNanoseconds() + 60_000_000_000
            while counts.reduce(0, +) < 600 && monotonicNanoseconds() < deadline {
                var idle = true
                for (index, port) in ports.enumerated() {
                    let got = port.receive(budget: 64) { frame in
                        guard isGenerated(frame.bytes), frame.bytes.count >= 36 else { return }
                        counts[index] += 1
                        let sourcePort = UInt16(frame.bytes[34]) << 8 | UInt16(frame.bytes[35])
                        owners[sourcePort, default: []].insert(index)
                    }
                    if got > 0 { idle = false }
                }
                if idle { _ = try? ports[0].waitForFrames(timeoutMilliseconds: 5) }
            }
            try namespaces.finish(sender)
            return (counts, owners)
        }
        let (counts, owners) = result
        #expect(counts.reduce(0, +) == 600, "\(counts)")
        #expect(counts[0] > 0 && counts[1] > 0, "both handles get flows: \(counts)")
        #expect(owners.count == 32 && owners.values.allSatisfy { $0.count == 1 }, "a flow stays on one handle: \(owners)")
    }
}
