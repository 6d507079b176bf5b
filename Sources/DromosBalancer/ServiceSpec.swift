public import DromosWire

/// The transport a service balances; its raw value is the IANA protocol number.
public enum TransportProtocol: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case tcp = 6
    case udp = 17

    public var description: String { self == .tcp ? "tcp" : "udp" }
}

/// How a service picks a backend for a new flow, with the meaning each name has in IPVS.
public enum SchedulerKind: String, Sendable, CaseIterable {
    /// Consistent hashing over the five-tuple (Maglev, NSDI'16): every balancer with the same pool
    /// agrees, and a pool change moves the fewest flows.
    case maglev
    /// Round robin over usable backends.
    case rr
    /// Weighted round robin: IPVS's interleaved sequence by weight.
    case wrr
    /// Least connections: the backend with the fewest active flows.
    case lc
    /// Weighted least connections: active flows divided by weight, smallest first.
    case wlc
    /// Source hashing: the client's address alone picks the backend, consistently (a Maglev table keyed
    /// by source address), so one client sticks to one backend across its connections.
    case sh

    /// Whether the choice is a pure function of the flow and the pool (no per-worker state), so that an
    /// ICMP error or a worker that lost the flow entry reaches the same backend again.
    public var isConsistentHash: Bool { self == .maglev || self == .sh }
}

/// One real server of a service. `weight` 0 means draining: existing flows stay, no new ones come.
public struct BackendSpec: Hashable, Sendable {
    public var address: IPAddress
    public var weight: Int
    /// Static MAC; without one the backend needs neighbor resolution before it can take flows.
    public var mac: MACAddress?

    public static let maximumWeight = 65_535

    public init(address: IPAddress, weight: Int = 1, mac: MACAddress? = nil) {
        self.address = address
        self.weight = weight
        self.mac = mac
    }
}

/// What identifies a service on the wire: VIP, protocol and port, or all ports when `port` is nil.
public struct ServiceKey: Hashable, Sendable, CustomStringConvertible {
    public var vip: IPAddress
    public var transport: TransportProtocol
    public var port: UInt16?

    public init(vip: IPAddress, transport: TransportProtocol, port: UInt16?) {
        self.vip = vip
        self.transport = transport
        self.port = port
    }

    public var description: String {
        let host = vip.isIPv4 ? vip.description : "[\(vip)]"
        return "\(transport) \(host):\(port.map(String.init) ?? "*")"
    }
}

public enum HealthCheckType: String, Sendable, CaseIterable {
    /// A TCP connect to the backend's own address and the check's port.
    case tcp
    /// An HTTP/1.1 GET of `path` on the backend's own address; up when the status is in `expect`.
    case http
    /// A TCP SYN to the VIP and the check's port, framed to the backend's MAC exactly as client traffic is
    /// forwarded; up on a SYN-ACK from the VIP. Catches a backend that lost the VIP on `lo` (or its ARP
    /// suppression, or whose MAC is wrong) while still answering on its own address.
    case dsr
    /// No probes: the backends count as up (operator overrides still apply).
    case none
}

/// How a service's backends are checked, with keepalived's and HAProxy's meanings: a probe every
/// `interval` (a few percent of jitter apart), each given `timeout`; `fall` failures in a row take a
/// backend out, `rise` successes in a row bring it back.
public struct HealthCheckSpec: Hashable, Sendable {
    public static let defaultExpect: ClosedRange<Int> = 200...399

    public var type: HealthCheckType
    public var port: UInt16?
    public var intervalMilliseconds: Int
    public var timeoutMilliseconds: Int
    public var rise: Int
    public var fall: Int
    /// `http` only: the request's path and Host header (the backend's address when nil), and the
    /// statuses that mean up.
    public var path: String
    public var host: String?
    public var expect: ClosedRange<Int>

