public import DromosBalancer
public import DromosConfig
import DromosIO
import DromosSystem
public import DromosWire
import Glibc

/// An interface of this host (in the current network namespace) as `getifaddrs` reports it.
public struct HostInterface: Sendable, Equatable {
    public var name: String
    public var isUp: Bool
    public var addresses: [IPAddress]
    public init(name: String, isUp: Bool, addresses: [IPAddress]) {
        self.name = name
        self.isUp = isUp
        self.addresses = addresses
    }

    /// Every interface of the calling thread's network namespace.
    public static func all() -> [HostInterface] {
        var list: UnsafeMutablePointer<ifaddrs>? = nil
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var found: [String: HostInterface] = [:]
        var order: [String] = []
        var cursor = list
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            let name = String(cString: entry.pointee.ifa_name)
            if found[name] == nil {
                found[name] = HostInterface(name: name, isUp: entry.pointee.ifa_flags & UInt32(IFF_UP) != 0, addresses: [])
                order.append(name)
            }
            guard let address = entry.pointee.ifa_addr else { continue }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            let family = Int32(address.pointee.sa_family)
            let converted: UnsafePointer<CChar>?
            switch family {
            case AF_INET:
                converted = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
                    withUnsafePointer(to: inet.pointee.sin_addr) { inet_ntop(AF_INET, $0, &text, socklen_t(text.count)) }
                }
            case AF_INET6:
                converted = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { inet6 in
                    withUnsafePointer(to: inet6.pointee.sin6_addr) { inet_ntop(AF_INET6, $0, &text, socklen_t(text.count)) }
                }
            default:
                converted = nil
            }
            guard converted != nil else { continue }
            let string = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let parsed = try? IPAddress(parsing: string) { found[name]?.addresses.append(parsed) }
        }
        return order.compactMap { found[$0] }
    }
}

/// What `dromos run` requires of the host before it touches anything; each problem says the fix.
public enum DaemonPreflight {
    public static func problems(config: DromosConfig, isRoot: Bool, interfaces: [HostInterface]) -> [String] {
        var problems: [String] = []
        if !isRoot {
            problems.append("dromos run needs root (packet sockets and nftables); run it with sudo or as root")
        }
        if let interface = interfaces.first(where: { $0.name == config.interface }) {
            if !interface.isUp {
                problems.append("interface \(config.interface) is down; bring it up: ip link set \(config.interface) up")
            }
        } else {
            let known = interfaces.map(\.name).joined(separator: ", ")
            problems.append("interface \(config.interface) does not exist (this host has: \(known)); fix 'interface' in the config")
        }
        problems += poolProblems(services: config.balancer.services, interface: config.interface, interfaces: interfaces)
        return problems
    }

    /// What the host says about a pool on `interface`, at start and for every change at run time.
    public static func poolProblems(services: [ServiceSpec], interface: String, interfaces: [HostInterface]) -> [String] {
        var problems: [String] = []
        var reported: Set<IPAddress> = []
        for service in services where !reported.contains(service.key.vip) {
            let vip = service.key.vip
            for interface in interfaces where interface.addresses.contains(vip) {
                reported.insert(vip)
                let prefix = { if case .v4 = vip { return "32" } else { return "128" } }()
                problems.append("VIP \(vip) of service \(service.name) is a local address on \(interface.name), so the kernel "
                    + "would answer its traffic; remove it: ip addr del \(vip)/\(prefix) dev \(interface.name) "
                    + "(the VIP belongs on the backends' lo, not on the balancer)")
            }
        }
        // Without a static mac the kernel resolves the backend (see NeighborResolver): it asks from its own
        // address on the interface, so it needs one of the backend's family there.
        let local = interfaces.first { $0.name == interface }?.addresses ?? []
        for service in services {
            for (index, backend) in service.backends.enumerated() where backend.mac == nil {
                let isIPv4 = backend.address.isIPv4
                guard !local.contains(where: { $0.isIPv4 == isIPv4 }), interfaces.contains(where: { $0.name == interface }) else { continue }
                problems.append("services[\(service.name)].backends[\(index)] (\(backend.address)) has no 'mac', so the kernel must "
                    + (isIPv4 ? "ARP for it on \(interface), which has no IPv4 address: add one in the backends' subnet "
                        + "(ip addr add ADDRESS/PREFIX dev \(interface))"
                        : "solicit it on \(interface), which has no IPv6 address: enable IPv6 there "
                        + "(sysctl -w net.ipv6.conf.\(interface).disable_ipv6=0)")
                    + ", or give the backend a static mac")
            }
        }
        return problems
    }

    /// `--io pcap` on an interface that coalesces received frames: refused with the exact fix.
    public static func pcapOffloadProblem(interface: String, activeCoalescing: [String]) -> String? {
        guard !activeCoalescing.isEmpty else { return nil }
        return "--io pcap: interface \(interface) has \(activeCoalescing.joined(separator: ", ")) on, which hands the "
            + "socket super-frames larger than the MTU; libpcap has no vnet header, so they could not be sent on. "
            + "Turn them off: ethtool -K \(interface) \(activeCoalescing.map { "\($0) off" }.joined(separator: " ")) "
            + "(or use --io afpacket, which handles them)"
    }
}
