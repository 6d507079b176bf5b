import CAllocationCounter
import DromosDatapath
import DromosIO
import DromosSystem
import DromosWire
import DromosLab
import Foundation
import Testing

/// The AF_PACKET port against real veth pairs in namespaces of its own. Serialized: the tests share two
/// cores with the build, and timing-sensitive ones (latency, fanout) should not compete with each other.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class AFPacketPortTests {
    let lab = NetworkLab()

    /// Namespaces "a" (the port) and "b" (the peer), linked by a0 <-> b0.
    func pair(ipv6: Bool = false) async throws -> (a: String, b: String) {
        let a = try await lab.namespace("a", ipv6: ipv6)
        let b = try await lab.namespace("b", ipv6: ipv6)
        try await lab.veth("a0", in: a, "b0", in: b)
        return (a, b)
    }

    @Test(arguments: [AFPacketConfiguration.RingVersion.v3, .v2])
    func receivesWhatAPeerSends(version: AFPacketConfiguration.RingVersion) async throws {
        let (a, b) = try await pair()
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            let port = try AFPacketPort(testConfiguration("a0", version: version))
            let sender = try namespaces.start(b, Generator.raw(interface: "b0", count: 300, flows: 3, size: 150))
            let got = port.collect(300, seconds: 60)
            try namespaces.finish(sender)
            return (got.frames, got.bytes, port.statistics.received, port.statistics.truncated)
        }
        #expect(result.0 == 300)
        #expect(result.1 == 300 * 150)
        #expect(result.2 == 300)
        #expect(result.3 == 0)
    }

    /// The kernel strips the outer tag of a received frame into the ring header (veth does so even
    /// without the 8021q module, which this machine's kernel lacks, so the peer sends tagged frames
    /// raw). The port must hand over the wire frame with its tags, and what it transmits must leave
    /// tagged: the peer's capture sees the kernel strip a tag again.
    @Test(arguments: [AFPacketConfiguration.RingVersion.v3, .v2])
    func vlanTagsArePutBackAndSentTagged(version: AFPacketConfiguration.RingVersion) async throws {
        let (a, b) = try await pair()
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(b)
            let capture = try AFPacketPort(testConfiguration("b0", version: .v2))
            try namespaces.enter(a)
            let port = try AFPacketPort(testConfiguration("a0", version: version))
            // 10 frames tagged 100, then 10 QinQ frames: 802.1ad 200 outside, 802.1Q 100 inside.
            try namespaces.exec(b, Generator.raw(interface: "b0", count: 10, size: 100, tags: ["8100:100"]))
            try namespaces.exec(b, Generator.raw(interface: "b0", count: 10, size: 100, tags: ["88a8:200", "8100:100"]))
            var seen: [String] = []
            port.collect(20, seconds: 60) { frame in
                let bytes = UnsafeRawBufferPointer(frame.bytes)
                let parsed = FrameParser.parse(bytes)
                seen.append("\(bytes.count) \(parsed.vlanCount) \(String(parsed.outerVLAN.tpid, radix: 16)):\(parsed.outerVLAN.id) "
                            + "\(String(parsed.innerVLAN.tpid, radix: 16)):\(parsed.innerVLAN.id) \(parsed.flow?.destinationPort ?? 0)")
                port.transmit(frame)
            }
            port.flush()
            var echoed: [String] = []
            capture.collect(20, seconds: 60) { frame in
                let parsed = FrameParser.parse(UnsafeRawBufferPointer(frame.bytes))
                echoed.append("\(frame.bytes.count) \(parsed.vlanCount) \(String(parsed.outerVLAN.tpid, radix: 16)):\(parsed.outerVLAN.id)")
            }
            return (seen, echoed, port.statistics.vlanReinserted, capture.statistics.vlanReinserted)
        }
        #expect(result.0.count == 20)
        #expect(result.0.prefix(10).allSatisfy { $0 == "104 1 8100:100 0:0 20000" }, "\(result.0)")
        #expect(result.0.suffix(10).allSatisfy { $0 == "108 2 88a8:200 8100:100 20000" }, "\(result.0)")
        #expect(result.2 == 20)
        #expect(result.1.count == 20)
        #expect(result.1.prefix(10).allSatisfy { $0 == "104 1 8100:100" }, "\(result.1)")
        #expect(result.1.suffix(10).allSatisfy { $0 == "108 2 88a8:200" }, "\(result.1)")
        #expect(result.3 == 20, "the frames crossed the wire tagged")
    }

    @Test(arguments: [AFPacketConfiguration.TransmitMode.ring, .sendmmsg], [AFPacketConfiguration.RingVersion.v3, .v2])
    func transmitsToAPeer(mode: AFPacketConfiguration.TransmitMode, version: AFPacketConfiguration.RingVersion) async throws {
        let (a, b) = try await pair()
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(b)
            let capture = try AFPacketPort(testConfiguration("b0", version: .v2))
            try namespaces.enter(a)
            let port = try AFPacketPort(testConfiguration("a0", version: version, transmit: mode))
            // More frames than the TX ring has slots: slots must come back and be reused.
            var sentBytes = 0
            var refused = 0
            var intact = 0
            // Every byte as built: the IP length matches the frame, the payload counts up from its first byte.
            let check: (inout ReceivedFrame) -> Void = { frame in
                let bytes = frame.bytes
                let ipLength = Int(bytes[16]) << 8 | Int(bytes[17])
                let first = bytes[42]
                var good = ipLength == bytes.count - 14
                for index in 42..<bytes.count where bytes[index] != first &+ UInt8(truncatingIfNeeded: index - 42) { good = false }
                if good { intact += 1 }
            }
            for sequence in 0..<2_000 {
                let frame = udpFrame(size: 60 + sequence % 200, sequence: sequence)
                sentBytes += frame.count
                if !frame.withUnsafeBytes({ port.transmit($0) }) { refused += 1 }
                // Let the capture keep up: its V2 ring holds 512 frames.
                if sequence % 256 == 255 {
                    port.flush()
                    capture.collect(256, seconds: 60, check)
                }
            }
            port.flush()
            let rest = capture.collect(2_000 - 2_000 / 256 * 256, seconds: 60, check)
            let statistics = port.statistics
            return (capture.statistics.received, capture.statistics.receivedBytes, sentBytes, refused,
                    statistics.transmitted, statistics.transmitCalls, rest.frames, port.lastTransmitError?.description ?? "",
                    intact)
        }
        #expect(result.0 == 2_000)
        #expect(result.1 == UInt64(result.2))
        #expect(result.3 == 0)
        #expect(result.4 == 2_000)
        #expect(result.5 < 200, "one call per batch, not per frame")
        #expect(result.7 == "")
        #expect(result.8 == 2_000, "frames arrived with their bytes intact")
    }

    @Test func ignoresItsOwnTransmissions() async throws {
        let (a, b) = try await pair()
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(b)
            let capture = try AFPacketPort(testConfiguration("b0", version: .v2))
            try namespaces.enter(a)
            let port = try AFPacketPort(testConfiguration("a0", version: .v2))
            var seesAll = testConfiguration("a0", version: .v2)
            seesAll.ignoreOutgoing = false
            let observer = try AFPacketPort(seesAll)
            for sequence in 0..<50 {
                _ = udpFrame(size: 100, sequence: sequence).withUnsafeBytes { port.transmit($0) }
            }
            port.flush()
            let delivered = capture.collect(50, seconds: 60).frames
            // The kernel feeds every tap in one pass, so once the observer has the 50 frames, a frame
            // that was going to reach `port` is in its ring too.
            var outgoing = 0
            let observed = observer.collect(50, seconds: 60) { frame in if frame.isOutgoing { outgoing += 1 } }.frames
            let echoed = port.collect(1, seconds: 0.05).frames
            return (delivered, observed, echoed, outgoing)
        }
        #expect(result.0 == 50)
        #expect(result.1 == 50, "a socket without the option sees the frames")
        #expect(result.2 == 0)
        #expect(result.3 == 50, "the observer sees them as outgoing")
    }

    @Test func fanoutSplitsFlowsAndKeepsEachOnOneSocket() async throws {
        let (a, b) = try await pair()
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            var configuration = testConfiguration("a0", version: .v2)
            configuration.fanout = .init(groupID: UInt16.random(in: 1...0xfff0))
            let ports = [try AFPacketPort(configuration), try AFPacketPort(configuration)]
            let sender = try namespaces.start(b, Generator.raw(interface: "b0", count: 640, flows: 32, size: 80))
            var flows: [Set<UInt16>] = [[], []]
            var total = 0
            let deadline = monotonicNanoseconds() + 60_000_000_000
            while total < 640 && monotonicNanoseconds() < deadline {
                var handled = 0
                for (index, port) in ports.enumerated() {
                    handled += port.receive(budget: 64) { frame in
                        guard isGenerated(frame.bytes) else { return }
                        let parsed = FrameParser.parse(UnsafeRawBufferPointer(frame.bytes))
                        flows[index].insert(parsed.flow?.sourcePort ?? 0)
                        total += 1
                    }
                }
                if handled == 0 { _ = try? ports[0].waitForFrames(timeoutMilliseconds: 2) }
            }
            try namespaces.finish(sender)
            return (total, flows[0], flows[1])
        }
        #expect(result.0 == 640)
        #expect(result.1.isDisjoint(with: result.2), "a flow reached both sockets: \(result.1.intersection(result.2))")
        #expect(result.1.count + result.2.count == 32)
        #expect(!result.1.isEmpty && !result.2.isEmpty, "32 flows all hashed to one socket")
    }

    @Test func statisticsCountDeliveriesAndDropsAndResetOnRead() async throws {
        let (a, b) = try await pair()
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            // A V2 ring of 4 slots that nobody reads while 50 frames arrive.
            var configuration = testConfiguration("a0", version: .v2)
            configuration.blockSize = 4_096
            configuration.blockCount = 2
            let port = try AFPacketPort(configuration)
            try namespaces.exec(b, Generator.raw(interface: "b0", count: 50, size: 64))
            // The receive side of veth may run later in a softirq: wait (bounded) until all 50 are counted.
            let deadline = monotonicNanoseconds() + 60_000_000_000
            repeat {
                try port.updateKernelStatistics()
            } while port.statistics.kernelPackets < 50 && monotonicNanoseconds() < deadline && usleep(1_000) == 0
            let first = port.statistics
            let received = port.collect(50, seconds: 0.2).frames
            try port.updateKernelStatistics()
            return (first.kernelPackets, first.kernelDrops, first.kernelDelivered, received, port.statistics.kernelPackets)
        }
        #expect(result.0 == 50, "tp_packets counts drops too")
        #expect(result.1 == 46)
        #expect(result.2 == 4)
        #expect(result.3 == 4)
        #expect(result.4 == 50, "the second read adds nothing: the kernel reset its counters on the first")
    }

    /// A frame bigger than its ring slot arrives cut: it is counted and never handed over (so it cannot
    /// be forwarded), with either ring version.
    @Test(arguments: [AFPacketConfiguration.RingVersion.v2, .v3])
    func framesCutByTheRingAreCountedNotDelivered(version: AFPacketConfiguration.RingVersion) async throws {
        let (a, b) = try await pair()
        try await lab.exec(a, ["ip", "link", "set", "a0", "mtu", "9000"])
        try await lab.exec(b, ["ip", "link", "set", "b0", "mtu", "9000"])
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            var configuration = testConfiguration("a0", version: version)
            // V2: 512-byte slots. V3: one-page blocks, so a frame can be at most ~4 KiB.
            configuration.frameSize = 512
            configuration.blockSize = 4_096
            configuration.blockCount = 64
            configuration.transmitMode = .sendmmsg
            let port = try AFPacketPort(configuration)
            try namespaces.exec(b, Generator.raw(interface: "b0", count: 10, size: version == .v2 ? 1_000 : 6_000))
            try namespaces.exec(b, Generator.raw(interface: "b0", count: 10, size: 200))
            // The cut frames were sent first: once the 10 whole ones are here, they have been counted.
            let delivered = port.collect(10, seconds: 60)
            return (delivered.frames, delivered.bytes, port.statistics.truncated)
        }
        #expect(result.0 == 10)
        #expect(result.1 == 10 * 200)
        #expect(result.2 == 10)
    }

    /// Frames from local sockets over veth carry partial checksums. With user-space completion on, the
    /// forwarded frames carry final checksums: verified from scratch on the far side.
    @Test func partialChecksumsAreCompletedBeforeForwarding() async throws {
        let client = try await lab.namespace("c", ipv6: true)
        let forwarder = try await lab.namespace("f", ipv6: true)
        let server = try await lab.namespace("s", ipv6: true)
        try await lab.veth("c0", in: client, "f0", in: forwarder)
        try await lab.veth("f1", in: forwarder, "s0", in: server)
        try await lab.exec(client, ["ip", "addr", "add", "198.18.0.1/24", "dev", "c0"])
        try await lab.exec(client, ["ip", "addr", "add", "2001:db8::1/64", "dev", "c0", "nodad"])
        try await lab.exec(client, ["ip", "neigh", "add", "198.18.0.2", "lladdr", "02:dd:00:00:00:02", "dev", "c0"])
        try await lab.exec(client, ["ip", "neigh", "add", "2001:db8::2", "lladdr", "02:dd:00:00:00:02", "dev", "c0"])
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(server)
            let capture = try AFPacketPort(testConfiguration("s0", version: .v2))
            try namespaces.enter(forwarder)
            var configuration = testConfiguration("f0", version: .v2)
            configuration.completeChecksumsInUserSpace = true
            let input = try AFPacketPort(configuration)
            let output = try AFPacketPort(testConfiguration("f1", version: .v2))
            try namespaces.exec(client, Generator.sockets(target: "198.18.0.2", count: 3, tcp: true))
            try namespaces.exec(client, Generator.sockets(target: "2001:db8::2", count: 3))
            var forwarded = 0
            let deadline = monotonicNanoseconds() + 60_000_000_000
            while forwarded < 7 && monotonicNanoseconds() < deadline {
                _ = input.receive(budget: 16) { frame in
                    let parsed = FrameParser.parse(UnsafeRawBufferPointer(frame.bytes))
                    guard parsed.flow?.destinationPort == 9999 || parsed.flow?.destinationPort == 8080 else { return }
                    forwarded += 1
                    output.transmit(frame)
                }
                output.flush()
                _ = try? input.waitForFrames(timeoutMilliseconds: 5)
            }
            var checked: [String] = []
            let captureDeadline = monotonicNanoseconds() + 60_000_000_000
            while checked.count < forwarded && monotonicNanoseconds() < captureDeadline {
                _ = capture.receive(budget: 16) { frame in
                    let bytes = UnsafeRawBufferPointer(frame.bytes)
                    let parsed = FrameParser.parse(bytes)
                    guard let flow = parsed.flow, flow.destinationPort == 9999 || flow.destinationPort == 8080 else { return }
                    let valid = transportChecksumIsValid(bytes) ?? false
                    checked.append("\(parsed.l3 == .ipv4 ? "v4" : "v6")/\(parsed.ipProtocol)/\(valid)")
                }
                _ = try? capture.waitForFrames(timeoutMilliseconds: 5)
            }
            return (checked, input.statistics.partialChecksum, input.statistics.checksumsCompleted)
        }
        #expect(result.0.count == 7, "\(result.0)")
        #expect(result.0.filter { $0 == "v4/17/true" }.count == 3, "\(result.0)")
        #expect(result.0.filter { $0 == "v4/6/true" }.count == 1, "\(result.0)")
        #expect(result.0.filter { $0 == "v6/17/true" }.count == 3, "\(result.0)")
        #expect(result.1 >= 7, "the sender's kernel left the checksums partial")
        #expect(result.2 >= 7)
    }

    /// The receive → rewrite → transmit loop allocates nothing per frame, with either TX path.
    @Test(arguments: [AFPacketConfiguration.TransmitMode.ring, .sendmmsg])
    func forwardingLoopAllocatesNothing(mode: AFPacketConfiguration.TransmitMode) async throws {
        let (a, b) = try await pair()
        let lab = self.lab
        let result = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            let port = try AFPacketPort(testConfiguration("a0", version: .v3, transmit: mode))
            let sender = try namespaces.start(b, Generator.raw(interface: "b0", count: 3_000, flows: 8, size: 120))
            var frames = port.warmUpForwarding()
            try? port.updateKernelStatistics()
            _ = port.statistics
            let before = dromos_thread_allocation_count()
            let deadline = monotonicNanoseconds() + 60_000_000_000
            let backend = MACAddress(rawValue: 0x02dd_0000_0009)
            while frames < 3_000 && monotonicNanoseconds() < deadline {
                let handled = port.receive(budget: 64) { frame in
                    guard isGenerated(frame.bytes) else { return }
                    frames += 1
                    _ = MACRewrite.apply(to: frame.bytes, destination: backend, source: MACAddress(rawValue: 0x02dd_0000_0001))
                    port.transmit(frame)
                }
                port.flush()
                if handled == 0 {
                    // Done when the kernel offered all 3000 and we read every one it did not drop
                    // (a slow debug build may let the ring overflow; drops do not matter here).
                    try? port.updateKernelStatistics()
                    let statistics = port.statistics
                    if statistics.kernelPackets >= 3_000 && statistics.received >= statistics.kernelDelivered { break }
                    _ = try? port.waitForFrames(timeoutMilliseconds: 5)
                }
            }
            let allocations = dromos_thread_allocation_count() - before
            try namespaces.finish(sender)
            try port.updateKernelStatistics()
            return (frames, allocations, port.statistics.transmitted, port.statistics.kernelDrops)
        }
        #expect(result.0 + Int(result.3) == 3_000)
        #expect(result.0 >= 1_000)
        #expect(result.1 == 0, "\(result.1) allocations for \(result.0) frames")
        #expect(result.2 == UInt64(result.0))
    }
}
