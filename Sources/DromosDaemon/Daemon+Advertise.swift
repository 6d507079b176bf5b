import DromosBalancer
import DromosConfig
import DromosControlPlane
import DromosSystem
import Synchronization

extension Daemon {
    /// The VIP routes for a routing daemon, when the config asks for them: what an earlier run left is
    /// removed now, before anything can fail, so a start that fails leaves no VIP advertised that nobody
    /// serves. A table the daemon cannot even read refuses the start: advertising is what puts it in service.
    func makeAdvertiser(_ config: DromosConfig, plane: ControlPlane) throws(Failure) -> RouteAdvertiser? {
        guard let spec = config.advertise else { return nil }
        let index: Int32
        do { index = try Syscall.interfaceIndex(config.interface) } catch {
            throw Failure(lines: ["advertise: cannot find \(config.interface): \(error)"])
        }
        let advertiser = RouteAdvertiser(spec: spec, interfaceIndex: index, access: .netlink(table: spec.table), log: log)
        advertiser.removeStale()
        if let problem = advertiser.snapshot.problem { throw Failure(lines: ["advertise: \(problem)"]) }
        let warned = Mutex<Set<String>>([])
        let warn: @Sendable ([ServiceSpec]) -> Void = { [log] services in
            let inconsistent = Set(services.filter { !$0.scheduler.isConsistentHash }.map(\.name))
            let new = warned.withLock { warned in
                defer { warned = inconsistent }
                return inconsistent.subtracting(warned)
            }
            guard !new.isEmpty else { return }
            log("warning: advertise is set, but service(s) \(new.sorted().joined(separator: ", ")) use a scheduler that is not a "
                + "consistent hash (rr, wrr, lc, wlc): another instance behind the same ECMP router picks another backend for the "
                + "same flow, so a flow the router moves between instances breaks; use maglev or sh")
        }
        warn(plane.running.pool.services)
        plane.observeTables { [weak advertiser] table in
            warn(table.services)
            advertiser?.update(servable: table.servableVIPs)
        }
        log("advertise: VIP routes go to table \(spec.table) (proto \(AdvertiseSpec.routeProtocol), dev \(config.interface)) while a backend "
            + "can take new flows; on stop they go \(DurationText.format(milliseconds: spec.stopDelayMilliseconds)) before forwarding ends")
        return advertiser
    }
}
