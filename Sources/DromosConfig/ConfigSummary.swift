import DromosBalancer
import DromosWire

/// The validated configuration as `dromos check-config` prints it: normalized, every default filled in.
///
/// The text form is itself a configuration the loader reads back to the same value, so an operator can
/// see exactly what a file means and keep the normalized form if they like; what YAML cannot say
/// (the service key, resolved-by-ARP MACs, settings that are off) is in comments.
public enum ConfigSummary {
    public static func text(_ config: DromosConfig) -> String {
        let services = config.balancer.services
        let backendCount = services.reduce(0) { $0 + $1.backends.count }
        let flows = config.balancer.flows
        var lines = ["# valid: \(counted(services.count, "service")), \(counted(backendCount, "backend")); defaults filled in"]
        lines.append("interface: \(yamlText(config.interface))")
        lines.append(setting("mac", config.mac?.description, otherwise: "the interface's own"))
        lines.append("control:")
        lines.append("  socket: \(yamlText(config.controlSocket))")
        lines.append(setting("  group", config.controlGroup, otherwise: "none (root only)"))
        lines.append(setting("state", config.statePath, otherwise: "none (runtime changes are not kept across restarts)"))
        if let metrics = config.metricsListen { lines.append("metrics:\n  listen: \(yamlText(metrics.description))") }
        lines.append("flows:")
        lines.append("  capacity: \(flows.capacity)")
        lines.append("  tcp_timeout: \(DurationText.format(milliseconds: flows.tcpEstablishedTimeoutMilliseconds))")
        lines.append("  tcp_fin_timeout: \(DurationText.format(milliseconds: flows.tcpClosingTimeoutMilliseconds))")
        lines.append("  udp_timeout: \(DurationText.format(milliseconds: flows.udpTimeoutMilliseconds))")
        lines.append("  fragment_timeout: \(DurationText.format(milliseconds: flows.fragmentTimeoutMilliseconds))")
        if let ring = config.receiveRing {
            lines += ["datapath:", "  rx_ring: \(ring.rawValue)"]
        } else {
            lines.append("# datapath: rx_ring: \(ReceiveRingKind.default.rawValue) (the default; dromos run --rx-ring overrides)")
        }
        if let advertise = config.advertise {
            lines += ["advertise:", "  table: \(advertise.table)",
                      "  stop_delay: \(DurationText.format(milliseconds: advertise.stopDelayMilliseconds))"]
        } else {
            lines.append("# advertise: none (no VIP routes for a routing daemon)")
        }
        lines.append("services:")
        for service in services { lines += serviceLines(service) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A setting that is off stays visible as a comment saying what that means.
    private static func setting(_ key: String, _ value: String?, otherwise meaning: String) -> String {
        guard let value else {
            let indent = key.prefix { $0 == " " }
            return "\(indent)# \(key.dropFirst(indent.count)): \(meaning)"
        }
        return "\(key): \(yamlText(value))"
    }

    private static func serviceLines(_ service: ServiceSpec) -> [String] {
        var lines = ["  - name: \(yamlText(service.name))  # \(service.key)"]
        lines.append("    vip: \(yamlText(service.key.vip.description))")
        lines.append(setting("    port", service.key.port.map(String.init), otherwise: "all"))
        lines.append("    protocol: \(service.key.transport)")
        lines.append("    scheduler: \(service.scheduler.rawValue)")
        if service.scheduler.isConsistentHash { lines.append("    maglev_table_size: \(service.maglevTableSize)") }
        lines.append(setting("    announce", service.announce == .none ? nil : service.announce.rawValue,
                             otherwise: "none (a router routes the VIP here)"))
        if let health = service.health {
            lines.append("    health: \(healthText(health))")
        } else {
            lines.append("    # health: none (backends count as up)")
        }
        if service.health?.probes == true {
            lines.append(setting("    on_all_down", service.onAllDown == .drop ? nil : service.onAllDown.rawValue,
                                 otherwise: "drop (no backend up: VIP traffic dropped as no-backend)"))
        }
        lines.append("    backends:")
        for backend in service.backends {
            var fields = ["address: \(yamlText(backend.address.description))", "weight: \(backend.weight)"]
            var notes: [String] = []
            if let mac = backend.mac {
                fields.append("mac: \(yamlText(mac.description))")
            } else {
                notes.append("mac by \(backend.address.isIPv4 ? "ARP" : "NDP")")
            }
            if backend.weight == 0 { notes.append("draining") }
            let comment = notes.isEmpty ? "" : "  # " + notes.joined(separator: ", ")
            lines.append("      - { \(fields.joined(separator: ", ")) }\(comment)")
        }
        return lines
    }

    private static func healthText(_ health: HealthCheckSpec) -> String {
        var fields = ["type: \(health.type.rawValue)"]
        guard health.probes else { return "{ type: none }  # no probes: backends count as up" }
        if let port = health.port { fields.append("port: \(port)") }
        fields += [
            "interval: \(DurationText.format(milliseconds: health.intervalMilliseconds))",
            "timeout: \(DurationText.format(milliseconds: health.timeoutMilliseconds))",
            "rise: \(health.rise)",
            "fall: \(health.fall)",
        ]
        if health.type == .http {
            fields.append("path: \(yamlText(health.path))")
            if let host = health.host { fields.append("host: \(yamlText(host))") }
            fields.append("expect: \(yamlText(HealthCheckSpec.statusText(health.expect)))")
        }
        return "{ " + fields.joined(separator: ", ") + " }"
    }

    /// Plain when nothing in it means something to YAML; otherwise double-quoted, which JSON's escaping
    /// gets right. MACs and IPv6 addresses are quoted, so that other YAML readers do not take them for
    /// base-60 numbers.
    /// Words a YAML reader takes for null or a boolean: printed plain, `name: null` would read back as a
    /// missing name.
    private static let reservedWords: Set<String> = ["null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"]

    static func yamlText(_ text: String) -> String {
        let isPlain = !text.isEmpty && !text.hasPrefix("-") && !reservedWords.contains(text.lowercased())
            && text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "._/-".unicodeScalars.contains(scalar))
        }
        return isPlain ? text : JSONValue.string(text).encoded
    }

    private static func counted(_ count: Int, _ noun: String) -> String { "\(count) \(noun)\(count == 1 ? "" : "s")" }
}
