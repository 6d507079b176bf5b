import DromosBalancer
import DromosWire

/// The config file's own fields, around the services that ServiceSchema.swift reads.
extension SchemaReader {
    static let topKeys = ["interface", "mac", "control", "state", "metrics", "flows", "datapath", "advertise", "services"]
    static let advertiseKeys = ["table", "stop_delay"]
    static let metricsKeys = ["listen"]
    static let datapathKeys = ["rx_ring"]
    static let controlKeys = ["socket", "group"]
    static let flowKeys = ["capacity", "tcp_timeout", "tcp_fin_timeout", "udp_timeout", "fragment_timeout"]

    /// The whole file; nil when anything was reported.
    func config(_ root: SchemaNode) -> DromosConfig? {
        guard let fields = fields(root, at: "", allowed: Self.topKeys) else { return nil }
        let interface = required(fields, "interface", interfaceName)
        let mac = optional(fields, "mac", sourceMAC)
        let control = optional(fields, "control", control)
        let state = optional(fields, "state", absolutePath)
        let metrics = optional(fields, "metrics", metrics)
        let flows = optional(fields, "flows", flows)
        let datapath = optional(fields, "datapath", datapath)
        let advertise = optional(fields, "advertise", advertise)
        let services = required(fields, "services", services)
        guard problems.isEmpty, let advertise = advertise.orNone, let interface, let mac = mac.orNone, let state = state.orNone,
              let receiveRing = datapath.or(nil),
              let control = control.or((DromosConfig.defaultControlSocket, nil)), let metrics = metrics.orNone,
              let flows = flows.or(FlowTableSpec()), let services else { return nil }
        return DromosConfig(interface: interface, mac: mac, controlSocket: control.socket, controlGroup: control.group,
                            statePath: state, receiveRing: receiveRing, balancer: BalancerSpec(services: services, flows: flows),
                            metricsListen: metrics, advertise: advertise)
    }

    /// The rules between services are checked as far as each service could be read, like its own.
    private func services(_ node: SchemaNode, at path: String) -> [ServiceSpec]? {
        guard let nodes = list(node, at: path) else { return nil }
        guard !nodes.isEmpty else {
            report(path, "must list at least one service")
            return nil
        }
        let drafts = nodes.enumerated().map { index, node in service(node, at: "\(path)[\(index)]") }
        report(BalancerSpec.conflicts(names: drafts.map { $0?.name }, keys: drafts.map { $0?.key }), within: "")
        let specs = drafts.compactMap { $0?.spec }
        return specs.count == drafts.count ? specs : nil
    }

    /// `datapath: { rx_ring: v2 | v3 }`; nil when the ring is not chosen here (the daemon's default or
    /// `--rx-ring` decides).
    private func datapath(_ node: SchemaNode, at path: String) -> ReceiveRingKind?? {
        guard let fields = fields(node, at: path, allowed: Self.datapathKeys) else { return nil }
        let ring = optional(fields, "rx_ring") { node, path in
            choice(node, at: path, from: ReceiveRingKind.allCases.map { ($0.rawValue, $0) })
        }
        return ring.orNone
    }

    /// `advertise: { table: 100, stop_delay: 1s }`.
    private func advertise(_ node: SchemaNode, at path: String) -> AdvertiseSpec? {
        guard let fields = fields(node, at: path, allowed: Self.advertiseKeys) else { return nil }
        let table = required(fields, "table") { (node: SchemaNode, path: String) -> UInt32? in
            let range = 1...Int(UInt32.max)
            guard let value = integer(node, at: path, expected: range) else { return nil }
            guard range.contains(value) else {
                report(path, "must be an integer from 1 to \(UInt32.max), got \(value)")
                return nil
            }
            if let name = AdvertiseSpec.reservedTables[UInt32(value)] {
                report(path, "must be a table of its own, not \(value) (the kernel's \(name) table: routes there would change "
                       + "this host's forwarding); pick an unused one such as 100")
                return nil
            }
            return UInt32(value)
        }
        let stopDelay = optional(fields, "stop_delay") { (node: SchemaNode, path: String) -> Int? in
            guard let milliseconds = duration(node, at: path) else { return nil }
            guard milliseconds <= AdvertiseSpec.maximumStopDelayMilliseconds else {
                report(path, "must be at most \(DurationText.format(milliseconds: AdvertiseSpec.maximumStopDelayMilliseconds)) "
                       + "(the service manager's stop timeout must cover it), got \(DurationText.format(milliseconds: milliseconds))")
                return nil
            }
            return milliseconds
        }.or(AdvertiseSpec.defaultStopDelayMilliseconds)
        guard let table, let stopDelay else { return nil }
        return AdvertiseSpec(table: table, stopDelayMilliseconds: stopDelay)
    }

