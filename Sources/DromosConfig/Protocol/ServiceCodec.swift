public import DromosBalancer
import DromosWire

/// Services and backends as JSON objects: one shape for `service add`, the `services`/`backends`
/// answers and the state file, with the config file's field names.
public enum ServiceCodec {
    public static func encode(_ service: ServiceSpec) -> JSONValue {
        var line = JSONLine()
        line.add("name", .string(service.name))
        line.add("vip", .string(service.key.vip.description))
        line.add("port", service.key.port.map { .int(Int($0)) } ?? .null)
        line.add("protocol", .string(service.key.transport.description))
        line.add("scheduler", .string(service.scheduler.rawValue))
        line.add("maglev_table_size", .int(service.maglevTableSize))
        line.add("health", service.health.map(encode) ?? .null)
        line.add("backends", .array(service.backends.map(encode)))
        line.add("announce", .string(service.announce.rawValue))
        return .object(line)
    }

    public static func encode(_ backend: BackendSpec) -> JSONValue {
        var line = JSONLine()
        line.add("address", .string(backend.address.description))
        line.add("weight", .int(backend.weight))
        line.add("mac", .optionalString(backend.mac?.description))
        return .object(line)
    }

    static func encode(_ health: HealthCheckSpec) -> JSONValue {
        var line = JSONLine()
        line.add("type", .string(health.type.rawValue))
        line.add("port", health.port.map { .int(Int($0)) } ?? .null)
        line.add("interval_ms", .int(health.intervalMilliseconds))
        line.add("timeout_ms", .int(health.timeoutMilliseconds))
        line.add("rise", .int(health.rise))
        line.add("fall", .int(health.fall))
        return .object(line)
    }

    /// A whole service; its own rules (name, VIP, backends, sizes) are checked here, the pool's
    /// (unique names and keys) by the caller.
    public static func decodeService(_ value: ParsedJSON, path: String) throws(ControlError) -> ServiceSpec {
        var fields = try JSONFields(value, path: path)
        let name = try fields.string("name")
        let vip = try fields.address("vip")
        let port = try fields.optionalInteger("port", in: 1...65_535).map(UInt16.init)
        let transportName = try fields.optionalString("protocol") ?? "tcp"
        guard let transport = TransportProtocol.allCases.first(where: { $0.description == transportName }) else {
            throw ControlError("field \"\(fields.name("protocol"))\" must be tcp or udp, got \"\(transportName)\"")
        }
        let schedulerName = try fields.optionalString("scheduler") ?? SchedulerKind.maglev.rawValue
        guard let scheduler = SchedulerKind(rawValue: schedulerName) else {
            let known = SchedulerKind.allCases.map(\.rawValue).joined(separator: ", ")
            throw ControlError("field \"\(fields.name("scheduler"))\" must be one of \(known), got \"\(schedulerName)\"")
        }
        let tableSize = try fields.optionalInteger("maglev_table_size", in: ServiceSpec.allowedMaglevTableSizes)
            ?? ServiceSpec.defaultMaglevTableSize
        let health = try fields.optional("health").map { (value: ParsedJSON) throws(ControlError) in
            try decodeHealth(value, path: fields.name("health"))
        }
        var backends: [BackendSpec] = []
        for (index, element) in (try fields.optionalArray("backends") ?? []).enumerated() {
            backends.append(try decodeBackend(element, path: fields.name("backends[\(index)]")))
        }
        let announceName = try fields.optionalString("announce") ?? VIPAnnouncement.none.rawValue
        guard let announce = VIPAnnouncement(rawValue: announceName) else {
            let known = VIPAnnouncement.allCases.map(\.rawValue).joined(separator: ", ")
            throw ControlError("field \"\(fields.name("announce"))\" must be one of \(known), got \"\(announceName)\"")
        }
        try fields.finish()
        let service = ServiceSpec(name: name, key: ServiceKey(vip: vip, transport: transport, port: port),
                                  scheduler: scheduler, maglevTableSize: tableSize, health: health, backends: backends,
                                  announce: announce)
        if let problem = service.problems().first {
            throw ControlError(problem.within(path).description)
        }
        return service
    }

    public static func decodeBackend(_ value: ParsedJSON, path: String) throws(ControlError) -> BackendSpec {
        var fields = try JSONFields(value, path: path)
        let address = try fields.address("address")
        let weight = try fields.optionalInteger("weight", in: BackendSpec.allowedWeights) ?? 1
        let mac = try fields.optionalMAC("mac")
        try fields.finish()
        let backend = BackendSpec(address: address, weight: weight, mac: mac)
        if let problem = backend.problems().first { throw ControlError(problem.within(path).description) }
        return backend
    }

    static func decodeHealth(_ value: ParsedJSON, path: String) throws(ControlError) -> HealthCheckSpec {
        var fields = try JSONFields(value, path: path)
        let typeName = try fields.string("type")
        guard let type = HealthCheckType(rawValue: typeName) else {
            throw ControlError("field \"\(fields.name("type"))\" must be tcp, got \"\(typeName)\"")
        }
        let port = try fields.optionalInteger("port", in: 1...65_535).map(UInt16.init)
        let day = 86_400_000
        let health = HealthCheckSpec(
            type: type, port: port, intervalMilliseconds: try fields.optionalInteger("interval_ms", in: 1...day) ?? 2_000,
            timeoutMilliseconds: try fields.optionalInteger("timeout_ms", in: 1...day) ?? 1_000,
            rise: try fields.optionalInteger("rise", in: HealthCheckSpec.allowedRiseFall) ?? 2,
            fall: try fields.optionalInteger("fall", in: HealthCheckSpec.allowedRiseFall) ?? 3)
        try fields.finish()
        if let problem = health.problems().first { throw ControlError(problem.within(path).description) }
        return health
    }
}
