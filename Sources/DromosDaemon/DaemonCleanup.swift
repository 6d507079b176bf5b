public import DromosConfig
import DromosControlPlane
import DromosHost
import DromosXDP

/// `dromos cleanup`: what a daemon that died without its clean stop (SIGKILL, a crash) left behind, removed
/// so that routers stop sending here, the kernel answers the VIPs again and the next start finds nothing
/// of it: the VIP routes of `advertise`, the XDP program of `--io xdp`, the nftables table and the control socket's file. For systemd's
/// ExecStopPost, which runs after every stop; after a clean stop there is nothing left and it says so. A daemon still answering on the socket is left alone.
public enum DaemonCleanup {
    public static func run(_ config: DromosConfig) throws(ControlError) -> [String] {
        var lines: [String] = []
        if (try? ControlClient(path: config.controlSocket)) != nil {
            throw ControlError("a dromos run answers on \(config.controlSocket): stop it first (cleanup is for what a stopped daemon left)")
        }
        try ControlSocketFile.removeStale(config.controlSocket)
        // Routes first: routers stop sending here before the kernel takes the VIPs' frames back. A failure
        // there still lets the table go, and is reported after it.
        var routeFailure: ControlError?
        if let advertise = config.advertise {
            do throws(ControlError) { lines += try removeRoutes(advertise, interface: config.interface) } catch { routeFailure = error }
        }
        // An XDP program of --io xdp (the kernel sends the VIPs' frames to sockets that are gone).
        if let index = RouteNetlink.interfaceIndex(config.interface) {
            do throws(XDPError) {
                let recorded = XDPProgramRecord.read(controlSocket: config.controlSocket)
                if let detached = try XDPAttachment.detachStale(interfaceIndex: index, recordedProgramID: recorded) {
                    lines.append("detached the XDP program \(detached) from \(config.interface) (the kernel gets the VIPs' frames again)")
                }
                XDPProgramRecord.remove(controlSocket: config.controlSocket)
            } catch {
                throw ControlError("cannot detach a stale XDP program from \(config.interface) (by hand: ip link set dev \(config.interface) xdp off): \(error.description)")
            }
        }
        if let owner = KernelDropRule.installedInterface(), owner != config.interface {
            // The table's name is host-wide: one on another interface belongs to another daemon.
            lines.append("nftables table netdev \(KernelDropRule.tableName) is on \(owner.isEmpty ? "no interface" : owner), not "
                         + "\(config.interface): left alone")
        } else if KernelDropRule.installedInterface() != nil {
            do throws(KernelDropRule.Failure) {
                try KernelDropRule(interface: config.interface, vips: []).remove()
            } catch {
                throw ControlError("cannot remove nftables table netdev \(KernelDropRule.tableName): \(error.description)"
                                   + (routeFailure.map { "; \($0.message)" } ?? ""))
            }
            lines.append("removed nftables table netdev \(KernelDropRule.tableName) (the kernel answers the VIPs again)")
        } else {
            lines.append("no nftables table netdev \(KernelDropRule.tableName): nothing to remove")
        }
        if let routeFailure { throw ControlError((lines + [routeFailure.message]).joined(separator: "; ")) }
        return lines
    }

    /// The VIP routes of a run that died without withdrawing them: routers would go on sending their
    /// traffic here.
    static func removeRoutes(_ advertise: AdvertiseSpec, interface: String) throws(ControlError) -> [String] {
        // The kernel deletes an interface's routes with it: nothing can be left on one that is gone.
        guard let index = RouteNetlink.interfaceIndex(interface) else {
            return ["\(interface) is gone, and its routes in table \(advertise.table) with it: nothing to remove"]
        }
        // The daemon's own start-up removal, with its log left out: cleanup says it in one line.
        let advertiser = RouteAdvertiser(spec: advertise, interfaceIndex: index, access: .netlink(table: advertise.table), log: { _ in })
        let removed = advertiser.removeStale()
        if let problem = advertiser.snapshot.problem {
            throw ControlError("cannot remove the VIP routes in table \(advertise.table) (by hand: ip route flush table "
                               + "\(advertise.table) proto \(AdvertiseSpec.routeProtocol) dev \(interface)): \(problem)")
        }
        guard !removed.isEmpty else { return ["no VIP route in table \(advertise.table): nothing to remove"] }
        return ["removed \(removed.count) VIP route(s) from table \(advertise.table) (routers stop sending their traffic here): "
                + removed.map(\.description).joined(separator: ", ")]
    }
}
