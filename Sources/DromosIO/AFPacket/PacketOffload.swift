import DromosSystem
import DromosWire

/// The offload state of a frame, from and to the kernel's `virtio_net_hdr` (PACKET_VNET_HDR).
///
/// Frames from a local sender over veth are CHECKSUM_PARTIAL and, with GRO/TSO, up to 64 KiB long.
/// Sent back out with this header, the kernel (or the NIC) completes the checksum and cuts the
/// super-frame into MTU-sized segments, so the balancer forwards them unchanged like any other frame.
/// Offsets are from the first byte of the frame as handed over (after VLAN re-insertion).
public struct PacketOffload: Sendable, Equatable {
    /// VIRTIO_NET_HDR_F_NEEDS_CSUM and friends.
    public var flags: UInt8
    /// VIRTIO_NET_HDR_GSO_*: 0 none, 1 TCPv4, 3 UDP, 4 TCPv6, 0x80 ECN.
    public var segmentationType: UInt8
    /// Bytes of headers to copy in front of each segment.
    public var headerLength: UInt16
    /// Payload bytes per segment.
    public var segmentSize: UInt16
    public var checksumStart: UInt16
    public var checksumOffset: UInt16

    public static let none = PacketOffload(flags: 0, segmentationType: 0, headerLength: 0, segmentSize: 0,
                                           checksumStart: 0, checksumOffset: 0)

    public init(flags: UInt8, segmentationType: UInt8, headerLength: UInt16, segmentSize: UInt16,
                checksumStart: UInt16, checksumOffset: UInt16) {
        self.flags = flags
        self.segmentationType = segmentationType
        self.headerLength = headerLength
        self.segmentSize = segmentSize
        self.checksumStart = checksumStart
        self.checksumOffset = checksumOffset
    }

    /// The L4 checksum is partial: it holds only the pseudo-header sum.
    @inlinable public var needsChecksum: Bool { flags & 1 != 0 }
    /// A super-frame the kernel must segment on transmit.
    @inlinable public var isSegmented: Bool { segmentationType & 0x7f != 0 }

    /// The size of `virtio_net_hdr` (without the MRG_RXBUF field), what PACKET_VNET_HDR uses.
    static let wireSize = 10

    /// Reads the header the kernel wrote (host byte order, as the packet socket uses).
    @inline(__always)
    init(readingFrom pointer: UnsafeRawPointer) {
        flags = pointer.load(as: UInt8.self)
        segmentationType = pointer.load(fromByteOffset: 1, as: UInt8.self)
        headerLength = pointer.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
        segmentSize = pointer.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
        checksumStart = pointer.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
        checksumOffset = pointer.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
    }

    @inline(__always)
    func write(to pointer: UnsafeMutableRawPointer) {
        pointer.storeBytes(of: flags, as: UInt8.self)
        pointer.storeBytes(of: segmentationType, toByteOffset: 1, as: UInt8.self)
        pointer.storeBytes(of: headerLength, toByteOffset: 2, as: UInt16.self)
        pointer.storeBytes(of: segmentSize, toByteOffset: 4, as: UInt16.self)
        pointer.storeBytes(of: checksumStart, toByteOffset: 6, as: UInt16.self)
        pointer.storeBytes(of: checksumOffset, toByteOffset: 8, as: UInt16.self)
    }
}
