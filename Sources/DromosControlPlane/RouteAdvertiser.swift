public import DromosBalancer
public import DromosConfig
public import DromosHost
public import DromosSystem
public import DromosWire
import Synchronization

/// What the advertiser does to the kernel's routing table, as closures so that its rules can be tested
/// without a namespace. `list` returns the routes of Dromos's protocol in the table, on any interface.
public struct RouteTableAccess: Sendable {
    public var list: @Sendable () throws(SystemCallError) -> [VIPRoute]
    public var add: @Sendable (VIPRoute) throws(SystemCallError) -> Void
    public var delete: @Sendable (VIPRoute) throws(SystemCallError) -> Void

    public init(list: @escaping @Sendable () throws(SystemCallError) -> [VIPRoute],
                add: @escaping @Sendable (VIPRoute) throws(SystemCallError) -> Void,
                delete: @escaping @Sendable (VIPRoute) throws(SystemCallError) -> Void) {
        self.list = list
        self.add = add
        self.delete = delete
    }

    /// rtnetlink, one socket per call: calls are rare (a table change, a second's check) and a socket
    /// never outlives the thread's namespace this way.
    public static func netlink(table: UInt32) -> RouteTableAccess {
        RouteTableAccess(
            list: { () throws(SystemCallError) in try RouteNetlink().vipRoutes(table: table, routeProtocol: AdvertiseSpec.routeProtocol) },
            add: { route throws(SystemCallError) in try RouteNetlink().add(route) },
            delete: { route throws(SystemCallError) in try RouteNetlink().delete(route) })
    }
}

/// Keeps one host route per VIP this daemon can serve in the advertisement table, and none for any
/// other: a VIP is advertised while the daemon forwards (between `start` and `stop`), the operator has
/// not withdrawn it (`ctl advertise withdraw`), and a service of that VIP has a backend taking new flows.
/// Every change compares the wish with what the kernel holds now, so a route someone deleted, or one
/// the kernel flushed when the interface went down, comes back at the next `refresh`, and a route left by
/// a crashed run is removed at `start`. Routes of the protocol on other interfaces belong to another
/// daemon and are left alone.
public final class RouteAdvertiser: Sendable {
    public struct Snapshot: Sendable {
        public var table: UInt32
        public var isActive: Bool
        public var isWithdrawn: Bool
        /// What the kernel held after the last reconciliation.
        public var advertised: [IPAddress]
        /// What the running table can serve, advertised or not.
        public var servable: [IPAddress]
        /// The last failure to change the table, until a reconciliation succeeds.
        public var problem: String?
    }

    private struct State {
        var servable: [IPAddress] = []
        /// The table generation `servable` was read from: an older table arriving late changes nothing.
        var generation: UInt32 = 0
        var isActive = false
        var isWithdrawn = false
        var advertised: Set<IPAddress> = []
        var problem: String?
    }

    public let spec: AdvertiseSpec
    public let interfaceIndex: Int32
    private let access: RouteTableAccess
    private let log: @Sendable (String) -> Void
    private let state = Mutex(State())

    public init(spec: AdvertiseSpec, interfaceIndex: Int32, access: RouteTableAccess, log: @escaping @Sendable (String) -> Void) {
        self.spec = spec
        self.interfaceIndex = interfaceIndex
        self.access = access
        self.log = log
    }

    public var snapshot: Snapshot {
        state.withLock { state in
            Snapshot(table: spec.table, isActive: state.isActive, isWithdrawn: state.isWithdrawn,
                     advertised: state.servable.filter { state.advertised.contains($0) }
                        + state.advertised.filter { !state.servable.contains($0) }.sorted(),
                     servable: state.servable, problem: state.problem)
        }
    }

    /// Before anything else at start, and in `dromos cleanup`: removes every route an earlier run left on
    /// the interface, so that a start that fails leaves no VIP advertised that nobody serves. Returns the
    /// VIPs whose route went; what could not go is in `snapshot.problem`.
    @discardableResult
    public func removeStale() -> [IPAddress] {
        state.withLock { state in reconcile(&state, cause: "at start") }
    }

    /// Once the workers forward: advertises what `table` can serve (or a newer table, if one was
    /// published while the daemon read this one).
    public func start(_ table: ForwardingTable) {
        state.withLock { state in
            record(table, in: &state)
            state.isActive = true
            reconcile(&state, cause: "at start")
        }
    }

    /// A new table was published.
    public func update(_ table: ForwardingTable) {
        state.withLock { state in
            guard record(table, in: &state) else { return }
            guard state.isActive else { return }
            reconcile(&state, cause: "table changed")
        }
    }