    public init(type: HealthCheckType, port: UInt16? = nil, intervalMilliseconds: Int = 2_000,
                timeoutMilliseconds: Int = 1_000, rise: Int = 2, fall: Int = 3,
                path: String = "/", host: String? = nil, expect: ClosedRange<Int> = HealthCheckSpec.defaultExpect) {
        self.type = type
        self.port = port
        self.intervalMilliseconds = intervalMilliseconds
        self.timeoutMilliseconds = timeoutMilliseconds
        self.rise = rise
        self.fall = fall
        self.path = path
        self.host = host
        self.expect = expect
    }

    /// `200` or `200-399`, as the config file takes it.
    public static func statusText(_ range: ClosedRange<Int>) -> String {
        range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)"
    }

    /// Whether the check sends probes at all.
    public var probes: Bool { type != .none }
}

/// What a service does when none of its backends is up (health checks or operator overrides).
public enum AllDownPolicy: String, Sendable, CaseIterable {
    /// Its VIP traffic is dropped, counted as `no-backend`: certain loss, but no connection reaches a
    /// server known to be dead.
    case drop
    /// Forward to the whole pool as if every backend were up (except those forced down): a chance for
    /// the clients when the checks, not the servers, are what failed.
    case forward
}

/// Whether Dromos itself claims a service's VIP on the wire, for setups where no router routes the VIP
/// to the balancer: it answers ARP requests and neighbor solicitations for the VIP with its own MAC and
/// announces it (gratuitous ARP, unsolicited NA) at start.
public enum VIPAnnouncement: String, Sendable, CaseIterable {
    case none
    case arp
}

public struct ServiceSpec: Hashable, Sendable {
    public static let defaultMaglevTableSize = 65_537
    public static let maximumMaglevTableSize = 655_373

    public var name: String
    public var key: ServiceKey
    public var scheduler: SchedulerKind
    /// Prime; larger tables balance finer at more memory (4 bytes a slot).
    public var maglevTableSize: Int
    public var health: HealthCheckSpec?
    public var backends: [BackendSpec]
    /// A VIP shared by several services is announced when any of them asks.
    public var announce: VIPAnnouncement
    public var onAllDown: AllDownPolicy

    public init(name: String, key: ServiceKey, scheduler: SchedulerKind = .maglev,
                maglevTableSize: Int = ServiceSpec.defaultMaglevTableSize, health: HealthCheckSpec? = nil,
                backends: [BackendSpec], announce: VIPAnnouncement = .none, onAllDown: AllDownPolicy = .drop) {
        self.onAllDown = onAllDown
        self.name = name
        self.key = key
        self.scheduler = scheduler
        self.maglevTableSize = maglevTableSize
        self.health = health
        self.backends = backends
        self.announce = announce
    }
}

/// Flow-table sizing and idle timeouts; the defaults are IPVS's (tcp 15 min, tcp-fin 2 min, udp 5 min).
public struct FlowTableSpec: Hashable, Sendable {
    public static let defaultCapacity = 1_048_576

    public var capacity: Int
    public var tcpEstablishedTimeoutMilliseconds: Int
    public var tcpClosingTimeoutMilliseconds: Int
    public var udpTimeoutMilliseconds: Int
    /// How long a first fragment's choice is remembered for the fragments after it (Linux's ipfrag_time).
    public var fragmentTimeoutMilliseconds: Int

    public init(capacity: Int = FlowTableSpec.defaultCapacity, tcpEstablishedTimeoutMilliseconds: Int = 900_000,
                tcpClosingTimeoutMilliseconds: Int = 120_000, udpTimeoutMilliseconds: Int = 300_000,
                fragmentTimeoutMilliseconds: Int = 30_000) {
        self.capacity = capacity
        self.tcpEstablishedTimeoutMilliseconds = tcpEstablishedTimeoutMilliseconds
        self.tcpClosingTimeoutMilliseconds = tcpClosingTimeoutMilliseconds
        self.udpTimeoutMilliseconds = udpTimeoutMilliseconds
        self.fragmentTimeoutMilliseconds = fragmentTimeoutMilliseconds
    }
}
