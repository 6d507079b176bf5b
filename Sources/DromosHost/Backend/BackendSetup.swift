import DromosBalancer
import DromosConfig
import DromosIO
import DromosSystem
public import DromosWire
import Glibc

/// Prepares a real server for direct routing: each VIP on `lo`, so the server accepts the balancer's
/// frames, and ARP suppressed, so it never claims the VIP on the wire (see `ARPRule`). `setup` records
/// what it did in a state file and `teardown` undoes exactly that; both are idempotent.
public struct BackendSetup {
    public static let defaultStatePath = "/var/lib/dromos/backend-setup.yaml"
    static let loopback = "lo"

    public var vips: [IPAddress]
    /// The interfaces to set the ARP rules on besides `all`; nil for every interface but `lo` that holds
    /// an IPv4 address (those the host could answer ARP on).
    public var interfaces: [String]?
    public var statePath: String

    public init(vips: [IPAddress], interfaces: [String]? = nil, statePath: String = BackendSetup.defaultStatePath) {
        self.vips = vips
        self.interfaces = interfaces
        self.statePath = statePath
    }

    /// What the host looks like now: addresses, and whether `lo` is up.
    struct Host {
        var addresses: [InterfaceAddress]
        var loopbackIsUp: Bool
        var loopbackIndex: Int32

        static func read(_ netlink: RouteNetlink) throws(HostError) -> Host {
            let addresses: [InterfaceAddress]
            do {
                addresses = try netlink.addresses()
            } catch {
                throw HostError("cannot read the interface addresses: \(error)")
            }
            guard let index = RouteNetlink.interfaceIndex(loopback) else {
                throw HostError("this network namespace has no \(loopback) interface")
            }
            let up = HostInterface.all().first { $0.name == loopback }?.isUp ?? false
            return Host(addresses: addresses, loopbackIsUp: up, loopbackIndex: index)
        }

        func onLoopback(_ vip: IPAddress) -> InterfaceAddress? {
            addresses.first { $0.address == vip && $0.interfaceName == loopback }
        }

        func elsewhere(_ vip: IPAddress) -> [InterfaceAddress] {
            addresses.filter { $0.address == vip && $0.interfaceName != loopback }
        }
    }

    func relevantInterfaces(_ host: Host) -> [String] {
        if let interfaces { return interfaces }
        let names = host.addresses
            .filter { $0.address.isIPv4 && $0.interfaceName != Self.loopback && !vips.contains($0.address) }
            .map(\.interfaceName)
        return Array(Set(names)).sorted()
    }

    /// The ARP rules apply to IPv4 VIPs only; IPv6 needs none (see `check`).
    func settings(_ host: Host) -> [(KernelSetting, ARPRule)] {
        guard vips.contains(where: \.isIPv4) else { return [] }
        let scopes = ["all"] + relevantInterfaces(host)
        return ARPRule.all.flatMap { rule in scopes.map { (KernelSetting(interface: $0, name: rule.name), rule) } }
    }

    static func openNetlink() throws(HostError) -> RouteNetlink {
        do {
            return try RouteNetlink()
        } catch {
            throw HostError("cannot open a netlink socket: \(error)")
        }
    }

    static func requireRoot(_ action: String) throws(HostError) {
        guard geteuid() == 0 else {
            throw HostError(
                "\(action) needs root (CAP_NET_ADMIN to change addresses, and /proc/sys/net is root's to write); "
                    + "run it with sudo, or add --dry-run to see what it would do")
        }
    }
}

/// A kernel setting and the values that keep the host from claiming a VIP held on `lo`.
struct ARPRule {
    var name: String
    var wanted: String
    var accepted: Set<String>
    var why: String

    static let all = [
        // 1: answer only for addresses on the receiving interface. 2 (also the sender's subnet) and 8
        // (answer nothing) are stricter and fine; 3 would still answer a global-scope address on lo.
        ARPRule(name: "arp_ignore", wanted: "1", accepted: ["1", "2", "8"], why: "else the host answers ARP for the VIP"),
        // 2: never use the VIP as the source of the host's own ARP requests (its neighbors would learn
        // the VIP at this host). The kernel takes the highest of `all` and the interface's value.
        ARPRule(name: "arp_announce", wanted: "2", accepted: ["2"], why: "else the host's ARP requests advertise the VIP"),
    ]
}
