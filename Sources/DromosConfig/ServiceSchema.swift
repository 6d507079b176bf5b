import DromosBalancer
import DromosWire

/// A service and its backends: the fields, their names, defaults and rules, for the config file's
/// `services` and the control protocol alike.
extension SchemaReader {
    static let serviceKeys = ["name", "vip", "port", "protocol", "scheduler", "maglev_table_size", "health", "on_all_down", "backends", "announce"]
    static let healthKeys = ["type", "port", "interval", "timeout", "rise", "fall", "path", "host", "expect"]
    static let httpOnlyHealthKeys = ["path", "host", "expect"]
    static let backendKeys = ["address", "weight", "mac"]
    /// The control protocol's names from before it read services with this schema, refused with the
    /// name to use: a request that still sends them is told how to fix it.
    static let renamedHealthKeys = [
        "interval_ms": "the field is interval, a duration with its unit such as \"2s\" or \"2000ms\"",
        "timeout_ms": "the field is timeout, a duration with its unit such as \"1s\" or \"1000ms\"",
    ]

    /// One service, read and validated as far as it could be read (``ServiceDraft``): a service with an
    /// unreadable value still has its other problems reported. The rules between services are the
    /// caller's; the draft carries what they compare.
    func service(_ node: SchemaNode, at path: String) -> ServiceDraft? {
        guard let draft = serviceDraft(node, at: path) else { return nil }
        report(draft.problems(), within: path)
        return draft
    }

    private func serviceDraft(_ node: SchemaNode, at path: String) -> ServiceDraft? {
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
        let onAllDown = optional(fields, "on_all_down") { node, path in
            choice(node, at: path, from: AllDownPolicy.allCases.map { ($0.rawValue, $0) })
        }
        // Without probes nothing is ever down by a check, and forward never forwards to a backend forced
        // down: the setting would change nothing.
        if case .present = onAllDown, fields.has("health") ? draft.health?.probes == false : true {
            report(fields.path("on_all_down"), "applies only with a health check that sends probes (health: { type: tcp|http|dsr })")
        }
        draft.onAllDown = onAllDown.or(.drop) ?? .drop
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
    private func health(_ node: SchemaNode, at path: String, servicePort: UInt16??) -> HealthCheckSpec? {
        guard let fields = fields(node, at: path, allowed: Self.healthKeys, renamed: Self.renamedHealthKeys) else { return nil }
        let defaults = HealthCheckSpec(type: .tcp)
        let type = required(fields, "type") { node, path in
            choice(node, at: path, from: HealthCheckType.allCases.map { ($0.rawValue, $0) })
        }
        if type == HealthCheckType.none {
            for key in Self.healthKeys where key != "type" && fields.has(key) {
                report(fields.path(key), "type none sends no probes, so it takes no \(key)")
            }
            return HealthCheckSpec(type: .none)
        }
        if let type, type != .http {
            for key in Self.httpOnlyHealthKeys where fields.has(key) {
                report(fields.path(key), "applies only to type http, not \(type.rawValue)")
            }
        }
        let port = optional(fields, "port", port).map { Optional($0) }.or(servicePort ?? nil)
        let interval = optional(fields, "interval", duration).or(defaults.intervalMilliseconds)
        let timeout = optional(fields, "timeout", duration).or(defaults.timeoutMilliseconds)
        let rise = optional(fields, "rise") { integer($0, at: $1, expected: HealthCheckSpec.allowedRiseFall) }.or(defaults.rise)
        let fall = optional(fields, "fall") { integer($0, at: $1, expected: HealthCheckSpec.allowedRiseFall) }.or(defaults.fall)
        let requestPath = optional(fields, "path", text).or(defaults.path)
        let host = optional(fields, "host", text).orNone
        let expect = optional(fields, "expect", statusRange).or(defaults.expect)
        guard let port, let interval, let timeout else { return nil }
        return HealthCheckSpec(type: type ?? defaults.type, port: port, intervalMilliseconds: interval,
                               timeoutMilliseconds: timeout, rise: rise ?? defaults.rise, fall: fall ?? defaults.fall,
                               path: requestPath ?? defaults.path, host: host ?? nil, expect: expect ?? defaults.expect)
    }

    /// `expect`: one status (`200`) or an inclusive range (`"200-299"`). Range bounds are checked with
    /// the model.
    private func statusRange(_ node: SchemaNode, at path: String) -> ClosedRange<Int>? {
        let expected = "a status such as 200 or a range such as \"200-399\""
        guard case .scalar(let text, _) = node.content else {
            report(path, "must be \(expected), got \(node.kindDescription)")
            return nil
        }
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false).map { Self.decimal(String($0)) }
        guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil else {
            report(path, "must be \(expected), got \"\(text)\"")
            return nil
        }
        guard low <= high else {
            report(path, "must be a range from low to high, got \"\(text)\"")
            return nil
        }
        return low...high
    }

    /// A backend on its own (`backend add`): its fields, and the rules it has without its service.
    func backend(_ node: SchemaNode, at path: String) -> BackendSpec? {
        guard let backend = backendFields(node, at: path) else { return nil }
        report(backend.problems(), within: path)
        return backend
    }

    /// A backend's new weight on its own (`backend weight`), by the backends' weight rule.
    func weight(_ node: SchemaNode, at path: String) -> Int? {
        guard let weight = integer(node, at: path, expected: BackendSpec.allowedWeights) else { return nil }
        if let reason = BackendSpec.reasonNotAWeight(weight) {
            report(path, reason)
            return nil
        }
        return weight
    }

    /// An entry whose address cannot be read is nil, keeping its place so later indexes stay right.
    private func backends(_ node: SchemaNode, at path: String) -> [BackendSpec?]? {
        list(node, at: path)?.enumerated().map { index, node in backendFields(node, at: "\(path)[\(index)]") }
    }

    /// A weight or MAC that cannot be read stands in as the default: nothing is checked against them.
    private func backendFields(_ node: SchemaNode, at path: String) -> BackendSpec? {
        guard let fields = fields(node, at: path, allowed: Self.backendKeys) else { return nil }
        let address = required(fields, "address", address)
        let weight = optional(fields, "weight") { integer($0, at: $1, expected: BackendSpec.allowedWeights) }.or(1)
        let mac = optional(fields, "mac", mac).orNone
        guard let address else { return nil }
        return BackendSpec(address: address, weight: weight ?? 1, mac: mac ?? nil)
    }
}
