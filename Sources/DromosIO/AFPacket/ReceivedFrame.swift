import DromosSystem
import DromosWire

/// One frame in the RX ring, handed to the `receive` body. `bytes` points into the ring and is valid
/// only inside the body: the slot goes back to the kernel after it. The frame is the wire frame: a
/// VLAN tag the kernel stripped has been put back. It may be rewritten in place and passed to
/// `transmit`, which copies it.
public struct ReceivedFrame {
    public var bytes: UnsafeMutableRawBufferPointer
    /// Equal to `bytes.count`: frames the ring cut short are counted and never handed over.
    public let wireLength: Int
    /// Partial checksum and segmentation state to pass on to `transmit`.
    public var offload: PacketOffload
    public let timestampNanoseconds: Int64
    /// sockaddr_ll's sll_pkttype: PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3, OUTGOING 4.
    public let packetType: UInt8

    /// Sent by this host (another socket or the stack, e.g. a health check), not received: a tap sees
    /// both directions, and PACKET_IGNORE_OUTGOING hides only our own socket's frames.
    @inlinable public var isOutgoing: Bool { packetType == 4 }

    /// For ports outside this module (AF_XDP).
    @inlinable
    public init(bytes: UnsafeMutableRawBufferPointer, wireLength: Int, offload: PacketOffload, timestampNanoseconds: Int64,
                packetType: UInt8) {
        self.bytes = bytes
        self.wireLength = wireLength
        self.offload = offload
        self.timestampNanoseconds = timestampNanoseconds
        self.packetType = packetType
    }
}
