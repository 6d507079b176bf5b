import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosDatapath
import DromosHost
import DromosIO
import DromosSystem
public import DromosWire
import Glibc

extension Daemon {
    /// How often the neighbor thread reads the kernel's table: cheap (one netlink dump), and it bounds
    /// how long a backend whose MAC changed keeps getting frames at its old one once the kernel knows.
    static let neighborRefreshMicroseconds: UInt32 = 1_000_000
    /// How long the start waits for the first answers, so the first connections find their backends.
    static let initialResolutionMicroseconds: UInt32 = 1_500_000

    /// One pass before the workers start, repeated until every backend answered or the wait is over.
    static func initialNeighbors(_ resolver: NeighborResolver, _ addresses: [IPAddress]) -> [IPAddress: MACAddress] {
        var waited: UInt32 = 0
        var macs = resolver.refresh(addresses)
        while macs.count < addresses.count && waited < initialResolutionMicroseconds {
            usleep(100_000)
            waited += 100_000
            macs = resolver.refresh(addresses)
        }
        return macs
    }

    /// The backends without a static `mac`, each address once: those the neighbor table must supply.
    static func unresolved(_ services: [ServiceSpec]) -> [IPAddress] {
        var seen: Set<IPAddress> = []
        return services.flatMap(\.backends).filter { $0.mac == nil }.map(\.address).filter { seen.insert($0).inserted }
    }

    /// Hands the control plane the MACs neighbor resolution found (all of them: one missing now is
    /// gone); it rebuilds and publishes the table when one it uses changed. The one place neighbor
    /// results enter the table.
    public func applyNeighbors(_ macs: [IPAddress: MACAddress]) {
        guard let controlPlane else { return }
        if let generation = controlPlane.replaceNeighbors(macs) {
            log("backend MACs changed: table generation \(generation)")
        }
    }

    /// Sends a gratuitous ARP / unsolicited neighbor advertisement for every VIP with `announce: arp`,
    /// so the link learns they are here: `dromos ctl vip announce`, after a failover between balancers.
    /// Returns and logs one line per VIP.
    @discardableResult
    public func announceVIPs() -> [String] {
        guard let announcer, let controlPlane else { return [] }
        let lines = announcer.announce(controlPlane.running.table.announcedVIPs)
        lines.forEach(log)
        return lines
    }

    /// Joins the VIPs' solicited-node groups and announces them.
    func startAnnouncing(_ vips: [IPAddress]) {
        guard let announcer, !vips.isEmpty else { return }
        announcer.listen(for: vips).forEach(log)
        announcer.announce(vips).forEach(log)
    }

    /// One pass of the neighbor thread: resolve the running pool's backends, and announce the VIPs
    /// the running table announces that were not announced yet (at start, and after a reload or a
    /// `ctl` change added one).
    func neighborPass(_ resolver: NeighborResolver, announced: inout Set<IPAddress>) {
        guard let controlPlane else { return }
        applyNeighbors(resolver.refresh(Self.unresolved(controlPlane.running.pool.services)))
        let vips = controlPlane.running.table.announcedVIPs
        let new = vips.filter { !announced.contains($0) }
        startAnnouncing(new)
        announced = Set(vips)
    }

    func startNeighborThread(_ resolver: NeighborResolver) -> pthread_t {
        let context = Unmanaged.passRetained(NeighborThreadContext(resolver) { [unowned self] in
            self.isStopping
        } pass: { [unowned self] resolver, announced in
            self.neighborPass(resolver, announced: &announced)
        }).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { raw in
            DaemonSignals.blockInThisThread()
            let context = Unmanaged<NeighborThreadContext>.fromOpaque(raw!).takeRetainedValue()
            var announced: Set<IPAddress> = []
            while !context.stopping() {
                context.pass(context.resolver, &announced)
                var slept: UInt32 = 0
                while slept < Daemon.neighborRefreshMicroseconds && !context.stopping() {
                    usleep(50_000)
                    slept += 50_000
                }
            }
            return nil
        }, context)
        precondition(created == 0, "pthread_create failed: \(created)")
        return thread
    }

    /// The interface's own MAC, from the kernel's link table.
    static func interfaceMAC(_ interface: String) throws(HostError) -> MACAddress {
        guard let index = RouteNetlink.interfaceIndex(interface) else { throw HostError("interface \(interface) does not exist") }
        let mac: MACAddress?
        do {
            mac = try RouteNetlink().linkAddress(interfaceIndex: index)
        } catch {
            throw HostError("\(error)")
        }
        guard let mac else { throw HostError("\(interface) has no Ethernet address; set 'mac' in the config") }
        return mac
    }
}

/// The neighbor thread owns its resolver (and its netlink socket); nothing else touches them.
private final class NeighborThreadContext {
    let resolver: NeighborResolver
    let stopping: () -> Bool
    let pass: (NeighborResolver, inout Set<IPAddress>) -> Void
    init(_ resolver: NeighborResolver, _ stopping: @escaping () -> Bool,
         pass: @escaping (NeighborResolver, inout Set<IPAddress>) -> Void) {
        self.resolver = resolver
        self.stopping = stopping
        self.pass = pass
    }
}
