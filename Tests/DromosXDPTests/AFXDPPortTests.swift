import CAllocationCounter
import DromosIO
import DromosLab
import DromosWire
import DromosXDP
import Foundation
import Glibc
import Testing

/// The XDP program and an AF_XDP port on a veth in a namespace of the test's own: frames to a VIP reach
/// the socket and never the kernel, everything else reaches the kernel (the host still answers ping and
/// ARP), and a received frame sent back with its MACs rewritten leaves from its UMEM frame.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class AFXDPPortTests {
    let lab = NetworkLab()
    static let vip = "203.0.113.10"
    static let forwarderMAC = "02:00:00:00:00:02"
    static let senderMAC = "02:00:00:00:00:01"

    /// The forwarder's namespace with a0 and the sender's with b0, routing the VIP to the forwarder.
    private func pair() async throws -> (forwarder: String, sender: String) {
        let forwarder = try await lab.namespace("xf")
        let sender = try await lab.namespace("xs")
        try await lab.veth("a0", in: forwarder, "b0", in: sender, firstMAC: Self.forwarderMAC, secondMAC: Self.senderMAC)
        try await lab.exec(forwarder, ["ip", "addr", "add", "198.18.0.2/24", "dev", "a0"])
        try await lab.exec(sender, ["ip", "addr", "add", "198.18.0.1/24", "dev", "b0"])
        try await lab.exec(sender, ["ip", "route", "add", "\(Self.vip)/32", "via", "198.18.0.2"])
        return (forwarder, sender)
    }

    /// Datagrams to the VIP from the sender once `readyFile` exists (bounded either way), `pause` seconds
    /// after every `burst` of them.
    private func startDatagrams(from sender: String, count: Int, burst: Int = 1, pause: Double, readyFile: URL) async throws -> RunningCommand {
        try await lab.start(sender, ["/usr/bin/python3", "-c", """
            import os, socket, sys, time
            deadline = time.monotonic() + 60
            while not os.path.exists(sys.argv[1]) and time.monotonic() < deadline:
                time.sleep(0.05)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for i in range(\(count)):
                s.sendto(b'x' * 32, ('\(Self.vip)', 9 + i % 64))
                if \(pause) > 0 and (i + 1) % \(burst) == 0: time.sleep(\(pause))
            """, readyFile.path])
    }

    @Test func vipFramesReachTheSocketTheRestTheKernelAndTransmitSendsThemBack() async throws {
        let (forwarder, sender) = try await pair()
        // The sender's stack would leave checksums for a NIC to finish: this test looks only at headers.
        let capture = try await lab.start(sender, ["tcpdump", "-i", "b0", "-n", "-e", "-l", "--immediate-mode",
                                                   "udp and dst host \(Self.vip) and ether src \(Self.forwarderMAC)"])
        #expect(await waitUntil(seconds: 30) { capture.standardError.contains("listening on") })

        // 20 datagrams to the VIP, once the port is open (a file says so; bounded either way).
        let readyFile = lab.filesDirectory().appendingPathExtension("xdp-ready")
        defer { try? FileManager.default.removeItem(at: readyFile) }
        let traffic = try await startDatagrams(from: sender, count: 20, pause: 0.02, readyFile: readyFile)
        defer { if traffic.isRunning { traffic.terminate() } }
        let lab = self.lab
        let outcome = try await lab.onThread(timeout: 120) { namespaces -> (mode: String, received: Int, sentBack: Int, copied: UInt64, counts: (UInt64, UInt64)) in
            try namespaces.enter(forwarder)
            let index = Int32(if_nametoindex("a0"))
            let attachment = try XDPAttachment(interfaceIndex: index)
            try attachment.replaceVIPs([try IPAddress(parsing: Self.vip)])
            let port = try AFXDPPort(AFXDPPort.Configuration(interface: "a0"), attachment: attachment)
            _ = FileManager.default.createFile(atPath: readyFile.path, contents: nil)
            var received = 0, sentBack = 0
            let deadline = monotonicNanoseconds() + 20_000_000_000
            while received < 20 && monotonicNanoseconds() < deadline {
                _ = try port.waitForFrames(timeoutMilliseconds: 100)
                _ = port.receive(budget: 64) { frame in
                    received += 1
                    // Back to the sender: destination its MAC, source ours (what a balancer does toward a backend).
                    let destination: [UInt8] = [2, 0, 0, 0, 0, 1], source: [UInt8] = [2, 0, 0, 0, 0, 2]
                    for offset in 0..<6 {
                        frame.bytes[offset] = destination[offset]
                        frame.bytes[6 + offset] = source[offset]
                    }
                    if port.transmit(frame) { sentBack += 1 }
                }
                port.flush()
            }
            // Let the kernel finish the last transmissions before the socket goes.
            let settle = monotonicNanoseconds() + 500_000_000
            while monotonicNanoseconds() < settle { port.flush(); usleep(10_000) }
            let result = (attachment.mode.rawValue, received, sentBack, port.counters.copied, attachment.counts())
            attachment.detach()
            return result
        }
        #expect(outcome.received == 20, "every datagram to the VIP reached the socket (mode \(outcome.mode))")
        #expect(outcome.sentBack == 20 && outcome.copied == 0, "sent back from their UMEM frames, none copied")
        #expect(outcome.counts.0 >= 20, "the program counted what it redirected: \(outcome.counts)")
        #expect(await waitUntil(seconds: 10) { capture.standardOutput.split(separator: "\n").count >= 20 },
                "the sender saw them come back: \(capture.standardOutput)")
        // The kernel never saw the VIP's frames, and still answers ARP for its own address (the sender resolved it).
        let neighbor = try await lab.exec(sender, ["ip", "neigh", "show", "198.18.0.2"])
        #expect(neighbor.contains(Self.forwarderMAC), "\(neighbor)")
        let linkState = try await lab.exec(forwarder, ["ip", "link", "show", "a0"])
        #expect(!linkState.contains("xdp"), "detached: \(linkState)")
        print("AF_XDP: \(outcome.mode) mode, \(outcome.received) received, \(outcome.sentBack) sent back, program counts \(outcome.counts)")
    }

    /// Receive, rewrite and transmit from the UMEM frame allocate nothing per frame, nor do the ring
    /// bookkeeping (fill, completion) and the kick.
    @Test func forwardingLoopAllocatesNothing() async throws {
        let (forwarder, sender) = try await pair()
        let readyFile = lab.filesDirectory().appendingPathExtension("xdp-alloc-ready")
        defer { try? FileManager.default.removeItem(at: readyFile) }
        let traffic = try await startDatagrams(from: sender, count: 3_000, pause: 0, readyFile: readyFile)
        defer { if traffic.isRunning { traffic.terminate() } }
        let lab = self.lab
        let outcome = try await lab.onThread(timeout: 120) { namespaces -> (frames: Int, allocations: UInt64, transmitted: UInt64, copied: UInt64) in
            try namespaces.enter(forwarder)
            let attachment = try XDPAttachment(interfaceIndex: Int32(if_nametoindex("a0")))
            defer { attachment.detach() }
            try attachment.replaceVIPs([try IPAddress(parsing: Self.vip)])
            let port = try AFXDPPort(AFXDPPort.Configuration(interface: "a0"), attachment: attachment)
            _ = FileManager.default.createFile(atPath: readyFile.path, contents: nil)
            let destination = MACAddress(rawValue: 0x0200_0000_0001), source = MACAddress(rawValue: 0x0200_0000_0002)
            var frames = 0, allocations: UInt64 = 0, idleSince = monotonicNanoseconds()
            let deadline = monotonicNanoseconds() + 60_000_000_000
            // Counted from the second batch on: the first one pays for one-time runtime work.
            while monotonicNanoseconds() < deadline {
                let before = dromos_thread_allocation_count()
                let handled = port.receive(budget: 64) { frame in
                    frames += 1
                    _ = MACRewrite.apply(to: frame.bytes, destination: destination, source: source)
                    port.transmit(frame)
                }
                port.flush()
                if frames > handled { allocations += dromos_thread_allocation_count() - before }
                if handled > 0 {
                    idleSince = monotonicNanoseconds()
                } else if frames > 0 && monotonicNanoseconds() - idleSince > 1_000_000_000 {
                    break  // the sender is done: a second without frames
                } else {
                    _ = try port.waitForFrames(timeoutMilliseconds: 5)
                }
            }
            return (frames, allocations, port.counters.transmitted, port.counters.copied)
        }
        #expect(outcome.frames >= 1_000, "most of the 3000 datagrams reached the socket: \(outcome.frames)")
        #expect(outcome.allocations == 0, "\(outcome.allocations) allocations for \(outcome.frames) frames")
        #expect(outcome.transmitted == UInt64(outcome.frames) && outcome.copied == 0)
    }

    /// A UMEM larger than its rings hold (as the daemon's: 4,096 frames, rings of 2,048) keeps its fill
    /// ring supplied: a refill asked for more than the ring had room for and got nothing, so the fill ring
    /// ran dry and the kernel dropped frames (TCP retransmits under load), here every frame.
    @Test func aUMEMLargerThanItsRingsKeepsTheFillRingSupplied() async throws {
        let (forwarder, sender) = try await pair()
        let readyFile = lab.filesDirectory().appendingPathExtension("xdp-fill-ready")
        defer { try? FileManager.default.removeItem(at: readyFile) }
        // Bursts of 48 into rings of 64: with the fill ring topped up after every batch none is lost; left
        // at the 16 a batch of 64 leaves, the second burst lost 32.
        let traffic = try await startDatagrams(from: sender, count: 288, burst: 48, pause: 0.05, readyFile: readyFile)
        defer { if traffic.isRunning { traffic.terminate() } }
        let lab = self.lab
        let outcome = try await lab.onThread(timeout: 120) { namespaces -> (received: Int, drops: UInt64) in
            try namespaces.enter(forwarder)
            let attachment = try XDPAttachment(interfaceIndex: Int32(if_nametoindex("a0")))
            defer { attachment.detach() }
            try attachment.replaceVIPs([try IPAddress(parsing: Self.vip)])
            var configuration = AFXDPPort.Configuration(interface: "a0")
            configuration.frameCount = 1_024
            configuration.ringSize = 64
            let port = try AFXDPPort(configuration, attachment: attachment)
            _ = FileManager.default.createFile(atPath: readyFile.path, contents: nil)
            var received = 0
            let deadline = monotonicNanoseconds() + 10_000_000_000
            while received < 288 && monotonicNanoseconds() < deadline {
                if port.receive(budget: 16, { frame in
                    received += 1
                    port.transmit(frame)
                }) == 0 {
                    _ = try port.waitForFrames(timeoutMilliseconds: 5)
                }
                port.flush()
            }
            return (received, port.currentRingDrops())
        }
        #expect(outcome.received == 288 && outcome.drops == 0, "received \(outcome.received) of 288, the kernel dropped \(outcome.drops)")
    }
}
