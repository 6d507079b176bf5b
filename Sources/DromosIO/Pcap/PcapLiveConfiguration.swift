import DromosSystem
import DromosWire

/// How a `PcapLivePort` sets up its libpcap handle.
public struct PcapLiveConfiguration: Sendable {
    public var interface: String
    /// The largest frame libpcap hands over whole (pcap_set_snaplen; the port's per-frame scratch buffer
    /// has this size). The default takes a 64 KiB GRO super-frame. It also sizes libpcap's ring slots:
    /// on an interface with any offload (GSO and TSO are on by default on veth) a slot is the snapshot
    /// length capped at 65,553 bytes, so a 16 MiB ring held about 250 frames and overflowed under load.
    /// The daemon, which refuses an interface that coalesces received frames, sets `frameLimit(mtu:)`.
    public var snapshotLength = 262_144
    /// The kernel ring libpcap maps (pcap_set_buffer_size), in bytes. In immediate mode libpcap uses
    /// TPACKET_V2 slots sized for the largest frame it expects (MTU-sized when the interface has no
    /// offloads, snaplen-sized when it has), so the frames it holds are this divided by the slot size.
    /// Very large buffers make activation slow (the ring is allocated and mapped then).
    public var bufferSize: Int = 16 << 20
    /// Joins a PACKET_FANOUT (hash) group after activation, like `AFPacketPort`: libpcap's handle is an
    /// AF_PACKET socket (`pcap_fileno`), so several handles on one interface split flows between them.
    public var fanout: AFPacketConfiguration.Fanout? = nil

    public init(interface: String) {
        self.interface = interface
    }

    /// The largest frame an interface that coalesces nothing receives: the MTU, the Ethernet header and
    /// two VLAN tags.
    public static func frameLimit(mtu: Int) -> Int { mtu + 14 + 2 * 4 }
}
