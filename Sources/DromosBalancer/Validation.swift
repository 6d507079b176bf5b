import DromosWire

/// One thing wrong with a specification. `path` is relative to what was checked, in the configuration's
/// own spelling (`backends[3].address`, `health.timeout`), so the config loader and the control socket can
/// put it under their own prefix and the operator finds the field they wrote.
public struct FieldProblem: Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// The same problem as seen from a container: `weight` within `backends[1]` is `backends[1].weight`.
    public func within(_ prefix: String) -> FieldProblem {
        guard !prefix.isEmpty else { return self }
        if path.isEmpty { return FieldProblem(path: prefix, reason: reason) }
        let separator = path.hasPrefix("[") ? "" : "."
        return FieldProblem(path: prefix + separator + path, reason: reason)
    }

    public var description: String { path.isEmpty ? reason : "\(path): \(reason)" }
}

extension Array where Element == FieldProblem {
    func within(_ prefix: String) -> [FieldProblem] { map { $0.within(prefix) } }
}

extension ServiceSpec {
    public static let allowedMaglevTableSizes = 2...maximumMaglevTableSize
    public static let maximumNameLength = 64

    public func problems() -> [FieldProblem] { ServiceDraft(self).problems() }
}

extension ServiceDraft {
    public func problems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        if let name { problems += Self.nameProblems(name) }
        if let vip, let reason = vip.reasonNotUnicast { problems.append(FieldProblem(path: "vip", reason: reason)) }
        if port == .some(0) { problems.append(FieldProblem(path: "port", reason: "must be from 1 to 65535, got 0")) }
        if let maglevTableSize, !(ServiceSpec.allowedMaglevTableSizes ~= maglevTableSize && MaglevTable.isPrime(maglevTableSize)) {
            let range = ServiceSpec.allowedMaglevTableSizes
            problems.append(FieldProblem(
                path: "maglev_table_size",
                reason: "must be a prime from \(range.lowerBound) to \(range.upperBound) (such as 65537), got \(maglevTableSize)"))
        }
        if let health { problems += healthProblems(health).within("health") }
        if let backends { problems += backendProblems(backends) }
        return problems
    }

    private static func nameProblems(_ name: String) -> [FieldProblem] {
        func problem(_ reason: String) -> [FieldProblem] { [FieldProblem(path: "name", reason: reason)] }
        if name.isEmpty { return problem("must not be empty") }
        if name.count > ServiceSpec.maximumNameLength {
            return problem("must be at most \(ServiceSpec.maximumNameLength) characters, got \(name.count)")
        }
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "._-".unicodeScalars.contains(scalar))
        }
        if !allowed { return problem("may contain only letters, digits, '.', '_' and '-', got \"\(name)\"") }
        return []
    }

    /// A check without a port of its own probes the service's port; a service on all ports has none.
    private func healthProblems(_ health: HealthCheckSpec) -> [FieldProblem] {
        guard health.probes else { return [] }
        var problems = health.problems()
        if health.type == .dsr, transport == .udp {
            problems.append(FieldProblem(path: "type", reason: "dsr sends a TCP SYN to the VIP, so it checks tcp services only; "
                                         + "a udp service can check a TCP port of its backends with tcp or http"))
        }
        if health.port == nil, port == .some(nil) {
            problems.append(FieldProblem(path: "port", reason: "is required when the service has no port (it takes all ports)"))
        }
        return problems
    }

    private func backendProblems(_ backends: [BackendSpec?]) -> [FieldProblem] {
        guard !backends.isEmpty else { return [FieldProblem(path: "backends", reason: "must list at least one backend")] }
        var problems: [FieldProblem] = []
        var firstIndex: [IPAddress: Int] = [:]
        for (index, backend) in backends.enumerated() {
            guard let backend else { continue }
            var found = backend.problems()
            // One reason per address: a multicast backend is not also told it is not the VIP.
            if let vip, backend.address.reasonNotUnicast == nil {
                found += Self.addressAgainstVIP(backend.address, vip: vip)
            }
            if let first = firstIndex[backend.address] {
                found.append(FieldProblem(path: "address", reason: "\(backend.address) is listed already as backends[\(first)]"))
            } else {
                firstIndex[backend.address] = index
            }
            problems += found.within("backends[\(index)]")
        }
        return problems
    }

    private static func addressAgainstVIP(_ address: IPAddress, vip: IPAddress) -> [FieldProblem] {
        if address.isIPv4 != vip.isIPv4 {
            let family = vip.isIPv4 ? "IPv4" : "IPv6"
            return [FieldProblem(path: "address", reason: "must be \(family) like the VIP \(vip), got \(address)")]
        }
        if address == vip {
            return [FieldProblem(path: "address", reason: "must not be the VIP itself (\(vip))")]
        }
        return []
    }
}
