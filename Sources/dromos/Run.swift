import ArgumentParser
import DromosControl

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the balancer on a live interface (root).",
        discussion: """
            Checks the host first (root, interface up, no VIP local, an address to resolve backends without a static mac from, nft present), \
            installs an nftables netdev ingress drop for the VIPs in table 'netdev dromos' (AF_PACKET is a tap: \
            the kernel must not answer the frames Dromos forwards), then forwards until SIGINT or SIGTERM, \
            which drain the rings, remove the table and exit 0. SIGHUP reloads the configuration; a bad one \
            is rejected with its errors logged and the running table stays.
            """)

    enum IO: String, ExpressibleByArgument, CaseIterable {
        case afpacket
    }

    @Option(help: "The YAML configuration file.")
    var config: String

    @Option(help: "The packet I/O: afpacket (the libpcap port exists but is not wired to run yet).")
    var io: IO = .afpacket

    @Option(help: "Datapath threads, each with its own AF_PACKET socket in one fanout group.")
    var workers: Int = 1

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1...64") }
    }

    func run() throws {
        let daemon = Daemon(configPath: config, workers: workers, log: DaemonLog.standardError)
        do {
            try daemon.run()
        } catch {
            for line in error.lines { printError("dromos run: \(line)") }
            throw ExitCode.failure
        }
    }
}
