public import DromosWire
import Glibc
import Synchronization

/// Where probes come from: the balancer's own addresses on its interface (probes leave by the interface
/// that carries the traffic, and a backend's firewall sees the balancer, not some other address of the
/// host), and for `dsr` the interface's MAC.
public struct ProbeSource: Sendable {
    public var interface: String
    public var mac: MACAddress
    public var ipv4: IPv4Address?
    public var ipv6: IPv6Address?

    public init(interface: String, mac: MACAddress, ipv4: IPv4Address?, ipv6: IPv6Address?) {
        self.interface = interface
        self.mac = mac
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// The source for a probe to `destination`, of its family; nil when the interface has none.
    public func address(toward destination: IPAddress) -> IPAddress? {
        destination.isIPv4 ? ipv4.map(IPAddress.v4) : ipv6.map(IPAddress.v6)
    }

    func missing(toward destination: IPAddress) -> ProbeFailure {
        ProbeFailure(.error, "\(interface) has no \(destination.isIPv4 ? "IPv4" : "IPv6") address to probe from")
    }
}

/// The source the probes use now: replaced when the daemon reads the interface's addresses again (at
/// every accepted change and reload), read by each probe as it starts.
final class CurrentSource: Sendable {
    private let source: Mutex<ProbeSource>
    init(_ source: ProbeSource) { self.source = Mutex(source) }
    var value: ProbeSource { source.withLock { $0 } }
    func replace(_ source: ProbeSource) { self.source.withLock { $0 = source } }
}

/// Monotonic nanoseconds, for probe latencies.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}
