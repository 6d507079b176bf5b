import DromosBalancer
import DromosIO
import DromosWire
import Synchronization

/// What the forwarding table is built from, shared by the reload path (signal thread) and the neighbor
/// thread: the configuration, the MACs neighbor resolution found, and the generation. Every rebuild
/// goes through here under one lock, so the two never publish out of order or drop each other's input.
/// The control plane (issue 5) will own this; until then `Daemon.applyNeighbors` is the one entry for MACs.
final class TableInputs: Sendable {
    struct Inputs {
        var config: DromosConfig
        var resolved: [IPAddress: MACAddress]
        var generation: UInt32
    }

    private let inputs: Mutex<Inputs>
    private let publisher: Mutex<TablePublisher?> = Mutex(nil)

    init(config: DromosConfig, resolved: [IPAddress: MACAddress]) {
        inputs = Mutex(Inputs(config: config, resolved: resolved, generation: 1))
    }

    /// Generation 1, for the publisher the workers start from.
    func initialTable() throws(ForwardingTableError) -> ForwardingTable {
        let current = inputs.withLock { $0 }
        return try Self.table(current)
    }

    func attach(_ publisher: TablePublisher) { self.publisher.withLock { $0 = publisher } }

    var generation: UInt32 { inputs.withLock { $0.generation } }
    var config: DromosConfig { inputs.withLock { $0.config } }

    /// The VIPs with `announce: arp`, each once.
    var announcedVIPs: [IPAddress] {
        var seen: Set<IPAddress> = []
        return inputs.withLock { $0.config }.balancer.services.filter { $0.announce != .none }.map(\.key.vip)
            .filter { seen.insert($0).inserted }
    }

    /// Backends that need resolving: those without a static `mac`.
    var addressesToResolve: [IPAddress] { Self.unresolved(inputs.withLock { $0.config }) }

    /// Rebuilds with `config` and publishes; the running table stays when the build fails.
    func reload(_ config: DromosConfig) throws(ForwardingTableError) -> UInt32 {
        try rebuild { $0.config = config }
    }

    /// Rebuilds with new MACs and publishes; nil when nothing the table uses changed.
    func applyNeighbors(_ resolved: [IPAddress: MACAddress]) throws(ForwardingTableError) -> UInt32? {
        let changed = inputs.withLock { current in
            Self.unresolved(current.config).contains { current.resolved[$0] != resolved[$0] }
        }
        guard changed else { return nil }
        return try rebuild { $0.resolved = resolved }
    }

    private func rebuild(_ change: (inout Inputs) -> Void) throws(ForwardingTableError) -> UInt32 {
        try inputs.withLock { (current: inout Inputs) throws(ForwardingTableError) -> UInt32 in
            var next = current
            change(&next)
            next.generation = current.generation &+ 1
            let table = try Self.table(next)
            publisher.withLock { $0?.publish(table) }
            current = next
            return next.generation
        }
    }

    /// A backend with a static MAC uses it (static wins); one without uses the resolved MAC, or has none
    /// and so takes no new flows (`ForwardingTable` gives no flows to a backend without a MAC).
    private static func table(_ inputs: Inputs) throws(ForwardingTableError) -> ForwardingTable {
        var states: [BackendKey: BackendState] = [:]
        for service in inputs.config.balancer.services {
            for backend in service.backends where backend.mac == nil {
                states[BackendKey(service: service.key, address: backend.address)] = BackendState(mac: inputs.resolved[backend.address])
            }
        }
        return try ForwardingTable(generation: inputs.generation, services: inputs.config.balancer.services, states: states)
    }

    static func unresolved(_ config: DromosConfig) -> [IPAddress] {
        var seen: Set<IPAddress> = []
        return config.balancer.services.flatMap(\.backends).filter { $0.mac == nil }.map(\.address)
            .filter { seen.insert($0).inserted }
    }
}
