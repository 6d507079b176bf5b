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
        // The interface's addresses are read again at every change, so that a reload sees an address
        // added since (the change was refused if a checked backend had none to be probed from).
        plane.observePool { [weak checker] services in
            checker?.update(services, source: try? Self.probeSource(interface: interface, mac: mac))
        }
        let probing = plane.running.pool.services.filter { $0.health?.probes == true }
        if !probing.isEmpty {
            log("health checks: " + probing.map { service in
                "\(service.name) \(service.health!.type.rawValue) every \(DurationText.format(milliseconds: service.health!.intervalMilliseconds))"
            }.joined(separator: ", ") + "; probes from \(source.ipv4.map(\.description) ?? "-") / \(source.ipv6.map(\.description) ?? "-")")
        }
        return checker
    }

    /// The interface's MAC, and its first IPv4 and first global, stable IPv6 address: where probes come from.
    static func probeSource(interface: String, mac: MACAddress) throws(SystemCallError) -> ProbeSource {
        let (ipv4, ipv6) = try probeAddresses(interface: interface)
        return ProbeSource(interface: interface, mac: mac, ipv4: ipv4, ipv6: ipv6)
    }

    /// Neither tentative nor failed DAD; for IPv6 also neither temporary (privacy addresses come and go)
    /// nor deprecated, and not link-local (fe80::/10 needs a scope to be bound to).
    static func probeAddresses(interface: String) throws(SystemCallError) -> (IPv4Address?, IPv6Address?) {
        let index = try Syscall.interfaceIndex(interface)
        let addresses = try RouteNetlink().addresses().filter { entry in
            entry.interfaceIndex == index && entry.flags & (InterfaceAddress.tentative | InterfaceAddress.dadFailed) == 0
        }
        let ipv4 = addresses.lazy.compactMap { entry -> IPv4Address? in
            if case .v4(let address) = entry.address { return address }
            return nil
        }.first
        let ipv6 = addresses.lazy.compactMap { entry -> IPv6Address? in
            guard entry.flags & (InterfaceAddress.temporary | InterfaceAddress.deprecated) == 0,
                  case .v6(let address) = entry.address, address.high >> 54 != 0x3fa else { return nil }
            return address
        }.first
        return (ipv4, ipv6)
    }

    /// A checked backend with no address of its family on the interface to be probed from would be
    /// taken down by its first probes and its VIP left dark: such a pool is refused, at start and on a
    /// change, with the fix.
    static func healthSourceProblems(_ services: [ServiceSpec], interface: String) -> [String] {
        let checked = services.filter { $0.health?.probes == true }
        guard !checked.isEmpty else { return [] }
        let addresses: (IPv4Address?, IPv6Address?)
        do { addresses = try probeAddresses(interface: interface) } catch {
            return ["health checks: cannot read the addresses of \(interface): \(error)"]
        }
        return checked.flatMap { service in
            service.backends.compactMap { backend -> String? in
                let isIPv4 = backend.address.isIPv4
                guard (isIPv4 ? addresses.0 == nil : addresses.1 == nil) else { return nil }
                return "service \(service.name): health: \(interface) has no \(isIPv4 ? "IPv4" : "global IPv6") address to probe backend "
                    + "\(backend.address) from (add one to \(interface), or set health: { type: none })"
            }
        }
    }
}
