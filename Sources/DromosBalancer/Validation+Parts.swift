public import DromosWire

extension BackendSpec {
    public static let allowedWeights = 0...maximumWeight

    /// What can be told from the backend alone; its service checks it against the VIP and its siblings.
    public func problems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if let reason = address.reasonNotUnicast { problems.append(FieldProblem(path: "address", reason: reason)) }
        if let reason = Self.reasonNotAWeight(weight) { problems.append(FieldProblem(path: "weight", reason: reason)) }
        if let reason = mac?.reasonNotUnicast { problems.append(FieldProblem(path: "mac", reason: reason)) }
        return problems
    }

    /// Why `weight` cannot be a backend's; nil when it can. On its own for a change of the weight alone.
    public static func reasonNotAWeight(_ weight: Int) -> String? {
        guard !(allowedWeights ~= weight) else { return nil }
        return "must be an integer from \(allowedWeights.lowerBound) to \(allowedWeights.upperBound), got \(weight)"
    }
}

extension HealthCheckSpec {
    public static let allowedRiseFall = 1...100

    public func problems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if port == 0 { problems.append(FieldProblem(path: "port", reason: "must be from 1 to 65535, got 0")) }
        if intervalMilliseconds <= 0 {
            problems.append(FieldProblem(path: "interval", reason: mustBePositive(intervalMilliseconds)))
        }
        if timeoutMilliseconds <= 0 {
            problems.append(FieldProblem(path: "timeout", reason: mustBePositive(timeoutMilliseconds)))
        } else if intervalMilliseconds > 0 && timeoutMilliseconds >= intervalMilliseconds {
            // Otherwise a slow backend has two probes in flight and its results arrive out of order.
            let interval = DurationText.format(milliseconds: intervalMilliseconds)
            let timeout = DurationText.format(milliseconds: timeoutMilliseconds)
            problems.append(FieldProblem(path: "timeout", reason: "must be shorter than the interval (\(interval)), got \(timeout)"))
        }
        for (path, count) in [("rise", rise), ("fall", fall)] where !(Self.allowedRiseFall ~= count) {
            let range = Self.allowedRiseFall
            problems.append(FieldProblem(path: path, reason: "must be an integer from \(range.lowerBound) to \(range.upperBound), got \(count)"))
        }
        if type == .http { problems += httpProblems() }
        return problems
    }

    public static let allowedStatuses = 100...599

    /// What goes on the request line and in the Host header must not be able to end either early.
    private func httpProblems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        func printable(_ text: String) -> Bool { text.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7f } }
        if !path.hasPrefix("/") || !printable(path) {
            problems.append(FieldProblem(path: "path", reason: "must start with / and hold no spaces or control characters, got \"\(path)\""))
        }
        if let host, host.isEmpty || !printable(host) {
            problems.append(FieldProblem(path: "host", reason: "must be a host name without spaces or control characters, got \"\(host)\""))
        }
        if !(Self.allowedStatuses ~= expect.lowerBound && Self.allowedStatuses ~= expect.upperBound) {
            problems.append(FieldProblem(
                path: "expect",
                reason: "must be statuses from \(Self.allowedStatuses.lowerBound) to \(Self.allowedStatuses.upperBound), got \(expect.lowerBound)-\(expect.upperBound)"))
        }
        return problems
    }
}

extension FlowTableSpec {
    /// 2^26: the table is preallocated per worker, and beyond this the memory is the problem, not the flows.
    public static let allowedCapacities = 1...67_108_864

    public func problems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if !(Self.allowedCapacities ~= capacity) {
            let range = Self.allowedCapacities
            problems.append(FieldProblem(path: "capacity", reason: "must be an integer from \(range.lowerBound) to \(range.upperBound), got \(capacity)"))
        }
        let timeouts = [
            ("tcp_timeout", tcpEstablishedTimeoutMilliseconds), ("tcp_fin_timeout", tcpClosingTimeoutMilliseconds),
            ("udp_timeout", udpTimeoutMilliseconds), ("fragment_timeout", fragmentTimeoutMilliseconds),
        ]
        for (path, milliseconds) in timeouts where milliseconds <= 0 {
            problems.append(FieldProblem(path: path, reason: mustBePositive(milliseconds)))
        }
        return problems
    }
}

private func mustBePositive(_ milliseconds: Int) -> String {
    "must be longer than zero, got \(DurationText.format(milliseconds: milliseconds))"
}

extension IPAddress {
    /// Why the address cannot be a VIP or a backend, each of which must be one host; nil when it can.
    public var reasonNotUnicast: String? {
        let kind: String? = switch self {
        case .v4(let address):
            switch address.rawValue {
            case 0: "unspecified"
            case 0xffff_ffff: "broadcast"
            case _ where address.rawValue >> 24 == 127: "loopback"
            case _ where address.rawValue >> 28 == 0xe: "multicast"
            default: nil
            }
        case .v6(let address):
            switch (address.high, address.low) {
            case (0, 0): "unspecified"
            case (0, 1): "loopback"
            case _ where address.high >> 56 == 0xff: "multicast"
            default: nil
            }
        }
        return kind.map { "must be a unicast address, got \(self) (\($0))" }
    }
}

extension MACAddress {
    /// Why the address cannot stand for one station in a frame we send (a group address would flood the
    /// segment, all zeros is no one); nil when it can.
    public var reasonNotUnicast: String? {
        guard isMulticast || self == .zero else { return nil }
        return "must be a unicast MAC address other than 00:00:00:00:00:00, got \(self)"
    }
}
