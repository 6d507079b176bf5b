public import DromosBalancer
public import DromosConfig
import DromosDatapath
import DromosHost
import DromosSystem
public import DromosWire

/// The running pool: the services as configured or changed at run time, and which backends are
/// drained. Drain is kept apart from the weight so that `undrain` gives the backend its weight back.
public struct RuntimePool: Equatable, Sendable {
    public struct Member: Hashable, Sendable {
        public var service: String
        public var address: IPAddress
        public init(service: String, address: IPAddress) {
            self.service = service
            self.address = address
        }
    }

    public var services: [ServiceSpec]
    public var drained: Set<Member>
    /// Operator overrides of health (`backend down|up`), kept across restarts and reloads.
    public var forced: [Member: ForcedHealth]

    public init(services: [ServiceSpec], drained: Set<Member> = [], forced: [Member: ForcedHealth] = [:]) {
        self.services = services
        self.drained = drained
        self.forced = forced
    }

    public func forced(_ service: ServiceSpec, _ address: IPAddress) -> ForcedHealth? {
        forced[Member(service: service.name, address: address)]
    }

    /// What the forwarding table is built from: a drained backend has weight 0 there (it keeps its
    /// flows and takes no new ones).
    public var effectiveServices: [ServiceSpec] {
        services.map { service in
            var service = service
            for index in service.backends.indices
            where drained.contains(Member(service: service.name, address: service.backends[index].address)) {
                service.backends[index].weight = 0
            }
            return service
        }
    }

    public func serviceIndex(_ name: String) throws(ControlError) -> Int {
        guard let index = services.firstIndex(where: { $0.name == name }) else {
            let known = services.map(\.name).joined(separator: ", ")
            throw ControlError("unknown service \"\(name)\" (running: \(known.isEmpty ? "none" : known))")
        }
        return index
    }

    public func backendIndex(service: Int, address: IPAddress) throws(ControlError) -> Int {
        guard let index = services[service].backends.firstIndex(where: { $0.address == address }) else {
            throw ControlError("service \"\(services[service].name)\" has no backend \(address)")
        }
        return index
    }

    /// Drain marks and overrides of backends that are gone serve nothing; they would only resurrect on a
    /// later add.
    mutating func forgetDrainsOfRemovedBackends() {
        drained = drained.filter(contains)
        forced = forced.filter { contains($0.key) }
    }

    func contains(_ member: Member) -> Bool {
        services.contains { $0.name == member.service && $0.backends.contains { $0.address == member.address } }
    }
}
