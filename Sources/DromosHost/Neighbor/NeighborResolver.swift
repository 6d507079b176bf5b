import DromosBalancer
import DromosConfig
import DromosIO
import DromosSystem
public import DromosWire

/// Finds the MACs of backends that have no static `mac`, through the kernel's neighbor table on the
/// daemon's interface. The kernel does the asking (ARP request or neighbor solicitation from its own
/// address there, retries, timeouts, unicast re-checks of stale entries); this class reads the answers
/// and nudges the kernel (NTF_USE) for every backend whose entry is missing, failed or stale, since
/// the balancer's own stack never sends the backends a packet that would make it ask by itself.
///
/// So the balancer needs, on its interface, an IPv4 address in the backends' subnet (for ARP) and IPv6
/// enabled (a link-local address is enough for neighbor solicitations).
public final class NeighborResolver {
    public let interface: String
    private let interfaceIndex: Int32
    private let netlink: RouteNetlink
    private let log: @Sendable (String) -> Void
    /// What the last pass reported per address, so that only changes are logged.
    private var reported: [IPAddress: Report] = [:]
    private var lastError: String? = nil

    enum Report: Equatable {
        case resolved(MACAddress)
        case missing
    }

    public init(interface: String, log: @escaping @Sendable (String) -> Void) throws(HostError) {
        guard let index = RouteNetlink.interfaceIndex(interface) else {
            throw HostError("interface \(interface) does not exist")
        }
        self.interface = interface
        interfaceIndex = index
        self.log = log
        do {
            netlink = try RouteNetlink()
        } catch {
            throw HostError("cannot open a netlink socket for neighbor resolution: \(error)")
        }
    }

    /// One pass over `addresses`: the usable MAC of each that has one. Logs a backend that gains,
    /// changes or loses its MAC, once per change. A netlink failure is logged and yields nothing new.
    public func refresh(_ addresses: [IPAddress]) -> [IPAddress: MACAddress] {
        guard !addresses.isEmpty else {
            reported = [:]
            return [:]
        }
        let entries: [NeighborEntry]
        do {
            entries = try netlink.neighbors(interfaceIndex: interfaceIndex)
        } catch {
            logOnce("cannot read the neighbor table of \(interface): \(error)")
            return reported.compactMapValues { if case .resolved(let mac) = $0 { mac } else { nil } }
        }
        let byAddress = Dictionary(entries.map { ($0.address, $0) }, uniquingKeysWith: { first, _ in first })
        var macs: [IPAddress: MACAddress] = [:]
        for address in addresses {
            let entry = byAddress[address]
            if let mac = entry?.usableMAC { macs[address] = mac }
            if Self.needsAsking(entry) {
                do {
                    try netlink.requestResolution(of: address, interfaceIndex: interfaceIndex)
                } catch {
                    logOnce("cannot ask the kernel to resolve \(address) on \(interface): \(error)")
                }
            }
            note(address, entry)
        }
        for address in reported.keys where !addresses.contains(address) { reported[address] = nil }
        return macs
    }

    /// Missing, failed, never asked, or stale (the kernel re-checks a stale entry only when used).
    static func needsAsking(_ entry: NeighborEntry?) -> Bool {
        guard let entry else { return true }
        if entry.state.contains(.permanent) || entry.state.contains(.noARP) { return false }
        return entry.state.isEmpty || !entry.state.isDisjoint(with: [.failed, .stale])
    }

    private func note(_ address: IPAddress, _ entry: NeighborEntry?) {
        let now: Report = entry?.usableMAC.map { .resolved($0) } ?? .missing
        let before = reported[address]
        guard now != before else { return }
        reported[address] = now
        switch (before, now) {
        case (.resolved(let old), .resolved(let new)):
            log("backend \(address) moved from \(old) to \(new) on \(interface): new frames go to \(new)")
        case (_, .resolved(let mac)):
            log("backend \(address) resolved to \(mac) on \(interface) (\(entry?.state.name ?? "?"))")
        case (.resolved(let old), .missing):
            log("backend \(address) lost its MAC \(old) on \(interface) (\(entry?.state.name ?? "no entry")): no new flows until it answers")
        case (_, .missing):
            log("backend \(address) has no MAC on \(interface) yet (\(entry?.description ?? "no entry")): no new flows until it answers")
        }
    }

    private func logOnce(_ message: String) {
        guard message != lastError else { return }
        lastError = message
        log(message)
    }
}
