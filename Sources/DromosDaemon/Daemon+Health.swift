import DromosBalancer
import DromosControlPlane
import DromosHealth
import DromosHost
import DromosSystem
import DromosWire

extension Daemon {
    /// The health checker for `plane`'s services: it follows every accepted change and reload, and
    /// hands what it finds down to the plane, which publishes a table without those backends.
    func makeHealthChecker(plane: ControlPlane, interface: String, mac: MACAddress) throws(Failure) -> HealthChecker {
        let source: ProbeSource
        do { source = try Self.probeSource(interface: interface, mac: mac) } catch {
            throw Failure(lines: ["cannot set up health checks on \(interface): \(error)"])
        }
        let checker = HealthChecker(
            source: source,
            backendMAC: { [weak plane] key in plane?.backendMAC(key) },
            downChanged: { [weak plane] down in plane?.setHealthDown(down) },
            log: log)
        plane.observePool { [weak checker] services in checker?.update(services) }
        let probing = plane.running.pool.services.filter { $0.health?.probes == true }
        if !probing.isEmpty {
            log("health checks: " + probing.map { service in
                "\(service.name) \(service.health!.type.rawValue) every \(DurationText.format(milliseconds: service.health!.intervalMilliseconds))"
            }.joined(separator: ", ") + "; probes from \(source.ipv4.map(\.description) ?? "-") / \(source.ipv6.map(\.description) ?? "-")")
        }
        return checker
    }

    /// The interface's MAC, and its first IPv4 and first global IPv6 address (neither
    /// tentative nor failed DAD): where probes come from.
    static func probeSource(interface: String, mac: MACAddress) throws(SystemCallError) -> ProbeSource {
        let index = try Syscall.interfaceIndex(interface)
        let addresses = try RouteNetlink().addresses().filter { entry in
            entry.interfaceIndex == index && entry.flags & (InterfaceAddress.tentative | InterfaceAddress.dadFailed) == 0
        }
        let ipv4 = addresses.lazy.compactMap { entry -> IPv4Address? in
            if case .v4(let address) = entry.address { return address }
            return nil
        }.first
        let ipv6 = addresses.lazy.compactMap { entry -> IPv6Address? in
            // fe80::/10 needs a scope to be bound to; the backends are reached by a routable address.
            if case .v6(let address) = entry.address, address.high >> 54 != 0x3fa { return address }
            return nil
        }.first
        return ProbeSource(interface: interface, mac: mac, ipv4: ipv4, ipv6: ipv6)
    }
}
