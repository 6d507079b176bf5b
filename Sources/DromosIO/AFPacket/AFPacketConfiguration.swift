import DromosSystem
import DromosWire

/// How an `AFPacketPort` sets up its socket. The defaults are the production choice measured in
/// docs/ARCHITECTURE.md ("AF_PACKET port"); tests shrink the rings.
public struct AFPacketConfiguration: Sendable {
    public enum RingVersion: Sendable, Equatable {
        /// Blocks of variable-size frames, handed over when full or when the retire timeout fires:
        /// the best throughput, but a lone frame waits up to the timeout.
        case v3
        /// One fixed slot per frame with its own status word: a frame is visible as soon as the kernel
        /// wrote it (lowest latency); each slot must hold the largest frame, so fewer frames fit.
        case v2
    }

    public enum TransmitMode: Sendable, Equatable {
        /// Frames are copied into the socket's TX ring and sent with one `send()` per batch.
        case ring
        /// Frames are copied into a preallocated batch and sent with one `sendmmsg()` per batch.
        case sendmmsg
    }

    /// PACKET_FANOUT with PACKET_FANOUT_HASH: sockets of one group (same interface) split flows, and
    /// the hash is symmetric over addresses and ports, so a flow stays on one socket.
    public struct Fanout: Sendable, Equatable {
        public var groupID: UInt16
        public init(groupID: UInt16) { self.groupID = groupID }
    }

    public var interface: String
    public var version: RingVersion = .v3
    /// RX ring: `blockCount` blocks of `blockSize` bytes (a multiple of the page size). A V3 block is
    /// handed over after the retire timeout however full it is, so under a paused consumer the ring
    /// holds blockCount × (rate × timeout) frames: many blocks matter more than big ones.
    public var blockSize: Int = 1 << 18
    public var blockCount: Int = 64
    /// V3: how long the kernel keeps a block that is not full before handing it over.
    public var retireTimeoutMilliseconds: Int = 1
    /// V2 RX slots and all TX slots. With PACKET_VNET_HDR the kernel hands over GRO/GSO super-frames
    /// of up to 64 KiB, so the default holds the largest (65,535-byte IP packet + headers + ring header).
    public var frameSize: Int = 65_792
    /// TX ring blocks (of `blockSize`); 64 × 3 slots of `frameSize` by default.
    public var transmitBlockCount: Int = 64
    public var transmitMode: TransmitMode = .ring
    /// Frames queued before `transmit` flushes by itself; `flush()` sends fewer at a batch's end.
    public var transmitBatch: Int = 64
    /// PACKET_IGNORE_OUTGOING: the socket does not read back what it (or its fanout group) sent.
    public var ignoreOutgoing = true
    /// PACKET_QDISC_BYPASS: transmit straight to the driver. Faster, but bypasses traffic control and
    /// hides our frames from other packet sockets (tcpdump) on the interface.
    public var qdiscBypass = false
    public var fanout: Fanout? = nil
    /// Finish partial (CHECKSUM_PARTIAL) L4 checksums in the frame before handing it over, for
    /// consumers that need the wire bytes final. Off by default: the vnet header passes the job to
    /// the kernel or NIC on transmit. Super-frames are never completed here (the kernel segments them
    /// and checksums each segment).
    public var completeChecksumsInUserSpace = false

    public init(interface: String) {
        self.interface = interface
    }
}
