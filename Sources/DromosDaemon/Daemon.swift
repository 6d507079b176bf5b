import DromosBalancer
public import DromosConfig
import DromosControlPlane
public import DromosDatapath
import DromosHost
import DromosIO
import DromosSystem
import DromosWire
import DromosXDP
import Glibc
public import Logging
import ServiceLifecycle
import Synchronization

/// `dromos run`: the daemon's lifecycle. Preflight checks, the kernel drop rule, one datapath thread
/// per worker (own port — AF_PACKET socket or libpcap handle — in one fanout group, own balancer), then the signal loop on the
/// calling thread: SIGINT/SIGTERM stop (rings drained, rule removed), SIGHUP reloads the config.
public final class Daemon: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var lines: [String]
        public var description: String { lines.joined(separator: "\n") }
    }

    public let configPath: String
    public let settings: DatapathSettings
    public var workerCount: Int { settings.workers }
    let logger: Logger
    /// For the control plane and server, which log plain lines (at info).
    let log: @Sendable (String) -> Void
    /// Tests shorten the idle timeout.
    public var controlLimits = ControlServer.Limits()
    private let stopping = Atomic<Bool>(false)
    /// Each worker's counters (the workers themselves are generic over their port).
    private var workerCounters: [SharedCounters] = []
    private var threads: [pthread_t] = []
    /// Set once `run` has built it; the neighbor thread and `applyNeighbors` feed it MACs.
    private(set) var controlPlane: ControlPlane?
    /// The nftables rule, or the XDP program's VIP map once `run` attached it.
    private(set) var cover: VIPCover!
    /// Sends the VIP announcements; set once `run` knows the interface's MAC.
    private(set) var announcer: VIPAnnouncer?

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    public init(configPath: String, settings: DatapathSettings = DatapathSettings(), logger: Logger) {
        self.configPath = configPath
        self.settings = settings
        self.logger = logger
        log = { [logger] line in logger.info("\(line)") }
    }

    /// Everything the workers have counted so far, summed.
    public var counters: DatapathCounters { workerCounters.reduce(DatapathCounters()) { $0 + $1.load() } }

    /// Loads and checks the configuration the way both start and reload do. A reload (`running` is the
    /// configuration the daemon started with) applies the services; an edit of anything else is refused,
    /// never silently left unapplied.
    func load(running: DromosConfig?) -> Result<(DromosConfig, [String]), Failure> {
        let config: DromosConfig
        do { config = try ConfigLoader.load(path: configPath) } catch { return .failure(Failure(lines: error.lines)) }
        var problems = DaemonPreflight.problems(config: config, isRoot: geteuid() == 0, interfaces: HostInterface.all())
        if let running { problems += Self.restartOnlyChanges(from: running, to: config) }
        return problems.isEmpty ? .success((config, [])) : .failure(Failure(lines: problems))
    }

    /// The settings a running daemon cannot take over (sockets, rings, the flow tables' size, the route
    /// table), each as a refusal naming the field.
    public static func restartOnlyChanges(from running: DromosConfig, to edited: DromosConfig) -> [String] {
        var changed: [String] = []
        if edited.interface != running.interface { changed.append("interface (from \(running.interface) to \(edited.interface))") }
        if edited.mac != running.mac { changed.append("mac") }
        if edited.controlSocket != running.controlSocket || edited.controlGroup != running.controlGroup { changed.append("control") }
        if edited.statePath != running.statePath { changed.append("state") }
        if edited.metricsListen != running.metricsListen { changed.append("metrics") }
        if edited.receiveRing != running.receiveRing { changed.append("datapath") }
        if edited.balancer.flows != running.balancer.flows { changed.append("flows") }
        if edited.advertise != running.advertise { changed.append("advertise") }
        return changed.map { "\($0) changed: that needs a restart, not a reload (the services are what a reload applies)" }
    }

    /// The pool to start from (config file or state file, see ``ControlPlane/startingPool``) and the
    /// control plane that owns it from here on.
    func startControlPlane(_ config: DromosConfig) throws(Failure) -> ControlPlane {
        cover = VIPCover(interface: config.interface, controlSocket: config.controlSocket)
        let stateFile = config.statePath.map(StateFile.init(path:))
        let interface = config.interface
        let hooks = ControlHooks(
            coverVIPs: { [cover] vips in cover.replace(vips) },
            hostProblems: { services in
                DaemonPreflight.poolProblems(services: services, interface: interface, interfaces: HostInterface.all())
                    + Self.healthSourceProblems(services, interface: interface)
            },
            loadConfig: { [load = self.load] in
                switch load(config) {
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
    ///
    /// The lifecycle is a swift-service-lifecycle `ServiceGroup` of stages (`DaemonStage`): the datapath
    /// (nft rule, worker and neighbor threads), the control socket, the metrics endpoint, SIGHUP reload
    /// and the lost-frame report. SIGTERM/SIGINT shut the group down gracefully, in reverse order: the
    /// servers stop taking requests, then the workers drain their rings, then the rule goes.
    public func run() async throws(Failure) {
        let config: DromosConfig
        switch load(running: nil) {
        case .success(let loaded): config = loaded.0
        case .failure(let failure): throw failure
        }
        let plane = try startControlPlane(config)
        controlPlane = plane
        let advertiser = try makeAdvertiser(config, plane: plane)
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
        if settings.io != .xdp, KernelDropRule.nftPath() == nil { throw Failure(lines: [KernelDropRule.missingNftFix]) }
        let cover = self.cover!
        let publisher = plane.publisher

        // Ports first: a failure here leaves nothing behind.
        let group = Fanout(groupID: UInt16(truncatingIfNeeded: getpid()))
        let opened: OpenedWorkers
        switch settings.io {
        case .afpacket:
            let ring = settings.receiveRing ?? config.receiveRing ?? .default
            let template = DatapathSettings.afpacket(interface: config.interface, ring: ring)
            opened = try openWorkers(config: config, sourceMAC: ownMAC, table: table, publisher: publisher, kind: "AF_PACKET") { _ throws(AFPacketError) in
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
            // The interface coalesces nothing (refused above otherwise): no frame exceeds the MTU, and
            // MTU-sized snapshots give libpcap's ring slots of that size instead of 64 KiB ones.
            if let mtu = Self.interfaceMTU(config.interface) { template.snapshotLength = PcapLiveConfiguration.frameLimit(mtu: mtu) }
            opened = try openWorkers(config: config, sourceMAC: ownMAC, table: table, publisher: publisher, kind: "libpcap") { _ throws(PcapLiveError) in
                try PcapLivePort(template)
            }
            logger.info("datapath: \(DatapathSettings.describe(template)), \(workerCount) worker(s) in fanout group \(group.groupID) on pcap_fileno")
        case .xdp:
            let attachment = try attachXDP(interface: config.interface, workers: workerCount)
            try cover.use(attachment)
            opened = try openWorkers(config: config, sourceMAC: ownMAC, table: table, publisher: publisher, kind: "AF_XDP") { index throws(XDPError) in
                var port = AFXDPPort.Configuration(interface: config.interface)
                port.queue = UInt32(index)
                return try AFXDPPort(port, attachment: attachment)
            }
            log("datapath: AF_XDP, XDP program in \(attachment.mode.rawValue) mode, copy mode, need-wakeup, "
                + "\(workerCount) worker(s) on queues 0…\(workerCount - 1)")
        }
        // What `ctl status` says carries the frames.
        let ioDescription = cover.xdp.map { "xdp (\($0.mode.rawValue) mode, copy)" } ?? settings.io.rawValue
        // The ports live in the starters until the datapath stage starts the threads that own them.
        let starters = HandOver(opened.starters)
        let fanoutGroup = group.groupID
        // The resolver moves into the neighbor thread the datapath stage starts; nothing else touches it.
        let handOver = HandOver(resolver)
        let reader = DatapathReader.workers(mailboxes: opened.mailboxes) { [workerCounters] in
            workerCounters.reduce(DatapathCounters()) { $0 + $1.load() }
        }
        // After the ports, so that a failure above leaves no checker threads behind.
        let checker = try makeHealthChecker(plane: plane, interface: config.interface, mac: ownMAC)
        // The control socket and metrics before the rule: a socket in use (another daemon) stops us here.
        let server: ControlServer
        let metrics: MetricsServer?
        do {
            server = try ControlServer(
                path: config.controlSocket, access: .init(group: config.controlGroup),
                service: ControlService(plane: plane, datapath: reader, interface: config.interface, io: ioDescription, health: checker.board, log: log,
                                        announce: { [unowned self] in self.announceVIPs() }, advertiser: advertiser),
                limits: controlLimits, log: log)
        } catch {
            await offThePool { checker.stop() }
            throw Failure(lines: [error.message])
        }
        if let listen = config.metricsListen {
            do {
                metrics = try MetricsServer(listen: listen, exporter: MetricsExporter(plane: plane, datapath: reader, health: checker.board))
            } catch {
                server.stop()
                await offThePool { checker.stop() }
                throw Failure(lines: [error.message])
            }
        } else {
            metrics = nil
        }
        let installed = Atomic<Bool>(false)
        // One stage, in order: ServiceGroup starts its services concurrently, and nothing may take
        // requests, or say "running", before the rule is in and the workers forward.
        let forwarding = DaemonStage(name: "forwarding", begin: { [unowned self] in
            let covered = try cover.install(plane.vips)
            installed.store(true, ordering: .releasing)
            self.log(covered)
            self.threads = starters.take().map { $0() } + [self.startNeighborThread(handOver.take())]
            checker.update(plane.running.pool.services)
            server.start()
            metrics?.start()
            self.log("running: \(self.workerCount) worker(s) on \(config.interface) (\(self.settings.io == .xdp ? "xdp" : "\(self.settings.io.rawValue), fanout group \(fanoutGroup)")), "
                     + "\(plane.running.pool.services.count) service(s), table generation \(plane.running.generation); "
                     + "control socket \(config.controlSocket)" + (metrics.map { "; metrics on http://\($0.listen)/metrics" } ?? "")
                     + (unresolved.isEmpty ? "" : "; resolving \(unresolved.count) backend MAC(s) on \(config.interface)"))
            // Last: routers send traffic here only once every part of the daemon is up.
            advertiser?.start(plane.running.table)
            // systemd's Type=notify: ready once the workers forward and the control socket listens.
            if let failure = ServiceManagerNotification.send("READY=1\nSTATUS=forwarding on \(config.interface)") {
                self.logger.warning("could not tell the service manager we are ready: \(failure)")
            }
        }, end: { [unowned self] in
            ServiceManagerNotification.send("STOPPING=1")
            // Requests first: no change may wait for workers that are already gone.
            server.stop()
            metrics?.stop()
            checker.stop()
            self.log("stopping: the workers drain their rings")
            self.stopWorkers()
            self.logTotals()
        })
        var stages: [any Service] = [forwarding]
        stages.append(ReloadOnHangUp { [unowned self] in self.reload(plane) })
        let reported = Mutex(DatapathCounters())
        stages.append(Periodic(interval: .seconds(1)) { [unowned self] in
            reported.withLock { $0 = self.reportLostFrames(since: $0, interface: config.interface) }
            advertiser?.refresh()
        })
        // Last, so that the group, which stops its services one by one from the last, stops it first: the
        // routes go before anything else does (a reload still running would otherwise hold them up).
        if let advertiser { stages.append(withdrawalStage(advertiser)) }
        let lifecycle = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: stages, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        var failure: Failure? = nil
        do { try await lifecycle.run() } catch let stageFailure as Failure {
            failure = stageFailure
        } catch {
            failure = Failure(lines: ["\(error)"])
        }
        // Stopped already by the forwarding stage's end, unless it never began.
        await offThePool { checker.stop() }
        // Retries a withdrawal that failed at the stop, or makes one a failed start needs.
        if let advertiser, let problem = advertiser.stop() {
            failure = Failure(lines: (failure?.lines ?? []) + ["advertise: \(problem) (remove them by hand: ip route flush table "
                                                                 + "\(advertiser.spec.table) proto \(AdvertiseSpec.routeProtocol))"])
        }
        if installed.load(ordering: .acquiring) || cover.xdp != nil {
            let removed = cover.remove()
            if let problem = removed.failure {
                failure = Failure(lines: (failure?.lines ?? []) + [problem])
            } else {
                log(removed.done)
            }
        }
        if let failure { throw failure }
    }

    /// SIGHUP: the same path as `dromos ctl reload`.
    private func reload(_ plane: ControlPlane) {
        log("received SIGHUP: reloading \(configPath)")
        ServiceManagerNotification.send("RELOADING=1")
        defer { ServiceManagerNotification.send("READY=1") }
        do {
            let generation = try plane.apply(.reload)
            log("reloaded: table generation \(generation), \(plane.running.pool.services.count) service(s)")
        } catch {
            for line in error.message.split(separator: "; ") { logger.error("reload rejected: \(line)") }
            logger.error("reload rejected: still running table generation \(plane.running.generation)")
        }
    }

    private func logTotals() {
        let totals = counters
        log("workers stopped (rings drained): received \(totals.received), forwarded \(totals.forwarded), "
            + "passed \(totals.passed), dropped \(totals.dropped), not sent \(totals.notSent), received cut short \(totals.truncated), replied \(totals.replied)")
        if workerCounters.count > 1 {
            log("per worker (fanout spread): " + workerCounters.enumerated().map { index, shared in
                let counters = shared.load()
                return "worker \(index) received \(counters.received) forwarded \(counters.forwarded)"
            }.joined(separator: "; "))
        }
    }

    private func stopWorkers() {
        stopping.store(true, ordering: .releasing)
        for thread in threads { pthread_join(thread, nil) }
        threads = []
    }

    /// About once a second: frames the ports received cut short or could not send since the last
    /// report, and forwarded frames whose checksum a sender left unfinished, with what usually causes it.
    /// Returns the totals reported.
    private func reportLostFrames(since reported: DatapathCounters, interface: String) -> DatapathCounters {
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
        if totals.badChecksums > reported.badChecksums {
            let text = "\(totals.badChecksums &- reported.badChecksums) of the forwarded frames sampled on \(interface) carried a "
                + "TCP/UDP checksum that does not hold (\(totals.badChecksums) in all): a sender's checksum offload left it for a NIC "
                + "to finish, \(settings.io == .xdp ? "AF_XDP" : "libpcap") cannot see that (it has no vnet header), and the backends "
                + "drop such frames. Turn the offload off on the link's peer (ethtool -K PEER tx off) or use --io afpacket"
            logger.warning("\(text)")
        }
        return totals
    }

    /// What `openWorkers` hands back: per worker, what starts its thread, and its mailbox.
    private struct OpenedWorkers {
        var starters: [() -> pthread_t]
        var mailboxes: [WorkerMailbox]
    }

    /// Opens one port per worker (all or none). The ports live in the starters: dropping those closes them.
    private func openWorkers<Port: PacketPort, PortError: Error>(
        config: DromosConfig, sourceMAC: MACAddress, table: ForwardingTable, publisher: TablePublisher, kind: String,
        open: (Int) throws(PortError) -> Port
    ) throws(Failure) -> OpenedWorkers {
        var workers: [DatapathWorker<Port>] = []
        do {
            for index in 0..<workerCount {
                let port = try open(index)
                let balancer = BalancerWorker(table: table, flowTable: config.balancer.flows, sourceMAC: sourceMAC)
                workers.append(DatapathWorker(index: index, port: port, balancer: balancer, publisher: publisher))
            }
        } catch {
            throw Failure(lines: ["cannot open the \(kind) port on \(config.interface): \(error)"])
        }
        workerCounters = workers.map(\.shared)
        return OpenedWorkers(starters: workers.map { worker in { self.startThread(worker) } }, mailboxes: workers.map(\.mailbox))
    }

    private func startThread<Port: PacketPort>(_ worker: DatapathWorker<Port>) -> pthread_t {
        let context = Unmanaged.passRetained(WorkerThreadContext(worker) { [unowned self] in
            self.stopping.load(ordering: .acquiring)
        }).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            DaemonSignals.blockInThisThread()
            let context = Unmanaged<WorkerThreadContext>.fromOpaque(raw!).takeRetainedValue()
            context.run()
            return nil
        }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
        return thread
    }

    /// The interface's MTU as the kernel lists it; nil when it cannot be read (the default snapshot stays).
    static func interfaceMTU(_ interface: String) -> Int? {
        guard let text = try? Files.readText("/sys/class/net/\(interface)/mtu") else { return nil }
        return Int(text.filter { !$0.isWhitespace })
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

/// Moves a value that is not `Sendable` into the one closure that takes it, exactly once.
private final class HandOver<Value>: @unchecked Sendable {
    private var value: Value?
    init(_ value: Value) { self.value = value }
    func take() -> Value {
        defer { value = nil }
        return value!
    }
}
