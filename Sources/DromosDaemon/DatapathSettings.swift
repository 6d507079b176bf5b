import DromosBalancer
public import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosHost
public import DromosIO
import DromosSystem
import DromosWire

/// Which packet I/O `dromos run` uses: `--io`.
public enum PacketIO: String, Sendable, CaseIterable {
    case afpacket
    case pcap
    case xdp
}

/// How the daemon opens its ports; everything not given here is the production default.
public struct DatapathSettings: Sendable {
    public var io: PacketIO
    public var workers: Int
    /// nil: the config's `datapath.rx_ring`, else `ReceiveRingKind.default`. AF_PACKET only.
    public var receiveRing: ReceiveRingKind?

    public init(io: PacketIO = .afpacket, workers: Int = 1, receiveRing: ReceiveRingKind? = nil) {
        self.io = io
        self.workers = max(workers, 1)
        self.receiveRing = receiveRing
    }

    /// V2 slots must hold a 64 KiB GSO super-frame (65,792 bytes), so a block of 65 pages holds 4 of
    /// them with 3 KiB to spare (a 256 KiB block would hold 3 and waste a quarter). 256 blocks give
    /// 1,024 RX slots (68 MiB): about 1.7 ms of the lab's 600k pps generator while the worker is off
    /// the CPU. V3 keeps the port's defaults (64 × 256 KiB, many frames per block).
    public static func afpacket(interface: String, ring: ReceiveRingKind) -> AFPacketConfiguration {
        var settings = AFPacketConfiguration(interface: interface)
        switch ring {
        case .v3:
            settings.version = .v3
        case .v2:
            settings.version = .v2
            settings.blockSize = 65 * 4_096
            settings.blockCount = 256
        }
        return settings
    }

    /// One line for the start log: what carries the frames.
    static func describe(_ settings: AFPacketConfiguration) -> String {
        let megabytes = { (bytes: Int) in "\((bytes + (1 << 19)) >> 20) MiB" }
        let transmit = settings.transmitMode == .ring ? "TX ring" : "sendmmsg"
        switch settings.version {
        case .v2:
            let slots = settings.blockSize / settings.frameSize * settings.blockCount
            return "AF_PACKET, RX ring TPACKET_V2 (\(slots) slots of \(settings.frameSize) bytes, "
                + "\(megabytes(settings.blockSize * settings.blockCount))), \(transmit), vnet header"
        case .v3:
            return "AF_PACKET, RX ring TPACKET_V3 (\(settings.blockCount) blocks of \(settings.blockSize >> 10) KiB, "
                + "retire timeout \(settings.retireTimeoutMilliseconds) ms), \(transmit), vnet header"
        }
    }

    static func describe(_ settings: PcapLiveConfiguration) -> String {
        "libpcap \(PcapLivePort.libraryVersion) (immediate mode, buffer \(settings.bufferSize >> 20) MiB, "
            + "snapshot length \(settings.snapshotLength), pcap_inject per frame, no vnet header)"
    }
}
