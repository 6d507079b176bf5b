public import DromosBalancer
public import DromosWire

/// Services and backends as JSON: what `service add` and the backend commands send, and what the state
/// file holds. They are read by the config file's schema (`ServiceSchema.swift`), so each field has one
/// name, one rule and one reason wherever it is written.
public enum ServiceCodec {
    /// In the schema's names, read back to the same service: what is absent (all ports, no health check,
    /// no static MAC) is left out, since the schema takes `null` for a value gone missing, and the table
    /// size is written only where the scheduler has a table, since the schema refuses it elsewhere.
    public static func encode(_ service: ServiceSpec) -> JSONValue {
        var line = JSONLine()
        line.add("name", .string(service.name))
        line.add("vip", .string(service.key.vip.description))
        if let port = service.key.port { line.add("port", .int(Int(port))) }
        line.add("protocol", .string(service.key.transport.description))
        line.add("scheduler", .string(service.scheduler.rawValue))
        if service.scheduler.isConsistentHash { line.add("maglev_table_size", .int(service.maglevTableSize)) }
        if let health = service.health { line.add("health", encode(health)) }
        line.add("backends", .array(service.backends.map(encode)))
        line.add("announce", .string(service.announce.rawValue))
        if service.health?.probes == true { line.add("on_all_down", .string(service.onAllDown.rawValue)) }
        return .object(line)
    }

    public static func encode(_ backend: BackendSpec) -> JSONValue {
        var line = JSONLine()
        line.add("address", .string(backend.address.description))
        line.add("weight", .int(backend.weight))
        if let mac = backend.mac { line.add("mac", .string(mac.description)) }
        return .object(line)
    }

    static func encode(_ health: HealthCheckSpec) -> JSONValue {
        var line = JSONLine()
        line.add("type", .string(health.type.rawValue))
        guard health.probes else { return .object(line) }
        if let port = health.port { line.add("port", .int(Int(port))) }
        line.add("interval", .string(DurationText.format(milliseconds: health.intervalMilliseconds)))
        line.add("timeout", .string(DurationText.format(milliseconds: health.timeoutMilliseconds)))
        line.add("rise", .int(health.rise))
        line.add("fall", .int(health.fall))
        if health.type == .http {
            line.add("path", .string(health.path))
            if let host = health.host { line.add("host", .string(host)) }
            line.add("expect", .string(HealthCheckSpec.statusText(health.expect)))
        }
        return .object(line)
    }

    /// A whole service with its own rules (name, VIP, backends, sizes); the pool's (unique names and
    /// keys) are the caller's.
    public static func decodeService(_ value: ParsedJSON, path: String) throws(ControlError) -> ServiceSpec {
        try decoded(value, at: path) { reader, node, path in reader.service(node, at: path)?.spec }
    }

    /// A backend with the rules it has on its own; those against its service's VIP and other backends
    /// are checked with the pool.
    public static func decodeBackend(_ value: ParsedJSON, path: String) throws(ControlError) -> BackendSpec {
        try decoded(value, at: path) { reader, node, path in reader.backend(node, at: path) }
    }

    /// A backend's address, to find it by.
    public static func decodeAddress(_ value: ParsedJSON, path: String) throws(ControlError) -> IPAddress {
        try decoded(value, at: path) { reader, node, path in reader.address(node, at: path) }
    }

    public static func decodeWeight(_ value: ParsedJSON, path: String) throws(ControlError) -> Int {
        try decoded(value, at: path) { reader, node, path in reader.weight(node, at: path) }
    }

    /// Every problem in one refusal, each `PATH: REASON` as the config file has them (under `path`
    /// instead of `services[N]`), so that a client fixes them all at once.
    private static func decoded<Value>(_ value: ParsedJSON, at path: String,
                                       _ read: (SchemaReader, SchemaNode, String) -> Value?) throws(ControlError) -> Value {
        let reader = SchemaReader()
        let result = read(reader, SchemaNode(json: value), path)
        guard let result, reader.problems.isEmpty else {
            throw ControlError(reader.problemsInFileOrder.map(\.description).joined(separator: "; "))
        }
        return result
    }
}
