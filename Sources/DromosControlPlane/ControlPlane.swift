public import DromosBalancer
public import DromosConfig
public import DromosDatapath
import DromosHealth
import DromosHost
import DromosSystem
public import DromosWire
import Synchronization

/// What the control plane needs from the host, so it can be driven without a daemon in tests.
public struct ControlHooks: Sendable {
    /// Makes the kernel drop rule cover exactly these VIPs; returns why it could not.
    public var coverVIPs: @Sendable ([IPAddress]) -> String?
    /// Why this host cannot serve these services (a VIP local here, a backend without a MAC); empty if fine.
    public var hostProblems: @Sendable ([ServiceSpec]) -> [String]
    /// Re-reads the config file for `reload`, refusing what a reload cannot change (the interface).
    public var loadConfig: @Sendable () -> Result<DromosConfig, ControlError>

    public init(coverVIPs: @escaping @Sendable ([IPAddress]) -> String?,
                hostProblems: @escaping @Sendable ([ServiceSpec]) -> [String],
                loadConfig: @escaping @Sendable () -> Result<DromosConfig, ControlError>) {
        self.coverVIPs = coverVIPs
        self.hostProblems = hostProblems
        self.loadConfig = loadConfig
    }
}

/// The running pool as readers see it: replaced whole after each accepted change.
public struct RunningPool: Sendable {
    public var pool: RuntimePool
    public var table: ForwardingTable
    /// The table generation workers adopt; one more per accepted change.
    public var generation: UInt32
    public var acceptedChanges: UInt64
    public var refusedChanges: UInt64
    /// What the health checks found down when `table` was built.
    public var healthDown: Set<BackendKey> = []

    /// The backends of `service` that take traffic in `table` (checks, overrides and `on_all_down` applied).
    public func upBackends(_ service: ServiceSpec) -> Set<IPAddress> {
        ControlPlane.upBackends(service, pool: pool, healthDown: healthDown)
    }
}

/// The single owner of the running spec. A change is applied to a copy, validated, turned into a complete
/// `ForwardingTable` (off the packet path), the drop rule is widened if VIPs were added, the state file
/// written, and only then the table published and the change answered. Anything refused on the way leaves
/// the spec, the table, the state file and the drop rule as they were. Changes are serialized by one
/// mutex; reads take a snapshot under another, held only to copy it, so a read never waits for a change
/// (and never for the packet path, which owns nothing here).
public final class ControlPlane: Sendable {
    private struct Owned {
        var pool: RuntimePool
        var configServices: [ServiceSpec]
        var neighbors: [IPAddress: MACAddress]
        var vips: [IPAddress]
        var generation: UInt32
        /// What the health checks found down (not persisted: the checks run again after a restart).
        var healthDown: Set<BackendKey> = []
        /// Services with no backend up, as last logged.
        var allDown: Set<String> = []
    }

    public let publisher: TablePublisher
    public let stateFile: StateFile?
    private let hooks: ControlHooks
    private let log: @Sendable (String) -> Void
    private let owned: Mutex<Owned>
    private let published: Mutex<RunningPool>
    private let poolObserver = Mutex<(@Sendable ([ServiceSpec]) -> Void)?>(nil)
    private let tableObserver = Mutex<(@Sendable (ForwardingTable) -> Void)?>(nil)

    /// Builds the first table from `pool` and records it in the state file (so the file names the config
    /// it started from). Installs nothing: the caller installs the drop rule for `vips` before traffic.
    public init(pool: RuntimePool, configServices: [ServiceSpec], stateFile: StateFile?, hooks: ControlHooks,
                log: @escaping @Sendable (String) -> Void) throws(ControlError) {
        let table = try Self.buildTable(pool: pool, neighbors: [:], healthDown: [], generation: 1)
        if let stateFile { try stateFile.save(SavedState(configServices: configServices, pool: pool)) }
        publisher = TablePublisher(table)
        self.stateFile = stateFile
        self.hooks = hooks
        self.log = log
        let vips = Self.vips(pool.services)
        owned = Mutex(Owned(pool: pool, configServices: configServices, neighbors: [:], vips: vips, generation: 1))
        published = Mutex(RunningPool(pool: pool, table: table, generation: 1, acceptedChanges: 0, refusedChanges: 0))
        owned.withLock { logAllDown(&$0) }
    }