    /// `metrics: {}` listens on the loopback default; leaving `metrics` out serves no endpoint.
    private func metrics(_ node: SchemaNode, at path: String) -> ListenAddress? {
        guard let fields = fields(node, at: path, allowed: Self.metricsKeys) else { return nil }
        return optional(fields, "listen") { (node: SchemaNode, path: String) -> ListenAddress? in
            guard let text = text(node, at: path) else { return nil }
            switch ListenAddress.parse(text) {
            case .success(let address): return address
            case .failure(let problem):
                report(path, problem.reason)
                return nil
            }
        }.or(ListenAddress.defaultMetrics)
    }

    /// Linux's rules (`dev_valid_name`): fewer than IFNAMSIZ (16) bytes, no '/', ':' or whitespace.
    private func interfaceName(_ node: SchemaNode, at path: String) -> String? {
        guard let name = text(node, at: path) else { return nil }
        if let reason = Self.interfaceNameProblem(name) {
            report(path, reason)
            return nil
        }
        return name
    }

    private static func interfaceNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "must not be empty" }
        if name.utf8.count > 15 { return "must be at most 15 bytes (a Linux interface name), got \"\(name)\"" }
        if name == "." || name == ".." { return "must be an interface name, got \"\(name)\"" }
        if name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) {
            return "must not contain '/', ':' or whitespace, got \"\(name)\""
        }
        return nil
    }

    private func sourceMAC(_ node: SchemaNode, at path: String) -> MACAddress? {
        guard let mac = mac(node, at: path) else { return nil }
        if let reason = mac.reasonNotUnicast {
            report(path, reason)
            return nil
        }
        return mac
    }

    /// Relative paths are refused: relative to the daemon's working directory or to this file is a guess
    /// either way, and systemd starts the daemon in `/`.
    private func absolutePath(_ node: SchemaNode, at path: String) -> String? {
        guard let text = text(node, at: path) else { return nil }
        guard text.hasPrefix("/") else {
            report(path, "must be an absolute path, got \"\(text)\"")
            return nil
        }
        return text
    }

    private func control(_ node: SchemaNode, at path: String) -> (socket: String, group: String?)? {
        guard let fields = fields(node, at: path, allowed: Self.controlKeys) else { return nil }
        let socket = optional(fields, "socket", socketPath).or(DromosConfig.defaultControlSocket)
        let group = optional(fields, "group", groupName).orNone
        guard let socket, let group else { return nil }
        return (socket, group)
    }

    /// `sun_path` holds 108 bytes with the terminating zero; a longer path fails only at bind time.
    private func socketPath(_ node: SchemaNode, at path: String) -> String? {
        guard let socket = absolutePath(node, at: path) else { return nil }
        guard socket.utf8.count <= 107 else {
            report(path, "must be at most 107 bytes (the limit of a Unix socket path), got \(socket.utf8.count)")
            return nil
        }
        return socket
    }

    /// Whether the group exists is a question for the host that runs the daemon, not for this check.
    private func groupName(_ node: SchemaNode, at path: String) -> String? {
        guard let name = text(node, at: path) else { return nil }
        guard (1...32).contains(name.utf8.count), !name.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace }) else {
            report(path, "must be a group name (1 to 32 bytes, no '/', ':' or whitespace), got \"\(name)\"")
            return nil
        }
        return name
    }

    /// A value that cannot be read stands in as its default: nothing else is checked against a flow
    /// setting, so this hides no problem and invents none, and validation still sees the others.
    private func flows(_ node: SchemaNode, at path: String) -> FlowTableSpec? {
        guard let fields = fields(node, at: path, allowed: Self.flowKeys) else { return nil }
        let defaults = FlowTableSpec()
        var isComplete = true
        func setting(_ key: String, _ fallback: Int, _ read: (SchemaNode, String) -> Int?) -> Int {
            guard let value = optional(fields, key, read).or(fallback) else {
                isComplete = false
                return fallback
            }
            return value
        }
        let spec = FlowTableSpec(
            capacity: setting("capacity", defaults.capacity) { integer($0, at: $1, expected: FlowTableSpec.allowedCapacities) },
            tcpEstablishedTimeoutMilliseconds: setting("tcp_timeout", defaults.tcpEstablishedTimeoutMilliseconds, duration),
            tcpClosingTimeoutMilliseconds: setting("tcp_fin_timeout", defaults.tcpClosingTimeoutMilliseconds, duration),
            udpTimeoutMilliseconds: setting("udp_timeout", defaults.udpTimeoutMilliseconds, duration),
            fragmentTimeoutMilliseconds: setting("fragment_timeout", defaults.fragmentTimeoutMilliseconds, duration))
        let found = spec.problems()
        report(found, within: path)
        return isComplete && found.isEmpty ? spec : nil
    }
}
