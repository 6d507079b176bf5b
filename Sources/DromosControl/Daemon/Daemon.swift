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
    /// Tests shorten the idle timeout.
    public var controlLimits = ControlServer.Limits()
    private let stopping = Atomic<Bool>(false)
    private var workers: [DatapathWorker] = []
    private var threads: [pthread_t] = []
    /// Set once `run` has built it; the neighbor thread and `applyNeighbors` feed it MACs.
    private(set) var controlPlane: ControlPlane?
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

    /// The pool to start from (config file or state file, see ``ControlPlane/startingPool``) and the
    /// control plane that owns it from here on.
    func startControlPlane(_ config: DromosConfig) throws(Failure) -> ControlPlane {
        let stateFile = config.statePath.map(StateFile.init(path:))
        let interface = config.interface
        let hooks = ControlHooks(
            coverVIPs: { vips in
                do throws(KernelDropRule.Failure) {
                    try KernelDropRule(interface: interface, vips: vips).replace()
                    return nil
                } catch { return error.description }
            },
            hostProblems: { services in
                DaemonPreflight.poolProblems(services: services, interface: interface, interfaces: HostInterface.all())
            },
            loadConfig: { [load = self.load] in
                switch load(interface) {
                case .success(let loaded): return .success(loaded.0)
                case .failure(let failure): return .failure(ControlError(failure.lines.joined(separator: "; ")))
                }
            })
        do throws(ControlError) {
            let (pool, note) = try ControlPlane.startingPool(config: config, stateFile: stateFile)
            log(note)
            if let problem = hooks.hostProblems(pool.services).first { throw ControlError(problem) }
            return try ControlPlane(pool: pool, configServices: config.balancer.services, stateFile: stateFile, hooks: hooks, log: log)
        } catch {
            throw Failure(lines: [error.message])
        }
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
        let plane = try startControlPlane(config)
        controlPlane = plane
        // Backends without a static MAC: the kernel's neighbor table, asked once now and then on a thread
        // (which runs even when all MACs are static, so a change may add backends without one).
        let resolver: NeighborResolver
        do { resolver = try NeighborResolver(interface: config.interface, log: log) } catch {
            throw Failure(lines: ["cannot resolve backend MACs: \(error)"])
        }
        let unresolved = Self.unresolved(plane.running.pool.services)
        applyNeighbors(Self.initialNeighbors(resolver, unresolved))
        // The MAC replies and announcements carry, and forwarded frames' source: the config's, else the interface's.
        let ownMAC: MACAddress
        do { ownMAC = try config.mac ?? Self.interfaceMAC(config.interface) } catch {
            throw Failure(lines: ["cannot read the MAC of \(config.interface): \(error)"])
        }
        do { announcer = try VIPAnnouncer(interface: config.interface, mac: ownMAC) } catch {
            throw Failure(lines: ["\(error)"])
        }
        let table = plane.running.table
        guard KernelDropRule.nftPath() != nil else { throw Failure(lines: [KernelDropRule.missingNftFix]) }
        let rule = KernelDropRule(interface: config.interface, vips: plane.vips)
        let publisher = plane.publisher

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
        let reader = DatapathReader.workers(mailboxes: workers.map(\.mailbox)) { [workers] in
            workers.reduce(DatapathCounters()) { $0 + $1.counters }
        }
        // The control socket and metrics before the rule: a socket in use (another daemon) stops us here.
        let server: ControlServer
        var metrics: MetricsServer? = nil
        do {
            server = try ControlServer(
                path: config.controlSocket, access: .init(group: config.controlGroup),
                service: ControlService(plane: plane, datapath: reader, interface: config.interface, log: log,
                                        announce: { [unowned self] in self.announceVIPs() }),
                limits: controlLimits, log: log)
        } catch {
            workers = []
            throw Failure(lines: [error.message])
        }
        if let listen = config.metricsListen {
            do {
                metrics = try MetricsServer(listen: listen, exporter: MetricsExporter(plane: plane, datapath: reader))
            } catch {
                server.stop()
                workers = []
                throw Failure(lines: [error.message])
            }
        }
        do { try rule.install() } catch {
            workers = []
            server.stop()
            metrics?.stop()
            throw Failure(lines: ["cannot install the nftables drop rule: \(error.description)"])
        }
        log("installed nftables table netdev \(KernelDropRule.tableName): ingress drop on \(config.interface) for "
            + rule.vips.map(\.description).joined(separator: ", "))
        for worker in workers { threads.append(startThread(worker)) }
        threads.append(startNeighborThread(resolver))
        server.start()
        metrics?.start()
        log("running: \(workerCount) worker(s) on \(config.interface) (AF_PACKET fanout group \(group.groupID)), "
            + "\(plane.running.pool.services.count) service(s), table generation \(plane.running.generation); "
            + "control socket \(config.controlSocket)" + (metrics.map { "; metrics on http://\($0.listen)/metrics" } ?? "")
            + (unresolved.isEmpty ? "" : "; resolving \(unresolved.count) backend MAC(s) on \(config.interface)"))

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
            do {
                let generation = try plane.apply(.reload)
                log("reloaded: table generation \(generation), \(plane.running.pool.services.count) service(s)")
            } catch {
                for line in error.message.split(separator: "; ") { log("reload rejected: \(line)") }
                log("reload rejected: still running table generation \(plane.running.generation)")
            }
        }
        server.stop()
        metrics?.stop()
        stopWorkers()
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
            try KernelDropRule(interface: config.interface, vips: []).remove()
            log("removed nftables table netdev \(KernelDropRule.tableName)")
        } catch {
            throw Failure(lines: ["could not remove the nftables table (remove it with: nft delete table netdev "
                                  + "\(KernelDropRule.tableName)): \(error.description)"])
        }
    }

    private func stopWorkers() {
        stopping.store(true, ordering: .releasing)
        for thread in threads { pthread_join(thread, nil) }
        threads = []
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