    /// The pool to start with, and a sentence for the log saying why. The rule: the state file records the
    /// running pool and the config file's services it grew from. If the config file still says the same,
    /// the runtime changes are the newer word and win; if the config file was edited since (its services
    /// differ in any field), the operator's edit wins and the runtime changes are dropped (logged).
    public static func startingPool(config: DromosConfig, stateFile: StateFile?) throws(ControlError) -> (RuntimePool, String) {
        let fromConfig = RuntimePool(services: config.balancer.services)
        guard let stateFile else { return (fromConfig, "no state file configured: runtime changes will not survive a restart") }
        guard let saved = try stateFile.load() else { return (fromConfig, "no state file at \(stateFile.path) yet: starting from the config file") }
        if saved.configServices == config.balancer.services {
            return (saved.pool, "restored the running pool from \(stateFile.path) (\(saved.pool.services.count) service(s), "
                    + "\(saved.pool.drained.count) draining backend(s), \(saved.pool.forced.count) forced up or down); "
                    + "the config file is unchanged since it was written")
        }
        // Overrides are the operator's word on a backend, not a change of the pool: they stay for backends
        // the edited file still has.
        var edited = fromConfig
        edited.forced = saved.pool.forced.filter { edited.contains($0.key) }
        return (edited, "the config file's services changed since \(stateFile.path) was written: starting from the "
                + "config file; the runtime changes recorded there are dropped"
                + (edited.forced.isEmpty ? "" : " (\(edited.forced.count) backend(s) stay forced up or down)"))
    }

    public var running: RunningPool { published.withLock { $0 } }

    public var vips: [IPAddress] { owned.withLock { $0.vips } }

    /// Called with the running services after every accepted change (the health checker follows them).
    public func observePool(_ body: @escaping @Sendable ([ServiceSpec]) -> Void) {
        poolObserver.withLock { $0 = body }
    }

    /// Called with every table published from here on (changes, health, neighbors), in the order they
    /// are published: under the change lock, so two calls never overlap or pass each other.
    public func observeTables(_ body: @escaping @Sendable (ForwardingTable) -> Void) {
        tableObserver.withLock { $0 = body }
    }

    /// Where frames for a backend go now (its static or resolved MAC), from the running table.
    public func backendMAC(_ key: BackendKey) -> MACAddress? {
        let table = published.withLock { $0.table }
        guard let service = table.services.firstIndex(where: { $0.key == key.service }) else { return nil }
        let slot = table.lookupBackend(service: Int32(service), address: key.address)
        return slot >= 0 ? table.backendMAC(slot) : nil
    }

    /// From the health checker: the backends its checks find down now. Rebuilds and publishes the table
    /// when that changes what is up (not persisted, not counted as a change); returns the new generation.
    @discardableResult
    public func setHealthDown(_ down: Set<BackendKey>) -> UInt32? {
        owned.withLock { (owned: inout Owned) -> UInt32? in
            guard owned.healthDown != down else { return nil }
            owned.healthDown = down
            return republish(&owned, because: "health")
        }
    }

    /// How long a change waits for every worker to adopt its table before it is answered anyway (and
    /// the lag logged): a worker adopts at its next batch boundary, within one idle wait (10 ms).
    static let adoptionTimeoutMilliseconds = 1_000

    /// Applies one change; returns the new generation, or why nothing changed. Returns once every
    /// worker decides with the new table, so that an answered change holds for every frame after it
    /// (a removed or drained backend gets no new flow started after the answer).
    @discardableResult
    public func apply(_ change: PoolChange) throws(ControlError) -> UInt32 {
        do {
            let generation = try owned.withLock { (owned: inout Owned) throws(ControlError) -> UInt32 in
                try commit(change, &owned)
            }
            if !publisher.waitUntilAdopted(timeoutMilliseconds: Self.adoptionTimeoutMilliseconds) {
                log("table generation \(generation): not every worker had adopted it after "
                    + "\(Self.adoptionTimeoutMilliseconds) ms (a stuck or starved worker thread?)")
            }
            return generation
        } catch {
            published.withLock { $0.refusedChanges += 1 }
            throw error
        }
    }

