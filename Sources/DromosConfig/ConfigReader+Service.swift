import DromosBalancer
import DromosWire
import Yams

extension ConfigReader {
    static let serviceKeys = ["name", "vip", "port", "protocol", "scheduler", "maglev_table_size", "health", "backends", "announce"]
    static let healthKeys = ["type", "port", "interval", "timeout", "rise", "fall"]
    static let backendKeys = ["address", "weight", "mac"]

    /// Every service is validated as far as it could be read (``ServiceDraft``), and so are the conflicts
    /// between them: a service with an unreadable value still has its other problems reported.
    func services(_ node: Node, at path: String) -> [ServiceSpec]? {
        guard let nodes = list(node, at: path) else { return nil }
        guard !nodes.isEmpty else {
            report(path, "must list at least one service")
            return nil
        }
        let drafts = nodes.enumerated().map { index, node in
            let servicePath = "\(path)[\(index)]"
            let draft = service(node, at: servicePath)
            if let draft { report(draft.problems(), within: servicePath) }
            return draft
        }
        report(BalancerSpec.conflicts(names: drafts.map { $0?.name }, keys: drafts.map { $0?.key }), within: "")
        let specs = drafts.compactMap { $0?.spec }
        return specs.count == drafts.count ? specs : nil
    }

    private func service(_ node: Node, at path: String) -> ServiceDraft? {
        guard let fields = fields(node, at: path, allowed: Self.serviceKeys) else { return nil }
        var draft = ServiceDraft()
        draft.name = required(fields, "name", text)
        draft.vip = required(fields, "vip", address)
        draft.port = optional(fields, "port", port).orNone
        draft.transport = optional(fields, "protocol") { node, path in
            choice(node, at: path, from: TransportProtocol.allCases.map { ($0.description, $0) })
        }.or(.tcp)
        draft.scheduler = optional(fields, "scheduler") { node, path in
            choice(node, at: path, from: SchedulerKind.allCases.map { ($0.rawValue, $0) })
        }.or(.maglev)
        let tableSize = optional(fields, "maglev_table_size") { node, path in
            integer(node, at: path, expected: ServiceSpec.allowedMaglevTableSizes)
        }
        // A size given to a scheduler without a table is a misunderstanding worth pointing out.
        if case .present = tableSize, let scheduler = draft.scheduler, !scheduler.isConsistentHash {
            report(fields.path("maglev_table_size"), "applies only to the maglev and sh schedulers, not \(scheduler.rawValue)")
        }
        draft.maglevTableSize = tableSize.or(ServiceSpec.defaultMaglevTableSize)
        let servicePort = draft.port
        // An unreadable health check is left unchecked, like none at all; its problems are reported.
        draft.health = optional(fields, "health") { node, path in health(node, at: path, servicePort: servicePort) }.orNone ?? nil
        draft.backends = required(fields, "backends", backends)
        draft.announce = optional(fields, "announce") { node, path in
            choice(node, at: path, from: VIPAnnouncement.allCases.map { ($0.rawValue, $0) })
        }.or(.none) ?? .none
        return draft
    }

    /// Without a port of its own the check probes the service's port, written into the model so that what
    /// is printed and run is explicit. On all ports there is none to take; validation says so.
    ///
    /// A type, rise or fall that cannot be read stands in as its default, since nothing else is checked
    /// against them; a port, interval or timeout can make another check wrong, so the health check is then
    /// left unchecked.
    private func health(_ node: Node, at path: String, servicePort: UInt16??) -> HealthCheckSpec? {
        guard let fields = fields(node, at: path, allowed: Self.healthKeys) else { return nil }
        let defaults = HealthCheckSpec(type: .tcp)
        let type = required(fields, "type") { node, path in
            choice(node, at: path, from: HealthCheckType.allCases.map { ($0.rawValue, $0) })
        }
        let port = optional(fields, "port", port).map { Optional($0) }.or(servicePort ?? nil)
        let interval = optional(fields, "interval", duration).or(defaults.intervalMilliseconds)
        let timeout = optional(fields, "timeout", duration).or(defaults.timeoutMilliseconds)
        let rise = optional(fields, "rise") { integer($0, at: $1, expected: HealthCheckSpec.allowedRiseFall) }.or(defaults.rise)
        let fall = optional(fields, "fall") { integer($0, at: $1, expected: HealthCheckSpec.allowedRiseFall) }.or(defaults.fall)
        guard let port, let interval, let timeout else { return nil }
        return HealthCheckSpec(type: type ?? defaults.type, port: port, intervalMilliseconds: interval,
                               timeoutMilliseconds: timeout, rise: rise ?? defaults.rise, fall: fall ?? defaults.fall)
    }

    /// An entry whose address cannot be read is nil, keeping its place so later indexes stay right. A
    /// weight or MAC that cannot be read stands in as the default: nothing is checked against them.
    private func backends(_ node: Node, at path: String) -> [BackendSpec?]? {
        guard let nodes = list(node, at: path) else { return nil }
        return nodes.enumerated().map { index, node in
            let entryPath = "\(path)[\(index)]"
            guard let fields = fields(node, at: entryPath, allowed: Self.backendKeys) else { return nil }
            let address = required(fields, "address", address)
            let weight = optional(fields, "weight") { integer($0, at: $1, expected: BackendSpec.allowedWeights) }.or(1)
            let mac = optional(fields, "mac", mac).orNone
            guard let address else { return nil }
            return BackendSpec(address: address, weight: weight ?? 1, mac: mac ?? nil)
        }
    }
}
