import DromosDatapath
import DromosIO
import DromosSystem
import DromosLab
import Foundation
import Testing

/// Whole-path checks: real TCP through a forwarder built on the port, and the latency a lone frame
/// sees with each RX ring version.
@Suite(.serialized, .enabled(if: NetworkLab.isRoot, Comment(rawValue: NetworkLab.skipReason)))
final class AFPacketEndToEndTests {
    let lab = NetworkLab()

    /// A 20 MiB TCP upload from a client namespace to a server namespace, every frame carried by a
    /// bridge of two ports, with the kernel's default offloads: the client's stack sends GSO
    /// super-frames with partial checksums over veth, which the port must hand over whole (vnet header)
    /// and send back out so that the kernel segments them and the checksums come out right.
    @Test func tcpUploadThroughTheBridgeWithDefaultOffloads() async throws {
        let (client, forwarder, server) = try await lab.uploadTopology(offloads: true)
        let size = 20 << 20
        let lab = self.lab
        let result = try await lab.onThread(timeout: 300) { namespaces in
            try namespaces.enter(forwarder)
            var configuration = AFPacketConfiguration(interface: "f0")
            configuration.blockCount = 16
            configuration.transmitBlockCount = 16
            let first = try AFPacketPort(configuration)
            configuration.interface = "f1"
            let second = try AFPacketPort(configuration)
            let upload = try namespaces.uploadThroughBridge(client: client, server: server, size: size, first, second)
            return (upload.clientSent, upload.serverReceived, upload.report, first.statistics, second.statistics)
        }
        #expect(result.0 == String(size))
        #expect(result.1 == String(size))
        #expect(result.2.forward > 0 && result.2.backward > 0)
        #expect(result.3.superFrames > 0, "the client's GSO super-frames reached the port whole")
        #expect(result.3.truncated == 0)
        #expect(result.4.transmitTooLarge == 0)
    }

    /// A lone frame at a low rate: how long from the sender's send() to the receive body. V2 hands a
    /// frame over at once; V3 waits for the block's retire timeout. Prints both for the record.
    @Test(arguments: [AFPacketConfiguration.RingVersion.v2, .v3])
    func lowRateLatency(version: AFPacketConfiguration.RingVersion) async throws {
        let a = try await lab.namespace("a")
        let b = try await lab.namespace("b")
        try await lab.veth("a0", in: a, "b0", in: b)
        let lab = self.lab
        let latencies = try await lab.onThread { namespaces in
            try namespaces.enter(a)
            let port = try AFPacketPort(testConfiguration("a0", version: version))
            // 100 frames, 5 ms apart: each one alone in the ring.
            let sender = try namespaces.start(b, Generator.raw(interface: "b0", count: 100, size: 64, gapSeconds: 0.005))
            var latencies: [Int64] = []
            latencies.reserveCapacity(100)
            port.collect(100, seconds: 60) { frame in
                let now = monotonicNanoseconds()
                let sent = Int64(bigEndian: frame.bytes.loadUnaligned(fromByteOffset: 42, as: Int64.self))
                latencies.append(now - sent)
            }
            try namespaces.finish(sender)
            return latencies.sorted()
        }
        #expect(latencies.count == 100)
        guard latencies.count == 100 else { return }
        let median = Double(latencies[50]) / 1000
        let p99 = Double(latencies[98]) / 1000
        // For the record only: a wake-up on a loaded two-core host can take longer than the ring itself,
        // so speed is asserted by tools/latency-bench.sh, not here (no timed unit tests).
        print("AF_PACKET \(version) RX latency at 200 frames/s: median \(median) µs, p99 \(p99) µs, max \(Double(latencies[99]) / 1000) µs")
        #expect(latencies.allSatisfy { $0 > 0 }, "every frame was stamped by the sender before the port handed it over")
    }
}