    /// For neighbor resolution (ARP/NDP): `mac` is where frames for backends at `address` without a
    /// static MAC now go. Rebuilds and publishes the table only if some such backend exists and the MAC
    /// is new. Not persisted: neighbors are resolved again after a restart. Returns whether it published.
    @discardableResult
    public func updateNeighbor(address: IPAddress, mac: MACAddress) -> Bool {
        owned.withLock { owned in
            guard owned.neighbors[address] != mac else { return false }
            owned.neighbors[address] = mac
            let uses = owned.pool.services.contains { $0.backends.contains { $0.address == address && $0.mac == nil } }
            guard uses, let generation = republish(&owned, because: "neighbor") else { return false }
            log("neighbor \(address) is at \(mac): table generation \(generation)")
            return true
        }
    }

    /// The whole neighbor map at once, from the resolver's pass: an address missing from `macs` has no
    /// MAC any more (its entry failed), so its backends take no new flows. Rebuilds and publishes only
    /// when the MAC of an address some backend without a static MAC uses changed; returns the new
    /// generation then, nil otherwise (also when the table could not be built: logged, nothing changes).
    @discardableResult
    public func replaceNeighbors(_ macs: [IPAddress: MACAddress]) -> UInt32? {
        owned.withLock { (owned: inout Owned) -> UInt32? in
            let used = owned.pool.services.flatMap(\.backends).filter { $0.mac == nil }.map(\.address)
            let changed = used.contains { owned.neighbors[$0] != macs[$0] }
            owned.neighbors = macs
            guard changed else { return nil }
            return republish(&owned, because: "backend MACs")
        }
    }

    /// A new table for the same pool (neighbors or health changed): built, published, logged on failure.
    private func republish(_ owned: inout Owned, because cause: String) -> UInt32? {
        let table: ForwardingTable
        do {
            table = try Self.buildTable(pool: owned.pool, neighbors: owned.neighbors, healthDown: owned.healthDown,
                                        generation: owned.generation &+ 1)
        } catch {
            log("\(cause) changed but the table could not be rebuilt: \(error)")
            return nil
        }
        owned.generation &+= 1
        publisher.publish(table)
        let pool = owned.pool, generation = owned.generation, healthDown = owned.healthDown
        published.withLock { $0.table = table; $0.generation = generation; $0.pool = pool; $0.healthDown = healthDown }
        logAllDown(&owned)
        tableObserver.withLock { $0 }?(table)
        return generation
    }

    private func commit(_ change: PoolChange, _ owned: inout Owned) throws(ControlError) -> UInt32 {
        var pool = owned.pool
        var configServices = owned.configServices
        if change == .reload {
            let config: DromosConfig
            switch hooks.loadConfig() {
            case .success(let loaded): config = loaded
            case .failure(let failure): throw failure
            }
            // A reload starts from the file (drains and runtime changes go); overrides stay for the backends
            // that stay, as an operator's word on a server is not part of the file.
            let forced = pool.forced
            pool = RuntimePool(services: config.balancer.services)
            pool.forced = forced.filter { pool.contains($0.key) }
            configServices = config.balancer.services
        } else {
            try change.apply(to: &pool)
        }
        if let problem = BalancerSpec(services: pool.services).problems().first { throw ControlError(problem.description) }
        let problems = hooks.hostProblems(pool.services)
        if !problems.isEmpty { throw ControlError(problems.joined(separator: "; ")) }
        let generation = owned.generation &+ 1
        let table = try Self.buildTable(pool: pool, neighbors: owned.neighbors, healthDown: owned.healthDown, generation: generation)
        let vips = Self.vips(pool.services)
        // New VIPs must be covered before any worker forwards them, or the kernel answers them too.
        if vips != owned.vips, let failure = hooks.coverVIPs(vips) {
            throw ControlError("cannot update the nftables drop rule: \(failure)")
        }
        if let stateFile {
            do { try stateFile.save(SavedState(configServices: configServices, pool: pool)) } catch {
                if vips != owned.vips, let undo = hooks.coverVIPs(owned.vips) {
                    log("could not restore the nftables drop rule after a refused change: \(undo)")
                }
                throw ControlError("cannot persist the change, so it is refused: \(error.message)")
            }
        }
        publisher.publish(table)
        owned.pool = pool
        owned.configServices = configServices
        owned.vips = vips
        owned.generation = generation
        published.withLock { running in
            running.pool = pool
            running.table = table
            running.generation = generation
            running.healthDown = owned.healthDown
            running.acceptedChanges += 1
        }
        logAllDown(&owned)
        tableObserver.withLock { $0 }?(table)
        let services = pool.services
        poolObserver.withLock { $0 }?(services)
        return generation
    }

