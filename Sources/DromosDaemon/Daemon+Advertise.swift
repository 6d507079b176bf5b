import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosSystem
import Synchronization

extension Daemon {
    /// The VIP routes for a routing daemon, when the config asks for them: what an earlier run left is
    /// removed now, before anything can fail, so a start that fails leaves no VIP advertised that nobody
    /// serves. A stale route that cannot be removed refuses the start.
    func makeAdvertiser(_ config: DromosConfig, plane: ControlPlane) throws(Failure) -> RouteAdvertiser? {
        guard let spec = config.advertise else { return nil }
        let index: Int32
        do { index = try Syscall.interfaceIndex(config.interface) } catch {
            throw Failure(lines: ["advertise: cannot find \(config.interface): \(error)"])
        }
        let advertiser = RouteAdvertiser(spec: spec, interfaceIndex: index, access: .netlink(table: spec.table), log: log)
        advertiser.removeStale()
        if let problem = advertiser.snapshot.problem { throw Failure(lines: ["advertise: \(problem)"]) }
        let warn = Self.advertiseWarnings(log: log)
        warn(plane.running.pool.services)
        plane.observeTables { [weak advertiser] table in
            warn(table.services)
            advertiser?.update(table)
        }
        log("advertise: VIP routes go to table \(spec.table) (proto \(AdvertiseSpec.routeProtocol), dev \(config.interface)) while a backend "
            + "can take new flows; on stop they go \(DurationText.format(milliseconds: spec.stopDelayMilliseconds)) before forwarding ends")
        return advertiser
    }

    /// Warns, once per service and each time a change brings one, about what does not work behind ECMP:
    /// a scheduler that is not a consistent hash (another instance places a moved flow elsewhere) and
    /// `announce: arp` (every instance would claim the VIP on the link).
    static func advertiseWarnings(log: @escaping @Sendable (String) -> Void) -> @Sendable ([ServiceSpec]) -> Void {
        let warned = Mutex<(inconsistent: Set<String>, announcing: Set<String>)>(([], []))
        return { services in
            let inconsistent = Set(services.filter { !$0.scheduler.isConsistentHash }.map(\.name))
            let announcing = Set(services.filter { $0.announce != .none }.map(\.name))
            let (newInconsistent, newAnnouncing) = warned.withLock { warned in
                defer { warned = (inconsistent, announcing) }
                return (inconsistent.subtracting(warned.inconsistent), announcing.subtracting(warned.announcing))
            }
            if !newInconsistent.isEmpty {
                log("warning: advertise is set, but service(s) \(newInconsistent.sorted().joined(separator: ", ")) use a scheduler that is "
                    + "not a consistent hash (rr, wrr, lc, wlc): another instance behind the same ECMP router picks another backend for "
                    + "the same flow, so a flow the router moves between instances breaks; use maglev or sh")
            }
            if !newAnnouncing.isEmpty {
                log("warning: advertise is set, but service(s) \(newAnnouncing.sorted().joined(separator: ", ")) have announce: arp: every "
                    + "instance on one link would claim the VIP by ARP/NDP; behind a router that learns the VIP by BGP use announce: none")
            }
        }
    }

    /// The stage that withdraws the routes at the stop, then lets the workers forward for `stop_delay`
    /// what routers sent before they learned: BGP carries a withdrawal in milliseconds, but not in zero.
    func withdrawalStage(_ advertiser: RouteAdvertiser) -> DaemonStage {
        DaemonStage(name: "advertise", begin: {}, end: { [log] in
            // Nothing advertised (the start failed before it, or it was withdrawn): no router to wait for.
            let wasAdvertising = !advertiser.snapshot.advertised.isEmpty
            advertiser.stop()
            let delay = advertiser.spec.stopDelayMilliseconds
            guard delay > 0, wasAdvertising else { return }
            log("advertise: routes withdrawn; forwarding \(DurationText.format(milliseconds: delay)) more while routers converge")
            Clock.pause(milliseconds: delay)
        })
    }
}
