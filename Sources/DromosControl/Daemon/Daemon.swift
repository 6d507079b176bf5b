import DromosBalancer
public import DromosIO
import Glibc
public import Logging
import Synchronization

/// `dromos run`: the daemon's lifecycle. Preflight checks, the kernel drop rule, one datapath thread
/// per worker (own port — AF_PACKET socket or libpcap handle — in one fanout group, own balancer),
/// then the signal loop on the calling thread: SIGINT/SIGTERM stop (rings drained, rule removed), SIGHUP reloads the config.
public final class Daemon: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var lines: [String]
        public var description: String { lines.joined(separator: "\n") }
    }

    public let configPath: String
    public let settings: DatapathSettings
    public var workerCount: Int { settings.workers }
    let logger: Logger
    private let stopping = Atomic<Bool>(false)
    /// Each worker's counters (the workers themselves are generic over their port).
    private var workerCounters: [SharedCounters] = []
    private var threads: [pthread_t] = []

    public init(configPath: String, settings: DatapathSettings = DatapathSettings(), logger: Logger) {
        self.configPath = configPath
        self.settings = settings
        self.logger = logger
    }

    /// Everything the workers have counted so far, summed.
    public var counters: DatapathCounters { workerCounters.reduce(DatapathCounters()) { $0 + $1.load() } }

    /// Loads and checks the configuration the way both start and reload do.
    func load(expectInterface: String?) -> Result<(DromosConfig, [String]), Failure> {
        let config: DromosConfig
        do { config = try ConfigLoader.load(path: configPath) } catch { return .failure(Failure(lines: error.lines)) }
        var problems = DaemonPreflight.problems(config: config, isRoot: geteuid() == 0, interfaces: HostInterface.all())
        if let expectInterface, config.interface != expectInterface {
            problems.append("interface changed from \(expectInterface) to \(config.interface): that needs a restart, not a reload")
        }
        return problems.isEmpty ? .success((config, [])) : .failure(Failure(lines: problems))
    }

    /// Runs until SIGINT or SIGTERM; returns after a clean stop, throws when it could not start.
    public func run() throws(Failure) {
        // Signals are taken synchronously by this thread; workers inherit the mask and never see them.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let config: DromosConfig
        switch load(expectInterface: nil) {
        case .success(let loaded): config = loaded.0
        case .failure(let failure): throw failure
        }
        var generation: UInt32 = 1
        let table: ForwardingTable
        do { table = try ForwardingTable(generation: generation, services: config.balancer.services) } catch {
            throw Failure(lines: ["cannot build the forwarding table: \(error)"])
        }
        guard KernelDropRule.nftPath() != nil else { throw Failure(lines: [KernelDropRule.missingNftFix]) }
        var rule = KernelDropRule(interface: config.interface, vips: config.balancer.services.map(\.key.vip))
        let publisher = TablePublisher(table)

        // Ports first: a failure here leaves nothing behind.
        let group = Fanout(groupID: UInt16(truncatingIfNeeded: getpid()))
        let starters: [() -> pthread_t]
        switch settings.io {
        case .afpacket:
            let ring = settings.receiveRing ?? config.receiveRing ?? .default
            let template = DatapathSettings.afpacket(interface: config.interface, ring: ring)
            starters = try openWorkers(config: config, table: table, publisher: publisher, kind: "AF_PACKET") { _ throws(AFPacketError) in
                var port = template
                port.fanout = group
                return try AFPacketPort(port)
            }
            logger.info("datapath: \(DatapathSettings.describe(template)), \(workerCount) worker(s) in fanout group \(group.groupID)")
        case .pcap:
            if let problem = Self.pcapOffloadProblem(interface: config.interface) { throw Failure(lines: [problem]) }
            if config.receiveRing != nil {
                logger.notice("datapath.rx_ring applies to --io afpacket; libpcap sets up its own ring (TPACKET_V2 in immediate mode)")
            }
            var template = PcapLiveConfiguration(interface: config.interface)
            template.fanout = group
            starters = try openWorkers(config: config, table: table, publisher: publisher, kind: "libpcap") { _ throws(PcapLiveError) in
                try PcapLivePort(template)
            }
            logger.info("datapath: \(DatapathSettings.describe(template)), \(workerCount) worker(s) in fanout group \(group.groupID) on pcap_fileno")
        }
        do { try rule.install() } catch {
            workerCounters = []
            throw Failure(lines: ["cannot install the nftables drop rule: \(error.description)"])
        }
        let covered = rule.vips.map(\.description).joined(separator: ", ")
        logger.info("installed nftables table netdev \(KernelDropRule.tableName): ingress drop on \(config.interface) for \(covered)")
        threads = starters.map { $0() }
        logger.info("running: \(workerCount) worker(s) on \(config.interface) (\(settings.io.rawValue)), \(config.balancer.services.count) service(s), table generation \(generation)")

        var current = config
        var reported = (notSent: UInt64(0), truncated: UInt64(0))
        var info = siginfo_t()
        var timeout = timespec(tv_sec: 1, tv_nsec: 0)
        while true {
            let signal = sigtimedwait(&signals, &info, &timeout)
            if signal == SIGINT || signal == SIGTERM {
                logger.info("received \(signal == SIGINT ? "SIGINT" : "SIGTERM"): stopping")
                break
            }
            reported = reportLostFrames(since: reported)
            guard signal == SIGHUP else { continue }
            logger.info("received SIGHUP: reloading \(configPath)")
            switch load(expectInterface: current.interface) {
            case .failure(let failure):
                for line in failure.lines { logger.error("reload rejected: \(line)") }
                logger.error("reload rejected: still running table generation \(generation)")
            case .success(let loaded):
                let next = generation &+ 1
                do {
                    let newTable = try ForwardingTable(generation: next, services: loaded.0.balancer.services)
                    let newRule = KernelDropRule(interface: loaded.0.interface, vips: loaded.0.balancer.services.map(\.key.vip))
                    if newRule.vips != rule.vips {
                        try newRule.install()
                        rule = newRule
                        logger.info("nftables drop rule now covers \(rule.vips.map(\.description).joined(separator: ", "))")
                    }
                    publisher.publish(newTable)
                    generation = next
                    if loaded.0.receiveRing != current.receiveRing {
                        // The rings exist for the life of the ports; swapping them would drop what they hold.
                        logger.notice("datapath.rx_ring changed: it takes effect at the next start, not on reload")
                    }
                    current = loaded.0
                    logger.info("reloaded: table generation \(generation), \(current.balancer.services.count) service(s)")
                } catch {
                    logger.error("reload rejected: \(error); still running table generation \(generation)")
                }
            }
        }
        stopping.store(true, ordering: .releasing)
        for thread in threads { pthread_join(thread, nil) }
        threads = []
        let totals = counters
        logger.info("workers stopped (rings drained): received \(totals.received), forwarded \(totals.forwarded), passed \(totals.passed), dropped \(totals.dropped), not sent \(totals.notSent), received cut short \(totals.truncated)")
        if workerCounters.count > 1 {
            let spread = workerCounters.enumerated().map { index, shared in
                let counters = shared.load()
                return "worker \(index) received \(counters.received) forwarded \(counters.forwarded)"
            }
            logger.info("per worker (fanout spread): \(spread.joined(separator: "; "))")
        }
        do {
            try rule.remove()
            logger.info("removed nftables table netdev \(KernelDropRule.tableName)")
        } catch {
            throw Failure(lines: ["could not remove the nftables table (remove it with: nft delete table netdev "
                                  + "\(KernelDropRule.tableName)): \(error.description)"])
        }
    }

    /// At most once per signal-loop wake-up (about a second apart): frames the ports received cut short
    /// or could not send since the last report, with what usually causes it. Returns the new totals.
    private func reportLostFrames(since reported: (notSent: UInt64, truncated: UInt64)) -> (notSent: UInt64, truncated: UInt64) {
        let totals = counters
        let pcapCause = "with --io pcap usually super-frames larger than the MTU from a sender's TSO/GSO on a veth or "
            + "tap (turn its segmentation offload off: ethtool -K PEER tso off gso off), or use --io afpacket"
        if totals.truncated > reported.truncated {
            let cause = settings.io == .pcap ? pcapCause : "frames larger than an RX slot"
            logger.warning("\(totals.truncated &- reported.truncated) received frame(s) were cut short and not forwarded (\(totals.truncated) in all): \(cause)")
        }
        if totals.notSent > reported.notSent {
            let cause = settings.io == .pcap ? pcapCause : "the TX ring or socket queue was full, or a frame was larger than a TX slot"
            logger.warning("\(totals.notSent &- reported.notSent) forwarded frame(s) could not be sent (\(totals.notSent) in all): \(cause)")
        }
        return (totals.notSent, totals.truncated)
    }

    /// Opens one port per worker (all or none) and returns, per worker, what starts its thread.
    private func openWorkers<Port: PacketPort, PortError: Error>(
        config: DromosConfig, table: ForwardingTable, publisher: TablePublisher, kind: String,
        open: (Int) throws(PortError) -> Port
    ) throws(Failure) -> [() -> pthread_t] {
        var workers: [DatapathWorker<Port>] = []
        do {
            for index in 0..<workerCount {
                let port = try open(index)
                let balancer = BalancerWorker(table: table, flowTable: config.balancer.flows, sourceMAC: config.mac)
                workers.append(DatapathWorker(index: index, port: port, balancer: balancer, publisher: publisher))
            }
        } catch {
            throw Failure(lines: ["cannot open the \(kind) port on \(config.interface): \(error)"])
        }
        workerCounters = workers.map(\.shared)
        return workers.map { worker in { self.startThread(worker) } }
    }

    private func startThread<Port: PacketPort>(_ worker: DatapathWorker<Port>) -> pthread_t {
        let context = Unmanaged.passRetained(WorkerThreadContext(worker) { [unowned self] in
            self.stopping.load(ordering: .acquiring)
        }).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<WorkerThreadContext>.fromOpaque(raw!).takeRetainedValue()
            context.run()
            return nil
        }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
        return thread
    }

    /// libpcap has no vnet header: a GRO/LRO super-frame larger than the MTU would be handed over as
    /// is and could not be sent. Nil when the interface coalesces nothing; else the refusal with the fix.
    static func pcapOffloadProblem(interface: String) -> String? {
        let features: InterfaceFeatures
        do { features = try InterfaceFeatures.read(interface) } catch {
            return "cannot read the offloads of \(interface) (needed for --io pcap): \(error)"
        }
        return DaemonPreflight.pcapOffloadProblem(interface: interface, activeCoalescing: features.activeReceiveCoalescing)
    }
}

/// What a worker thread runs; the port type is erased here, once per thread, not per frame.
private final class WorkerThreadContext {
    let run: () -> Void
    init<Port: PacketPort>(_ worker: DatapathWorker<Port>, _ stopping: @escaping () -> Bool) {
        run = { worker.run(until: stopping) }
    }
}

typealias Fanout = AFPacketConfiguration.Fanout
