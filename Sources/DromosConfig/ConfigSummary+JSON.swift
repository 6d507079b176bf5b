import DromosBalancer
import DromosWire

extension ConfigSummary {
    /// One JSON object, keys in the text form's order; durations in milliseconds (`_ms`), absent
    /// settings as null.
    public static func json(_ config: DromosConfig) -> String {
        var control = JSONLine()
        control.add("socket", .string(config.controlSocket))
        control.add("group", .optionalString(config.controlGroup))
        let flows = config.balancer.flows
        var flowObject = JSONLine()
        flowObject.add("capacity", .int(flows.capacity))
        flowObject.add("tcp_timeout_ms", .int(flows.tcpEstablishedTimeoutMilliseconds))
        flowObject.add("tcp_fin_timeout_ms", .int(flows.tcpClosingTimeoutMilliseconds))
        flowObject.add("udp_timeout_ms", .int(flows.udpTimeoutMilliseconds))
        flowObject.add("fragment_timeout_ms", .int(flows.fragmentTimeoutMilliseconds))
        var root = JSONLine()
        root.add("interface", .string(config.interface))
        root.add("mac", .optionalString(config.mac?.description))
        root.add("control", .object(control))
        root.add("state", .optionalString(config.statePath))
        if let metrics = config.metricsListen { root.add("metrics", .string(metrics.description)) }
        root.add("flows", .object(flowObject))
        var datapath = JSONLine()
        datapath.add("rx_ring", .optionalString(config.receiveRing?.rawValue))
        root.add("datapath", .object(datapath))
        if let advertise = config.advertise {
            var object = JSONLine()
            object.add("table", .int(Int(advertise.table)))
            object.add("stop_delay_ms", .int(advertise.stopDelayMilliseconds))
            root.add("advertise", .object(object))
        } else {
            root.add("advertise", .null)
        }
        root.add("services", .array(config.balancer.services.map(serviceValue)))
        return root.encoded + "\n"
    }

    private static func serviceValue(_ service: ServiceSpec) -> JSONValue {
        var object = JSONLine()
        object.add("name", .string(service.name))
        object.add("key", .string(service.key.description))
        object.add("vip", .string(service.key.vip.description))
        object.add("port", service.key.port.map { .int(Int($0)) } ?? .null)
        object.add("protocol", .string(service.key.transport.description))
        object.add("scheduler", .string(service.scheduler.rawValue))
        object.add("maglev_table_size", service.scheduler.isConsistentHash ? .int(service.maglevTableSize) : .null)
        object.add("health", service.health.map(healthValue) ?? .null)
        object.add("backends", .array(service.backends.map(backendValue)))
        object.add("announce", .string(service.announce.rawValue))
        object.add("on_all_down", .string(service.onAllDown.rawValue))
        return .object(object)
    }

    private static func healthValue(_ health: HealthCheckSpec) -> JSONValue {
        var object = JSONLine()
        object.add("type", .string(health.type.rawValue))
        object.add("port", health.port.map { .int(Int($0)) } ?? .null)
        object.add("interval_ms", .int(health.intervalMilliseconds))
        object.add("timeout_ms", .int(health.timeoutMilliseconds))
        object.add("rise", .int(health.rise))
        object.add("fall", .int(health.fall))
        object.add("path", health.type == .http ? .string(health.path) : .null)
        object.add("host", health.type == .http ? .optionalString(health.host) : .null)
        object.add("expect", health.type == .http ? .string(HealthCheckSpec.statusText(health.expect)) : .null)
        return .object(object)
    }

    private static func backendValue(_ backend: BackendSpec) -> JSONValue {
        var object = JSONLine()
        object.add("address", .string(backend.address.description))
        object.add("weight", .int(backend.weight))
        object.add("mac", .optionalString(backend.mac?.description))
        return .object(object)
    }
}
