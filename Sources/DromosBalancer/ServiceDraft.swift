public import DromosWire

/// A service as far as a reader could make it out, so that validation can report everything else in
/// the same pass (an operator fixes all problems at once, not one per run). A nil part could not be read
/// and was reported where it was read; the checks that need it are skipped instead of being run against
/// a guess, which would report problems that are not there.
public struct ServiceDraft: Sendable {
    public var name: String?
    public var vip: IPAddress?
    public var transport: TransportProtocol?
    /// `.some(nil)` is a service on all ports; nil is a port that could not be read.
    public var port: UInt16??
    public var scheduler: SchedulerKind?
    public var maglevTableSize: Int?
    /// Nil both for "no health check" and for one that could not be read in full: neither is checked.
    public var health: HealthCheckSpec?
    /// Nil when the list itself could not be read; a nil entry is a backend whose address could not be.
    public var backends: [BackendSpec?]?
    public var announce: VIPAnnouncement = .none
    public var onAllDown: AllDownPolicy = .drop

    public init(name: String? = nil, vip: IPAddress? = nil, transport: TransportProtocol? = nil,
                port: UInt16?? = nil, scheduler: SchedulerKind? = nil, maglevTableSize: Int? = nil,
                health: HealthCheckSpec? = nil, backends: [BackendSpec?]? = nil) {
        self.name = name
        self.vip = vip
        self.transport = transport
        self.port = port
        self.scheduler = scheduler
        self.maglevTableSize = maglevTableSize
        self.health = health
        self.backends = backends
    }

    public init(_ spec: ServiceSpec) {
        self.init(name: spec.name, vip: spec.key.vip, transport: spec.key.transport, port: .some(spec.key.port),
                  scheduler: spec.scheduler, maglevTableSize: spec.maglevTableSize, health: spec.health,
                  backends: spec.backends.map { $0 })
        announce = spec.announce
        onAllDown = spec.onAllDown
    }

    /// Known only when vip, protocol and port all are: what cross-service checks compare.
    public var key: ServiceKey? {
        guard let vip, let transport, let port else { return nil }
        return ServiceKey(vip: vip, transport: transport, port: port)
    }

    /// The finished service, when every part was read. A draft that has one may still have problems.
    public var spec: ServiceSpec? {
        guard let name, let key, let scheduler, let maglevTableSize, let backends else { return nil }
        let known = backends.compactMap { $0 }
        guard known.count == backends.count else { return nil }
        return ServiceSpec(name: name, key: key, scheduler: scheduler, maglevTableSize: maglevTableSize,
                           health: health, backends: known, announce: announce, onAllDown: onAllDown)
    }
}
