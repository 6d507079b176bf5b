import ArgumentParser
import DromosConfig
import DromosControlPlane
import DromosDaemon
import DromosHost
import DromosOffline
import Logging

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the balancer on a live interface (root).",
        discussion: """
            Checks the host first (root, interface up, no VIP local, an address to resolve backends without a static mac from, nft present; with \
            --io pcap also that the interface does not coalesce received frames, naming the ethtool -K fix), \
            installs an nftables netdev ingress drop for the VIPs in table 'netdev dromos' (a packet socket is a \
            tap: the kernel must not answer the frames Dromos forwards), then forwards until SIGINT or SIGTERM, \
            which drain the rings, remove the table and exit 0. SIGHUP reloads the configuration; a bad one \
            is rejected with its errors logged and the running table stays.

            --io afpacket (default): one AF_PACKET socket per worker with a vnet header (GRO super-frames and \
            partial checksums pass through). --rx-ring v2 (default, also datapath.rx_ring in the config) hands \
            a frame over as soon as the kernel wrote it (tens of microseconds added); v3 batches frames in \
            blocks retired after 1 ms, less CPU per frame under load but up to ~1 ms added per lone frame.
            --io pcap: one libpcap handle per worker (immediate mode, pcap_inject), joined to the same \
            PACKET_FANOUT group through pcap_fileno; it has no vnet header, so GRO/LRO must be off.
            --io xdp: Dromos's XDP program (native mode where the driver has it, else generic) hands the VIPs' \
            frames to one AF_XDP socket per worker and receive queue; the kernel never sees them, so no nftables \
            rule is installed. Copy mode (veth offers no zero-copy). Work in progress.
            """)

    /// The CLI's spelling of `PacketIO` and `ReceiveRingKind` (conforming those to an ArgumentParser
    /// protocol here would be a retroactive conformance).
    enum IO: String, ExpressibleByArgument, CaseIterable {
        case afpacket, pcap, xdp
        var packetIO: PacketIO {
            switch self {
            case .afpacket: .afpacket
            case .pcap: .pcap
            case .xdp: .xdp
            }
        }
    }

    enum Ring: String, ExpressibleByArgument, CaseIterable {
        case v2, v3
        var kind: ReceiveRingKind { self == .v2 ? .v2 : .v3 }
    }

    @Option(help: "The YAML configuration file.")
    var config: String

    @Option(help: "The packet I/O: afpacket (AF_PACKET rings, vnet header), pcap (libpcap live capture + pcap_inject) or xdp (AF_XDP).")
    var io: IO = .afpacket

    @Option(help: "Datapath threads, each with its own socket (or libpcap handle) in one fanout group.")
    var workers: Int = 1

    @Option(name: .customLong("rx-ring"),
            help: "AF_PACKET RX ring: v2 (lowest latency, default) or v3 (block-batched); overrides datapath.rx_ring.")
    var receiveRing: Ring?

    @Option(name: .customLong("log-level"),
            help: "Least severe level logged: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1...64") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of: \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if io != .afpacket, receiveRing != nil {
            throw ValidationError("--rx-ring applies to --io afpacket; \(io == .pcap ? "libpcap sets up its own ring" : "AF_XDP has rings of its own")")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let logger = Logger(label: "dromos") { label in StandardErrorLogHandler(label: label, level: level) }
        let daemon = Daemon(configPath: config, settings: DatapathSettings(io: io.packetIO, workers: workers, receiveRing: receiveRing?.kind),
                            logger: logger)
        do {
            try await daemon.run()
        } catch {
            for line in error.lines { printError("dromos run: \(line)") }
            throw ExitCode.failure
        }
    }
}

