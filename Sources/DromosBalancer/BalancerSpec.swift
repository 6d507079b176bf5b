/// Everything the balancer is told to do: the services and the flow table's limits.
///
/// Two services may share a VIP and protocol when one has a port and the other takes all ports: the one
/// with the port wins for its port at lookup, and the all-ports service gets the rest. Only the same VIP,
/// protocol and port twice (both with that port, or both on all ports) is a conflict.
public struct BalancerSpec: Hashable, Sendable {
    /// Empty is valid here: at run time the last service may be removed. The config file asks for one.
    public var services: [ServiceSpec]
    public var flows: FlowTableSpec

    public init(services: [ServiceSpec], flows: FlowTableSpec = FlowTableSpec()) {
        self.services = services
        self.flows = flows
    }

    public func problems() -> [FieldProblem] {
        var problems: [FieldProblem] = []
        for (index, service) in services.enumerated() {
            problems += service.problems().within("services[\(index)]")
        }
        problems += Self.conflicts(names: services.map(\.name), keys: services.map(\.key))
        problems += flows.problems().within("flows")
        return problems
    }

    /// Names and keys that more than one service claims, reported at each later claimant and naming the
    /// first. A nil stands for a service whose name or key could not be read: it keeps its index, so a
    /// reader that validates what it could read (``ServiceDraft``) still reports the right paths.
    public static func conflicts(names: [String?], keys: [ServiceKey?]) -> [FieldProblem] {
        var problems: [FieldProblem] = []
        var firstWithName: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            guard let name else { continue }
            if let first = firstWithName[name] {
                problems.append(FieldProblem(path: "services[\(index)].name", reason: "\"\(name)\" is the name of services[\(first)] already"))
            } else {
                firstWithName[name] = index
            }
        }
        var firstWithKey: [ServiceKey: Int] = [:]
        for (index, key) in keys.enumerated() {
            guard let key else { continue }
            if let first = firstWithKey[key] {
                problems.append(FieldProblem(path: "services[\(index)]", reason: "takes the same VIP, protocol and port (\(key)) as services[\(first)]"))
            } else {
                firstWithKey[key] = index
            }
        }
        return problems
    }
}