    static func buildTable(pool: RuntimePool, neighbors: [IPAddress: MACAddress], healthDown: Set<BackendKey>,
                           generation: UInt32) throws(ControlError) -> ForwardingTable {
        var states: [BackendKey: BackendState] = [:]
        for service in pool.services {
            let up = upBackends(service, pool: pool, healthDown: healthDown)
            for backend in service.backends {
                let key = BackendKey(service: service.key, address: backend.address)
                let mac = backend.mac ?? neighbors[backend.address]
                let isUp = up.contains(backend.address)
                if backend.mac == nil || !isUp { states[key] = BackendState(isUp: isUp, mac: mac) }
            }
        }
        do { return try ForwardingTable(generation: generation, services: pool.effectiveServices, states: states) } catch {
            throw ControlError("cannot build the forwarding table: \(error)")
        }
    }

    /// The backends of `service` that take traffic: forced up, or not forced down and not found down by the
    /// checks. With none of them up, `on_all_down: forward` takes every backend not forced down.
    static func upBackends(_ service: ServiceSpec, pool: RuntimePool, healthDown: Set<BackendKey>) -> Set<IPAddress> {
        var up: Set<IPAddress> = []
        var notForcedDown: Set<IPAddress> = []
        for backend in service.backends {
            let forced = pool.forced(service, backend.address)
            if forced != .down { notForcedDown.insert(backend.address) }
            if forced == .up || (forced == nil && !healthDown.contains(BackendKey(service: service.key, address: backend.address))) {
                up.insert(backend.address)
            }
        }
        return up.isEmpty && service.onAllDown == .forward ? notForcedDown : up
    }

    /// Warns once when a service is left with no backend up, and says when it has one again.
    private func logAllDown(_ owned: inout Owned) {
        let none = Set(owned.pool.services.filter { service in
            service.backends.allSatisfy { backend in
                let forced = owned.pool.forced(service, backend.address)
                return forced == .down || (forced == nil && owned.healthDown.contains(BackendKey(service: service.key, address: backend.address)))
            }
        }.map(\.name))
        for name in none.subtracting(owned.allDown).sorted() {
            guard let service = owned.pool.services.first(where: { $0.name == name }) else { continue }
            let forwarding = service.onAllDown == .forward
                && service.backends.contains { owned.pool.forced(service, $0.address) != .down }
            log(forwarding
                ? "warning: service \(name) has no backend up: forwarding to all its backends not forced down (on_all_down: forward)"
                : "warning: service \(name) has no backend up: its VIP traffic is dropped (no-backend) until one is")
        }
        for name in owned.allDown.subtracting(none).sorted() where owned.pool.services.contains(where: { $0.name == name }) {
            log("service \(name) has a backend up again")
        }
        owned.allDown = none
    }

    static func vips(_ services: [ServiceSpec]) -> [IPAddress] {
        var seen: Set<IPAddress> = []
        return services.map(\.key.vip).filter { seen.insert($0).inserted }
    }
}
