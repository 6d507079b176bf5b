import DromosSystem
import DromosWire

/// How a `PcapLivePort` sets up its libpcap handle.
public struct PcapLiveConfiguration: Sendable {
    /// The largest frame libpcap hands over whole (pcap_set_snaplen): a 64 KiB GRO super-frame fits,
    /// and the port's per-frame scratch buffer has this size.
    public static let snapshotLength = 262_144

    public var interface: String
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
}