    /// Takes the table's servable VIPs unless a newer table's are held already; true when they changed.
    @discardableResult
    private func record(_ table: ForwardingTable, in state: inout State) -> Bool {
        // Generations only grow (wrapping after 2^32 changes, which a signed distance tolerates).
        guard state.generation == 0 || Int32(bitPattern: table.generation &- state.generation) >= 0 else { return false }
        state.generation = table.generation
        let servable = table.servableVIPs
        guard servable != state.servable else { return false }
        state.servable = servable
        return true
    }

    /// About once a second: puts back what someone else removed, retries what failed.
    public func refresh() {
        state.withLock { state in
            guard state.isActive else { return }
            reconcile(&state, cause: "check")
        }
    }

    /// `ctl advertise withdraw`: every route goes, forwarding goes on. Returns the VIPs withdrawn.
    public func withdraw() -> Result<[IPAddress], ControlError> {
        setWithdrawn(true)
    }

    /// `ctl advertise restore`: undoes `withdraw`. Returns the VIPs advertised again.
    public func restore() -> Result<[IPAddress], ControlError> {
        setWithdrawn(false)
    }

    /// On SIGTERM/SIGINT, before the workers stop: every route goes. Safe to call again, which retries
    /// what failed; returns the failure that remains, if any.
    @discardableResult
    public func stop() -> String? {
        state.withLock { state in
            let wasActive = state.isActive
            state.isActive = false
            guard wasActive || !state.advertised.isEmpty || state.problem != nil else { return nil }
            reconcile(&state, cause: "stopping")
            return state.problem
        }
    }

    private func setWithdrawn(_ withdrawn: Bool) -> Result<[IPAddress], ControlError> {
        state.withLock { state -> Result<[IPAddress], ControlError> in
            guard state.isActive else { return .failure(ControlError("the daemon is not forwarding (starting or stopping)")) }
            let before = state.advertised
            state.isWithdrawn = withdrawn
            reconcile(&state, cause: withdrawn ? "ctl advertise withdraw" : "ctl advertise restore")
            if let problem = state.problem {
                return .failure(ControlError("\(problem) (the daemon is \(withdrawn ? "withdrawn" : "advertising") now and retries every second)"))
            }
            let changed = withdrawn ? before.subtracting(state.advertised) : state.advertised.subtracting(before)
            return .success(changed.sorted())
        }
    }

    /// The VIPs that should have a route now.
    private static func wanted(_ state: State) -> Set<IPAddress> {
        state.isActive && !state.isWithdrawn ? Set(state.servable) : []
    }

    /// Makes the kernel's table what the state wants; returns the VIPs whose route it removed.
    @discardableResult
    private func reconcile(_ state: inout State, cause: String) -> [IPAddress] {
        let wanted = Self.wanted(state)
        var failures: [String] = []
        var withdrawn: [IPAddress] = []
        let present: [VIPRoute]
        do { present = try access.list().filter { $0.interfaceIndex == interfaceIndex } } catch {
            note(&state, "cannot read routing table \(spec.table): \(error)")
            return []
        }
        var held = Set(present.map(\.vip))
        for route in present where !wanted.contains(route.vip) {
            do throws(SystemCallError) {
                try access.delete(route)
                held.remove(route.vip)
                withdrawn.append(route.vip)
                log("advertise: withdrew \(route) (\(withdrawalReason(route.vip, state)))")
            } catch {
                failures.append("cannot withdraw \(route): \(error)")
            }
        }
        for vip in state.servable where wanted.contains(vip) && !held.contains(vip) {
            let route = VIPRoute(vip: vip, interfaceIndex: interfaceIndex, table: spec.table)
            do throws(SystemCallError) {
                try access.add(route)
                held.insert(vip)
                log("advertise: added \(route) (\(state.advertised.contains(vip) && cause == "check" ? "it had been removed from the table" : cause))")
            } catch {
                failures.append("cannot advertise \(route): \(error)")
            }
        }
        state.advertised = held
        note(&state, failures.isEmpty ? nil : failures.joined(separator: "; "))
        return withdrawn
    }

    private func withdrawalReason(_ vip: IPAddress, _ state: State) -> String {
        if !state.isActive { return state.advertised.contains(vip) ? "stopping" : "left by an earlier run" }
        if state.isWithdrawn { return "ctl advertise withdraw" }
        if !state.advertised.contains(vip) { return "left by an earlier run" }
        return "no backend of the VIP takes new flows"
    }

    /// Logs a failure when it first appears or changes, and its end, not every second.
    private func note(_ state: inout State, _ problem: String?) {
        guard state.problem != problem else { return }
        if let problem { log("advertise: \(problem)") } else if state.problem != nil { log("advertise: the routing table is as wanted again") }
        state.problem = problem
    }
}
