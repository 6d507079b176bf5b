import DromosBalancer
public import DromosIO
import DromosWire
import Glibc
import Synchronization

/// `dromos run`: the daemon's lifecycle. Preflight checks, the kernel drop rule, one datapath thread
/// per worker (own AF_PACKET port in one fanout group, own balancer), then the signal loop on the
/// calling thread: SIGINT/SIGTERM stop (rings drained, rule removed), SIGHUP reloads the config.
public final class Daemon: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var lines: [String]
        public var description: String { lines.joined(separator: "\n") }
    }

    public let configPath: String
    public let workerCount: Int
    let log: @Sendable (String) -> Void
    /// Tests shrink the rings; the daemon uses the production defaults.
    let portTemplate: @Sendable (String) -> AFPacketConfiguration
    private let stopping = Atomic<Bool>(false)
    private var workers: [DatapathWorker] = []
    private var threads: [pthread_t] = []
    /// Set once `run` has loaded the config; read by the neighbor thread and `applyNeighbors`.
    private(set) var tableInputs: TableInputs?
    /// Sends the VIP announcements; set once `run` knows the interface's MAC.
    private(set) var announcer: VIPAnnouncer?

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    public init(configPath: String, workers: Int = 1, log: @escaping @Sendable (String) -> Void,
                port: @escaping @Sendable (String) -> AFPacketConfiguration = { AFPacketConfiguration(interface: $0) }) {
        self.configPath = configPath
        self.workerCount = max(workers, 1)
        self.log = log
        self.portTemplate = port
    }

    /// Everything the workers have counted so far, summed.
    public var counters: DatapathCounters { workers.reduce(DatapathCounters()) { $0 + $1.counters } }

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
        // Backends without a static MAC: the kernel's neighbor table, asked once now and then on a thread
        // (which runs even when all MACs are static, so a reload may add backends without one).
        let unresolved = TableInputs.unresolved(config)
        let resolver: NeighborResolver
        do { resolver = try NeighborResolver(interface: config.interface, log: log) } catch {
            throw Failure(lines: ["cannot resolve backend MACs: \(error)"])
        }
        let resolved = Self.initialNeighbors(resolver, unresolved)
        // The MAC replies and announcements carry, and forwarded frames' source: the config's, else the interface's.
        let ownMAC: MACAddress
        do { ownMAC = try config.mac ?? Self.interfaceMAC(config.interface) } catch {
            throw Failure(lines: ["cannot read the MAC of \(config.interface): \(error)"])
        }
        do { announcer = try VIPAnnouncer(interface: config.interface, mac: ownMAC) } catch {
            throw Failure(lines: ["\(error)"])
        }
        let inputs = TableInputs(config: config, resolved: resolved)
        tableInputs = inputs
        let table: ForwardingTable
        do { table = try inputs.initialTable() } catch {
            throw Failure(lines: ["cannot build the forwarding table: \(error)"])
        }
        guard KernelDropRule.nftPath() != nil else { throw Failure(lines: [KernelDropRule.missingNftFix]) }
        var rule = KernelDropRule(interface: config.interface, vips: config.balancer.services.map(\.key.vip))
        let publisher = TablePublisher(table)
        inputs.attach(publisher)

        // Ports first: a failure here leaves nothing behind.
        let group = Fanout(groupID: UInt16(truncatingIfNeeded: getpid()))
        do {
            for index in 0..<workerCount {
                var settings = portTemplate(config.interface)
                settings.fanout = group
                let port = try AFPacketPort(settings)
                let balancer = BalancerWorker(table: table, flowTable: config.balancer.flows, sourceMAC: ownMAC)
                workers.append(DatapathWorker(index: index, port: port, balancer: balancer, publisher: publisher))
            }
        } catch {
            workers = []
            throw Failure(lines: ["cannot open the AF_PACKET port on \(config.interface): \(error)"])
        }
        do { try rule.install() } catch {
            workers = []
            throw Failure(lines: ["cannot install the nftables drop rule: \(error.description)"])
        }
        log("installed nftables table netdev \(KernelDropRule.tableName): ingress drop on \(config.interface) for "
            + rule.vips.map(\.description).joined(separator: ", "))
        for worker in workers { threads.append(startThread(worker)) }
        threads.append(startNeighborThread(resolver))
        log("running: \(workerCount) worker(s) on \(config.interface) (AF_PACKET fanout group \(group.groupID)), "
            + "\(config.balancer.services.count) service(s), table generation \(inputs.generation)"
            + (unresolved.isEmpty ? "" : ", resolving \(unresolved.count) backend MAC(s) on \(config.interface)"))
        startAnnouncing(table.announcedVIPs)

        var current = config
        var info = siginfo_t()
        var timeout = timespec(tv_sec: 1, tv_nsec: 0)
        while true {
            let signal = sigtimedwait(&signals, &info, &timeout)
            if signal == SIGINT || signal == SIGTERM {
                log("received \(signal == SIGINT ? "SIGINT" : "SIGTERM"): stopping")
                break
            }
            guard signal == SIGHUP else { continue }
            log("received SIGHUP: reloading \(configPath)")
            switch load(expectInterface: current.interface) {
            case .failure(let failure):
                for line in failure.lines { log("reload rejected: \(line)") }
                log("reload rejected: still running table generation \(inputs.generation)")
            case .success(let loaded):
                do {
                    // Checked before the rule changes: a table that cannot be built leaves everything as it was.
                    _ = try ForwardingTable(generation: inputs.generation, services: loaded.0.balancer.services)
                    let newRule = KernelDropRule(interface: loaded.0.interface, vips: loaded.0.balancer.services.map(\.key.vip))
                    if newRule.vips != rule.vips {
                        try newRule.install()
                        rule = newRule
                        log("nftables drop rule now covers " + rule.vips.map(\.description).joined(separator: ", "))
                    }
                    let before = Set(inputs.announcedVIPs)
                    let generation = try inputs.reload(loaded.0)
                    current = loaded.0
                    startAnnouncing(inputs.announcedVIPs.filter { !before.contains($0) })
                    log("reloaded: table generation \(generation), \(current.balancer.services.count) service(s)")
                } catch {
                    log("reload rejected: \(error); still running table generation \(inputs.generation)")
                }
            }
        }
        stopping.store(true, ordering: .releasing)
        for thread in threads { pthread_join(thread, nil) }
        threads = []
        let totals = counters
        log("workers stopped (rings drained): received \(totals.received), forwarded \(totals.forwarded), "
            + "passed \(totals.passed), dropped \(totals.dropped), replied \(totals.replied)")
        if workers.count > 1 {
            log("per worker (fanout spread): " + workers.map { worker in
                let counters = worker.counters
                return "worker \(worker.index) received \(counters.received) forwarded \(counters.forwarded)"
            }.joined(separator: "; "))
        }
        do {
            try rule.remove()
            log("removed nftables table netdev \(KernelDropRule.tableName)")
        } catch {
            throw Failure(lines: ["could not remove the nftables table (remove it with: nft delete table netdev "
                                  + "\(KernelDropRule.tableName)): \(error.description)"])
        }
    }

    private func startThread(_ worker: DatapathWorker) -> pthread_t {
        let context = Unmanaged.passRetained(WorkerThreadContext(worker) { [unowned self] in
            self.stopping.load(ordering: .acquiring)
        }).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<WorkerThreadContext>.fromOpaque(raw!).takeRetainedValue()
            context.worker.run(until: context.stopping)
            return nil
        }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
        return thread
    }
}

private final class WorkerThreadContext {
    let worker: DatapathWorker
    let stopping: () -> Bool
    init(_ worker: DatapathWorker, _ stopping: @escaping () -> Bool) {
        self.worker = worker
        self.stopping = stopping
    }
}

typealias Fanout = AFPacketConfiguration.Fanout
