import DromosSystem
import DromosWire

/// What a port counted since it opened. Kernel figures are accumulated here because
/// PACKET_STATISTICS resets on every read.
public struct AFPacketStatistics: Sendable, Equatable {
    /// Frames the kernel offered the socket, including those it dropped (tp_packets counts both).
    public var kernelPackets: UInt64 = 0
    /// Frames dropped because the ring was full (tp_drops).
    public var kernelDrops: UInt64 = 0
    /// V3: times the ring was full and the kernel froze the queue (tp_freeze_q_cnt).
    public var kernelFreezes: UInt64 = 0

    /// Frames handed to `receive` bodies.
    public var received: UInt64 = 0
    public var receivedBytes: UInt64 = 0
    /// Frames larger than a ring slot (the kernel kept only a prefix): counted, never handed over.
    public var truncated: UInt64 = 0
    /// Frames whose stripped VLAN tag was put back.
    public var vlanReinserted: UInt64 = 0
    /// Frames with a partial checksum (the vnet header's NEEDS_CSUM) and super-frames (GSO).
    public var partialChecksum: UInt64 = 0
    public var superFrames: UInt64 = 0
    /// Partial checksums finished in user space (`completeChecksumsInUserSpace`).
    public var checksumsCompleted: UInt64 = 0

    /// Frames queued for transmission and the send()/sendmmsg() calls that pushed them.
    public var transmitted: UInt64 = 0
    public var transmittedBytes: UInt64 = 0
    public var transmitCalls: UInt64 = 0
    /// Frames not sent: the TX ring or socket buffer was full, or the frame too big for a slot.
    public var transmitRingFull: UInt64 = 0
    public var transmitQueueFull: UInt64 = 0
    public var transmitTooLarge: UInt64 = 0

    public init() {}

    /// Frames the ring delivered to us: offered minus dropped.
    public var kernelDelivered: UInt64 { kernelPackets &- kernelDrops }
}
