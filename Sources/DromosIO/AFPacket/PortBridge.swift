import DromosSystem
import DromosWire
import Glibc

/// Forwards frames unchanged between two ports: the lab's stand-in for the balancer's worker loop
/// (same receive → transmit → flush shape, no decision), used by the end-to-end tests and
/// tools/afpacket-bench.sh to measure the datapath itself. Works over any `PacketPort`.
public enum PortBridge {
    public struct Report: Sendable, Equatable {
        public var forward: UInt64 = 0
        public var backward: UInt64 = 0
        public init() {}
    }

    /// Runs until `shouldStop` returns true (asked after every round, so it must be cheap). With
    /// `bidirectional` false only `first` → `second` is forwarded and `second`'s ring is not read.
    /// Generic over the port kinds (AF_PACKET, libpcap, or one of each) and inlinable, so each caller
    /// gets a specialized loop with direct calls.
    @inlinable
    public static func run<First: PacketPort, Second: PacketPort>(
        _ first: First, _ second: Second, budget: Int = 64, bidirectional: Bool = true, until shouldStop: () -> Bool
    ) -> Report {
        var report = Report()
        while !shouldStop() {
            // The host's own outgoing frames are seen by the tap too; they are not ours to forward.
            let forward = first.receive(budget: budget) { frame in if !frame.isOutgoing { second.transmit(frame) } }
            second.flush()
            var backward = 0
            if bidirectional {
                backward = second.receive(budget: budget) { frame in if !frame.isOutgoing { first.transmit(frame) } }
                first.flush()
            }
            report.forward &+= UInt64(forward)
            report.backward &+= UInt64(backward)
            if forward == 0 && backward == 0 {
                // Idle: sleep in poll until either ring has frames, at most 1 ms so `shouldStop` is
                // asked again soon.
                waitForEither(first.fileDescriptor, second.fileDescriptor, both: bidirectional)
            }
        }
        return report
    }

    /// Sleeps in poll until either descriptor is readable, at most 1 ms. Not inlinable: Glibc is an
    /// internal import.
    @usableFromInline
    static func waitForEither(_ first: Int32, _ second: Int32, both: Bool) {
        var descriptors = (pollfd(fd: first, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: second, events: Int16(POLLIN), revents: 0))
        _ = withUnsafeMutableBytes(of: &descriptors) { raw in
            poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), both ? 2 : 1, 1)
        }
    }
}
